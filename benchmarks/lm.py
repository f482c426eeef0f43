"""The recurrent language model against its PyTorch twin, on the same budget (issue 15).

    python benchmarks/lm.py [--minutes 10] [--threads 1] [--data-dir D] [--json]

Both models are the ``lm`` recipe's shape (one LSTM layer, embeddings and hidden 256, dropout
0.3 on the embeddings and on the readout's input), start from the same weights, and train on
the same Multi30k English stream in the same windows (batch 32, truncated BPTT over 35 tokens,
the state carried across windows), with Adam (lr 2e-3) and global-norm clipping at 1.0, for
the same minutes of *training* time each (validation is not counted), their steps alternating
(each until its own clock reaches the budget) so that a change in the machine's speed falls on
both alike. The twin is eager
PyTorch: ``nn.Embedding``, ``nn.LSTM``, ``nn.Linear``, ``F.cross_entropy``. Then both are
scored on the validation and test2016 streams, state carried, in the same windows.

The figure to read is the validation perplexity after the budget: minis2s trains faster per
step, so within the same minutes it should reach a perplexity no worse than the twin's. Run
it alone on the machine: the budget is wall time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from minis2s import backend as B  # noqa: E402
from minis2s.allocator import reuse_freed_memory  # noqa: E402
from minis2s.data.lm import StreamBatcher, join_stream, stream_windows  # noqa: E402
from minis2s.functional.clip import clip_grad_norm  # noqa: E402
from minis2s.models.lm import LanguageModel, LMConfig  # noqa: E402
from minis2s.optim import Adam  # noqa: E402
from minis2s.tasks import lm_loss_and_ppl, lm_task  # noqa: E402

BATCH, BPTT, LR, CLIP = 32, 35, 2e-3, 1.0


class TorchLM(torch.nn.Module):
    """The same model in eager PyTorch, from minis2s's weights (gates i, f, g, o in both)."""

    def __init__(self, model: LanguageModel):
        super().__init__()
        cfg, p = model.cfg, {k: torch.tensor(B.to_host(v)) for k, v in model.params.items()}
        self.emb = torch.nn.Embedding(cfg.vocab, cfg.emb, padding_idx=cfg.pad_id)
        self.rnn = torch.nn.LSTM(cfg.emb, cfg.hidden, num_layers=cfg.layers, batch_first=True)
        self.out = torch.nn.Linear(cfg.hidden, cfg.vocab)
        self.drop = torch.nn.Dropout(cfg.dropout)
        with torch.no_grad():
            self.emb.weight.copy_(p["emb"])
            for l in range(cfg.layers):
                for ours, theirs in (("Wx", "weight_ih"), ("Wh", "weight_hh"), ("bx", "bias_ih"), ("bh", "bias_hh")):
                    getattr(self.rnn, f"{theirs}_l{l}").copy_(p[f"rnn.l{l}.{ours}"])
            self.out.weight.copy_(p["out.W"])
            self.out.bias.copy_(p["out.b"])

    def forward(self, x, y, mask, state):
        hs, state = self.rnn(self.drop(self.emb(x)), state)
        logits = self.out(self.drop(hs))
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
        m = mask.reshape(-1)
        return (nll * m).sum() / m.sum().clamp(min=1), (nll * m).sum(), m.sum(), state


class Trainer:
    """One side's training: ``step`` trains on the next window and returns its seconds."""

    def __init__(self, task):
        self.batcher = StreamBatcher(join_stream(task.train), BATCH, BPTT)
        self.state, self.steps, self.tokens, self.spent = None, 0, 0, 0.0

    def step(self) -> None:
        b = self.batcher.next_batch() or self.batcher.next_batch()
        t0 = time.perf_counter()
        self.train_on(b)
        self.spent += time.perf_counter() - t0
        self.steps, self.tokens = self.steps + 1, self.tokens + int(b.mask.sum())

    def figures(self) -> dict:
        return {"steps": self.steps, "train_seconds": round(self.spent, 1),
                "tokens_per_s": round(self.tokens / self.spent)}


class Minis2sTrainer(Trainer):
    def __init__(self, task, model):
        super().__init__(task)
        self.model, self.opt, self.rng = model, Adam(model.params, lr=LR), B.DeviceRNG(0)

    def train_on(self, b):
        model = self.model
        x, y, mask = B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype)
        _, self.state = model.forward_backward(x, y, mask, self.state if b.carry else None, rng=self.rng, train=True)
        clip_grad_norm(model.grads, CLIP)
        self.opt.step(model.grads)


