"""Training throughput against BLAS threads and competing CPU load (issue 11), in one run.

    python benchmarks/threads.py [--seconds 20] [--workloads dates multi30k] [--json]

For each workload (the demo's dates model; the Multi30k recipe's model) and each load (0, 1
or 2 competing processes, each a one-thread busy loop -- what a second training or a test
worker looks like to the scheduler), training runs at 1 and at 2 BLAS threads and with
``auto`` (minis2s/threads.py: the idle cores, re-measured every 5 s; what ``--threads``
sets) for ``--seconds`` each; the configurations
of one load alternate, so drift hits both. Reported: target tokens/s, the share relative to
the best idle figure, the share of this process's CPU time spent in the kernel (threads that
spin in sched_yield would show there), and how many CPUs the process kept busy.

Nothing else should run during the measurement; the competitors are the only load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from minis2s import backend as B  # noqa: E402
from minis2s.data import Batcher  # noqa: E402
from minis2s.functional.clip import clip_grad_norm  # noqa: E402
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig  # noqa: E402
from minis2s.optim import Adam  # noqa: E402
from minis2s.recipes import recipe  # noqa: E402
from minis2s.tasks import toy_task, translation_task  # noqa: E402
from minis2s.threads import BlasThreads  # noqa: E402
from minis2s.train import batch_to_device, real_rows  # noqa: E402

BURNER = "while True: pass"


def workload(name: str, data_dir=None):
    """(model, optimizer, batcher) of a workload's recipe, seed 0."""
    r = recipe(name)
    if name == "multi30k":
        task = translation_task(data_dir, "de", "en", min_freq=r["data"]["min_freq"])
    else:
        task = toy_task(name, seed=0, **r["data"])
    cfg = Seq2SeqConfig(src_vocab=len(task.src_vocab), tgt_vocab=len(task.tgt_vocab), **r["model"])
    model = Seq2Seq(cfg, seed=0)
    return model, Adam(model.params, lr=r["train"]["lr"]), Batcher(task.train, r["train"]["batch_size"], seed=0)


def train_for(model, opt, batcher, rng, seconds: float, threads: BlasThreads) -> dict:
    """Train for ``seconds`` of wall time; tokens/s and the kernel's share of CPU time."""
    tokens = steps = 0
    t_cpu, t0 = os.times(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        batch = batcher.next_batch()
        if batch is None:
            continue
        arrays = batch_to_device(batch, model.dtype)
        loss, _, _ = model.forward_backward(*arrays, rng=rng, train=True, real_rows=real_rows(arrays.tgt_mask))
        clip_grad_norm(model.grads.values(), 1.0)
        opt.step(model.grads)
        threads.update()  # what the trainer does: re-measure the machine every few seconds (auto)
        tokens += batch.n_tgt_tokens
        steps += 1
    wall = time.perf_counter() - t0
    t_end = os.times()
    user, system = t_end.user - t_cpu.user, t_end.system - t_cpu.system
    return {"tokens_per_s": tokens / wall, "steps_per_s": steps / wall,
            "system_share": system / max(user + system, 1e-9), "cpu_per_wall": (user + system) / wall,
            "threads_at_end": threads.threads}


def measure(names, loads, threads, seconds, data_dir, log) -> list[dict]:
    rows = []
    for name in names:
        model, opt, batcher = workload(name, data_dir)
        rng = B.DeviceRNG(0)
        with BlasThreads(1) as one:
            train_for(model, opt, batcher, rng, 3.0, one)  # warm-up: allocator, caches
        for load in loads:
            burners = [subprocess.Popen([sys.executable, "-c", BURNER]) for _ in range(load)]
            try:
                time.sleep(1.0)
                figures = {n: [] for n in threads}
                for _ in range(2):  # alternate: n1, n2, n1, n2 -- drift hits both
                    for n in threads:
                        with BlasThreads(n) as policy:
                            figures[n].append(train_for(model, opt, batcher, rng, seconds / 2, policy))
            finally:
                for p in burners:
                    p.kill()
                    p.wait()
            for n in threads:
                runs = figures[n]
                row = {"workload": name, "competitors": load, "threads": n,
                       **{k: sum(r[k] for r in runs) / len(runs) for k in runs[0]}}
                rows.append(row)
                log(f"{name:9s} competitors {load}  threads {n}:  {row['tokens_per_s']:8.0f} tok/s  "
                    f"kernel {row['system_share']:5.1%} of CPU time  {row['cpu_per_wall']:.2f} CPUs busy  "
                    f"(threads at the end: {row['threads_at_end']:.1f})")
    for name in names:
        idle = [r["tokens_per_s"] for r in rows if r["workload"] == name and r["competitors"] == min(loads)]
        best_idle = max(idle)  # "idle" is the lightest load measured
        for r in rows:
            if r["workload"] == name:
                r["vs_best_idle"] = r["tokens_per_s"] / best_idle
    return rows


def table(rows) -> str:
    lines = ["| workload | competing processes | BLAS threads | threads at the end | target tokens/s | "
             "vs best idle | kernel share of CPU time | CPUs busy |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['competitors']} | {r['threads']} | {r['threads_at_end']:g} | "
                     f"{r['tokens_per_s']:,.0f} | "
                     f"{r['vs_best_idle']:.2f} | {r['system_share']:.1%} | {r['cpu_per_wall']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="training time per configuration and load")
    p.add_argument("--workloads", nargs="+", default=["dates", "multi30k"], choices=["dates", "multi30k"])
    p.add_argument("--loads", nargs="+", type=int, default=[0, 1, 2], help="numbers of competing processes")
    p.add_argument("--threads", nargs="+", type=lambda t: t if t == "auto" else int(t), default=[1, 2, "auto"],
                   help="BLAS thread settings to compare: numbers and/or auto (minis2s's default)")
    p.add_argument("--data-dir", help="Multi30k (default: $MINIS2S_DATA, then ~/.cache/minis2s/multi30k)")
    p.add_argument("--json", action="store_true", help="last stdout line: the rows as JSON")
    args = p.parse_args(argv)
    print(f"command: python benchmarks/threads.py {' '.join(sys.argv[1:])}")
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.2f}")
    rows = measure(args.workloads, args.loads, args.threads, args.seconds, args.data_dir, print)
    print(table(rows))
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
