"""minis2s on CuPy against PyTorch CUDA eager: the reference model's training step on one GPU.

    python benchmarks/gpu.py [--steps 60] [--batch-size 64] [--data-dir D] [--json]
    python benchmarks/gpu.py --device cpu --steps 4     # the same code on NumPy / torch CPU
    python benchmarks/gpu.py --arch transformer         # the Transformer against torch's layers

The reference model, batches, twin and timing are ``speed.py``'s (see its docstring): both
sides start from the same weights and run alternately on the same Multi30k batches. Each
step is timed between two device synchronisations (``cupy``'s and ``torch.cuda``'s), so
queued kernels are counted where they run; minis2s's step itself never synchronises except
for its token-id range check. Prints ms/step, target tokens/s, GFLOP/s and the ratio;
``--json`` makes the last line those figures. Needs the ``gpu`` and ``test`` extras and a
CUDA GPU; ``--device cpu`` runs the same code path on the host, to check the script.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import speed
from speed import B, np, torch


def _sync_for(device: str):
    if device == "cpu":
        return None
    import cupy

    def sync():
        cupy.cuda.Device().synchronize()
        torch.cuda.synchronize()

    return sync


def _enqueue_ms(pair, items, sync) -> float:
    """Mean host milliseconds to queue one minis2s step, its GPU work not waited for."""
    total = 0.0
    for ours, _ in items:
        if sync:
            sync()
        t0 = time.perf_counter()
        pair.step_minis2s(ours)
        total += time.perf_counter() - t0
    if sync:
        sync()
    return 1e3 * total / len(items)


def _device_name(device: str) -> str:
    if device == "cpu":
        return "CPU (NumPy and torch CPU: a check of the script, not a GPU figure)"
    import cupy

    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return f"{name}, CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--steps", type=int, default=60, help="timed steps per framework")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--data-dir", help="Multi30k files (default: $MINIS2S_DATA, then ../shared/datasets/multi30k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--arch", choices=["recurrent", "transformer"], default="recurrent")
    ap.add_argument("--json", action="store_true", help="last stdout line: the figures as JSON")
    args = ap.parse_args(argv)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("gpu.py: PyTorch sees no CUDA GPU here; run on a GPU machine with a CUDA build "
                     "of torch, or pass --device cpu to check the script")
        if not B.gpu_available():
            sys.exit("gpu.py: CuPy cannot use a GPU here; pip install -e '.[gpu]' on a CUDA 12 machine "
                     "(the README's GPU section says which wheel), or pass --device cpu")
    B.set_backend("cupy" if args.device == "cuda" else "numpy")
    started = time.perf_counter()
    corpus = speed.load_corpus(args.data_dir, args.seed)
    print(f"device: {_device_name(args.device)}; torch {torch.__version__}")
    print(f"data: {corpus.description}")
    make = speed.TransformerPair if args.arch == "transformer" else speed.Pair
    pair = make(corpus.n_src, corpus.n_tgt, args.seed, device=args.device)
    batches = speed.training_batches(corpus, args.batch_size, args.warmup + args.steps, args.seed)
    check = pair.check(batches[0])
    items = [speed.Pair.inputs(b, args.device) for b in batches]
    sync = _sync_for(args.device)
    t_ours, t_theirs = speed.alternate(pair, items, args.warmup, sync=sync)
    enqueue = _enqueue_ms(pair, items[args.warmup:args.warmup + 10], sync)
    timed = batches[args.warmup:]
    tokens = sum(b.n_tgt_tokens for b in timed)
    dense = lambda b: sum(speed.train_flops(pair.cfg, len(b), b.src.shape[1], b.tgt_in.shape[1]).values())  # noqa: E731
    # on a GPU minis2s's readout runs on all B T rows (minis2s.train.real_rows), like the twin's
    flops = float("nan") if args.arch == "transformer" else sum(dense(b) for b in timed)  # counted for the LSTM only
    res = {
        "device": _device_name(args.device), "arch": args.arch, "steps": len(t_ours), "warmup": args.warmup,
        "batch_size": args.batch_size, "twin_check": check,
        "minis2s_ms_per_step": 1e3 * t_ours.mean(), "twin_ms_per_step": 1e3 * t_theirs.mean(),
        "minis2s_ms_median": 1e3 * float(np.median(t_ours)), "twin_ms_median": 1e3 * float(np.median(t_theirs)),
        "minis2s_tokens_per_s": tokens / t_ours.sum(), "twin_tokens_per_s": tokens / t_theirs.sum(),
        "minis2s_gflops": flops / t_ours.sum() / 1e9, "twin_gflops": flops / t_theirs.sum() / 1e9,
        "speedup": t_theirs.sum() / t_ours.sum(),
        "speedup_median_per_batch": float(np.median(t_theirs / t_ours)),
        "minis2s_enqueue_ms_per_step": enqueue,
    }
    print(f"same math: loss minis2s {check['loss_minis2s']:.6f} vs twin {check['loss_twin']:.6f}, "
          f"gradients max rel diff {check['grad_max_rel_diff']:.1e} (dropout off, batch 0)")
    print(f"training step, batch {args.batch_size}, {res['steps']} steps each after {args.warmup} warm-up, alternating")
    print(f"{'':10} {'ms/step':>9} {'median':>9} {'tgt tok/s':>10} {'GFLOP/s':>8}")
    for who in ("minis2s", "twin"):
        print(f"{who:10} {res[who + '_ms_per_step']:9.1f} {res[who + '_ms_median']:9.1f} "
              f"{res[who + '_tokens_per_s']:10.0f} {res[who + '_gflops']:8.1f}")
    print(f"speed-up minis2s / twin: {res['speedup']:.2f}x (total time), "
          f"{res['speedup_median_per_batch']:.2f}x (median of per-batch ratios)   [goal >= 1.0x]")
    print(f"minis2s's host time to queue a step: {enqueue:.1f} ms (near ms/step: the GPU waits for "
          "Python to launch kernels; well below: the GPU's work sets the pace)")
    print(f"{time.perf_counter() - started:.0f} s")
    if args.json:
        print(json.dumps(res, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
