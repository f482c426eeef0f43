"""Toy-task targets of the training issue, measured side by side in one run.

    python benchmarks/toy_tasks.py [--seconds 60] [--json]

dates: the recipe with attention, then the same model without attention, each trained for the
same wall-clock budget; reverse (length up to 20) with its recipe. Prints held-out exact match,
token accuracy, steps and seconds for each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minis2s.train import build_run, held_out_summary  # noqa: E402
from minis2s.recipes import recipe  # noqa: E402
from minis2s.train import TrainConfig  # noqa: E402


def run(task: str, seconds: float, seed: int, **model_over) -> dict:
    r = recipe(task)
    train = {k: v for k, v in r["train"].items() if k not in ("epochs", "max_steps", "minutes")}
    tc = TrainConfig(**{**train, "minutes": seconds / 60.0, "seed": seed})
    task_cfg = {"kind": "toy", "name": task, "seed": seed, "data": r["data"]}
    with tempfile.TemporaryDirectory() as out:
        t, trainer = build_run(task_cfg, {**r["model"], **model_over}, tc, out, quiet=True)
        summary = trainer.fit()
        summary.update(held_out_summary(trainer.model, t, out))
    summary.pop("run_dir")
    summary.pop("checkpoint")
    return {"task": task, **model_over, **summary}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="training budget per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [
        run("dates", args.seconds, args.seed),
        run("dates", args.seconds, args.seed, attention="none"),
        run("reverse", args.seconds, args.seed),
    ]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print(f"{'task':<8} {'attention':<10} {'exact':>8} {'token acc':>10} {'steps':>7} {'seconds':>8}")
    for r in rows:
        print(f"{r['task']:<8} {r.get('attention', 'recipe'):<10} {r['exact_match']:8.2%} "
              f"{r['token_accuracy']:10.2%} {r['steps']:7d} {r['train_seconds']:8.1f}")
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