class TorchTrainer(Trainer):
    def __init__(self, task, twin):
        super().__init__(task)
        self.twin, self.opt = twin, torch.optim.Adam(twin.parameters(), lr=LR)
        twin.train()  # until torch_ppl scores it, after the training

    def train_on(self, b):
        x, y = torch.from_numpy(b.x).long(), torch.from_numpy(b.y).long()
        mask = torch.from_numpy(b.mask).float()
        # truncated BPTT: the carried state is a constant
        state = tuple(s.detach() for s in self.state) if self.state is not None and b.carry else None
        self.opt.zero_grad(set_to_none=False)
        loss, _, _, self.state = self.twin(x, y, mask, state)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.twin.parameters(), CLIP)
        self.opt.step()


def train_side_by_side(ours: Trainer, theirs: Trainer, minutes: float) -> None:
    """Steps of the two alternate, each until its own clock reaches the budget, so a change in
    the machine's speed (other jobs, other tenants) falls on both alike."""
    budget = 60 * minutes
    while ours.spent < budget or theirs.spent < budget:
        for side in (ours, theirs) if ours.steps % 2 == 0 else (theirs, ours):  # who goes first flips
            if side.spent < budget:
                side.step()


@torch.no_grad()
def torch_ppl(task, twin, sentences):
    twin.eval()
    ids = [task.vocab.encode(s) for s in sentences]
    nll, n, state = 0.0, 0.0, None
    for b in stream_windows(join_stream(ids), BATCH, BPTT):
        x, y, mask = torch.from_numpy(b.x).long(), torch.from_numpy(b.y).long(), torch.from_numpy(b.mask).float()
        _, s, k, state = twin(x, y, mask, state if b.carry else None)
        nll, n = nll + float(s), n + float(k)
    return {"loss": nll / n, "ppl": math.exp(nll / n)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="training minutes for each model (default 10)")
    ap.add_argument("--threads", type=int, default=1, help="BLAS / torch threads for both (default 1)")
    ap.add_argument("--data-dir", default=os.environ.get("MINIS2S_DATA"), help="the Multi30k folder")
    ap.add_argument("--quick", action="store_true", help="20 seconds each: a check of the script")
    ap.add_argument("--json", action="store_true", help="print one final JSON line of the figures")
    args = ap.parse_args(argv)
    reuse_freed_memory()  # as the trainer does (minis2s/allocator.py), for both sides
    minutes = 1 / 3 if args.quick else args.minutes
    torch.set_num_threads(args.threads)
    task = lm_task(args.data_dir, "en")
    recipe = LMConfig(vocab=len(task.vocab), cell="lstm", emb=256, hidden=256, dropout=0.3)
    model = LanguageModel(recipe, seed=0)
    twin = TorchLM(model)
    print(f"Multi30k en: {len(task.vocab):,} words, {sum(map(len, task.train)):,} training tokens; "
          f"{model.n_params:,} parameters; {minutes:g} training minutes each, {args.threads} thread(s)")
    ours_t, theirs_t = Minis2sTrainer(task, model), TorchTrainer(task, twin)
    with threadpool_limits(args.threads):
        train_side_by_side(ours_t, theirs_t, minutes)
        ours, theirs = ours_t.figures(), theirs_t.figures()
        ours.update({f"val_{k}": v for k, v in lm_loss_and_ppl(model, task.vocab, task.val, "stream", BATCH, BPTT).items()})
        ours.update({f"test_{k}": v for k, v in lm_loss_and_ppl(model, task.vocab, task.test, "stream", BATCH, BPTT).items()})
    theirs.update({f"val_{k}": v for k, v in torch_ppl(task, twin, task.val).items()})
    theirs.update({f"test_{k}": v for k, v in torch_ppl(task, twin, task.test).items()})
    print(f"{'':8s} {'steps':>7s} {'tok/s':>8s} {'val ppl':>9s} {'test ppl':>9s}")
    for name, r in (("minis2s", ours), ("pytorch", theirs)):
        print(f"{name:8s} {r['steps']:7d} {r['tokens_per_s']:8,d} {r['val_ppl']:9.2f} {r['test_ppl']:9.2f}")
    ratio = {"speed": ours["tokens_per_s"] / theirs["tokens_per_s"], "val_ppl": ours["val_ppl"] / theirs["val_ppl"]}
    print(f"minis2s / pytorch: {ratio['speed']:.2f}x the tokens per second, {ratio['val_ppl']:.3f}x the validation perplexity")
    if args.json:
        print(json.dumps({"minutes": minutes, "threads": args.threads, "minis2s": ours, "pytorch": theirs, "ratio": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
