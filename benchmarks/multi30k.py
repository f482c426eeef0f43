"""Multi30k translation with the default recipe: BLEU after 15, 30 and 60 minutes of training.

    python benchmarks/multi30k.py [--src de --tgt en] [--arch transformer] [--bpe N] [--minutes 60]
                                  [--data-dir D] [--out DIR] [--json]

Trains with ``minis2s/recipes.py``'s ``multi30k`` recipe for ``--arch`` (exactly what
``python -m minis2s train --data multi30k [--arch A] [--bpe N]`` does), keeping every checkpoint. For each milestone
it takes the checkpoint with the best validation BLEU among those reached by then and reports
test2016 BLEU (greedy and beam 5; sacrebleu-equivalent, tokenize none, against the tokenized
lower-cased references) and perplexity. With ``--bpe N`` the model reads and writes subword
pieces, but BLEU is still scored on words (the outputs are read back into words first), so it
compares with the word-level figures; the perplexity is per piece and does not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minis2s import checkpoint as ckpt  # noqa: E402
from minis2s.train import build_run  # noqa: E402
from minis2s.recipes import bpe_merges, recipe  # noqa: E402
from minis2s.tasks import bleu, bleu_and_ppl  # noqa: E402
from minis2s.train import TrainConfig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="de")
    ap.add_argument("--tgt", default="en")
    ap.add_argument("--arch", choices=["recurrent", "transformer"], default="recurrent")
    ap.add_argument("--bpe", type=int, metavar="N",
                    help="learn N joint BPE merges and train on subwords (default: the recipe's; 0: words)")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--milestones", type=float, nargs="+", default=[15.0, 30.0, 60.0])
    ap.add_argument("--data-dir")
    ap.add_argument("--out", default="runs/bench-multi30k")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    if args.bpe is not None and args.bpe < 0:
        ap.error(f"--bpe must be a number of merges >= 0 (0: words), got {args.bpe}")
    r = recipe("multi30k", args.arch)
    task_cfg = {"kind": "translation", "name": "multi30k", "src": args.src, "tgt": args.tgt,
                "data_dir": args.data_dir, "min_freq": r["data"]["min_freq"]}
    bpe = bpe_merges(r, args.bpe)
    if bpe:
        task_cfg["bpe"] = bpe
    model_cfg = {**r["model"], **({"arch": "transformer"} if args.arch == "transformer" else {})}
    tc = TrainConfig(**{**r["train"], "minutes": args.minutes, "keep_checkpoints": 1000})
    task, trainer = build_run(task_cfg, model_cfg, tc, args.out)
    started = time.time()
    summary = trainer.fit()
    history = [h for h in trainer.state.history if "val_bleu" in h]
    rows = []
    for m in sorted(set(min(x, args.minutes) for x in args.milestones)):
        reached = [h for h in history if h["train_seconds"] <= m * 60 + 1]
        if not reached:
            continue
        best = max(reached, key=lambda h: (h["val_bleu"], -h["val_loss"]))
        c = ckpt.load_checkpoint(Path(args.out) / "checkpoints" / f"step-{best['step']:08d}")
        trainer.model.load_params(c.params)
        greedy = bleu_and_ppl(trainer.model, task, task.test, beam=1)
        beam5 = bleu(trainer.model, task, task.test, beam=5)  # perplexity does not depend on the beam
        rows.append({"minutes": m, "step": best["step"], "val_bleu_greedy": best["val_bleu"],
                     "val_ppl": round(best["val_ppl"], 2), "test_bleu_greedy": greedy["bleu"],
                     "test_bleu_beam5": beam5, "test_ppl": round(greedy["ppl"], 2)})
    units = f"BPE {bpe} merges" if bpe else "words"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {args.src}->{args.tgt}; {args.arch}, {units}; "
          f"{summary['steps']} steps, {summary['epochs']} epochs, {summary['tokens_per_s']:.0f} target tokens/s; "
          f"wall {time.time() - started:.0f} s")
    print(f"{'minutes':>7} {'step':>6} {'val BLEU':>9} {'val PPL':>8} {'test greedy':>12} {'test beam5':>11} {'test PPL':>9}")
    for row in rows:
        print(f"{row['minutes']:7.0f} {row['step']:6d} {row['val_bleu_greedy']:9.2f} {row['val_ppl']:8.2f} "
              f"{row['test_bleu_greedy']:12.2f} {row['test_bleu_beam5']:11.2f} {row['test_ppl']:9.2f}")
    if args.json:
        print(json.dumps({"arch": args.arch, "bpe": bpe, "summary": summary, "milestones": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
