"""The recurrent language model against its PyTorch twin, on the same budget (issue 15).

    python benchmarks/lm.py [--minutes 10] [--threads 1] [--data-dir D] [--json]

Both models are the ``lm`` recipe's shape (one LSTM layer, embeddings and hidden 256, dropout
0.3 on the embeddings and on the readout's input), start from the same weights, and train on
the same Multi30k English stream in the same windows (batch 32, truncated BPTT over 35 tokens,
the state carried across windows), with Adam (lr 2e-3) and global-norm clipping at 1.0, for
the same minutes of *training* time each (validation is not counted). The twin is eager
PyTorch: ``nn.Embedding``, ``nn.LSTM``, ``nn.Linear``, ``F.cross_entropy``. Then both are
scored on the validation and test2016 streams, state carried, in the same windows.

The figure to read is the validation perplexity after the budget: minis2s trains faster per
step, so within the same minutes it should reach a perplexity no worse than the twin's. The
two runs are sequential (the budget is wall time), so run it alone on the machine.
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


def train_minis2s(task, model, minutes):
    opt = Adam(model.params, lr=LR)
    batcher = StreamBatcher(join_stream(task.train), BATCH, BPTT)
    rng = B.DeviceRNG(0)
    state, steps, tokens, spent = None, 0, 0, 0.0
    while spent < 60 * minutes:
        b = batcher.next_batch() or batcher.next_batch()
        t0 = time.perf_counter()
        x, y, mask = B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype)
        _, state = model.forward_backward(x, y, mask, state if b.carry else None, rng=rng, train=True)
        clip_grad_norm(model.grads, CLIP)
        opt.step(model.grads)
        spent += time.perf_counter() - t0
        steps, tokens = steps + 1, tokens + int(b.mask.sum())
    return {"steps": steps, "train_seconds": round(spent, 1), "tokens_per_s": round(tokens / spent)}


def train_torch(task, twin, minutes):
    opt = torch.optim.Adam(twin.parameters(), lr=LR)
    batcher = StreamBatcher(join_stream(task.train), BATCH, BPTT)
    twin.train()
    state, steps, tokens, spent = None, 0, 0, 0.0
    while spent < 60 * minutes:
        b = batcher.next_batch() or batcher.next_batch()
        t0 = time.perf_counter()
        x, y = torch.from_numpy(b.x).long(), torch.from_numpy(b.y).long()
        mask = torch.from_numpy(b.mask).float()
        if state is not None and b.carry:
            state = tuple(s.detach() for s in state)  # truncated BPTT: the state is a constant
        else:
            state = None
        opt.zero_grad(set_to_none=False)
        loss, _, _, state = twin(x, y, mask, state)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), CLIP)
        opt.step()
        spent += time.perf_counter() - t0
        steps, tokens = steps + 1, tokens + int(b.mask.sum())
    return {"steps": steps, "train_seconds": round(spent, 1), "tokens_per_s": round(tokens / spent)}


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
    minutes = 1 / 3 if args.quick else args.minutes
    torch.set_num_threads(args.threads)
    task = lm_task(args.data_dir, "en")
    recipe = LMConfig(vocab=len(task.vocab), cell="lstm", emb=256, hidden=256, dropout=0.3)
    model = LanguageModel(recipe, seed=0)
    twin = TorchLM(model)
    print(f"Multi30k en: {len(task.vocab):,} words, {sum(map(len, task.train)):,} training tokens; "
          f"{model.n_params:,} parameters; {minutes:g} training minutes each, {args.threads} thread(s)")
    with threadpool_limits(args.threads):
        ours = train_minis2s(task, model, minutes)
        ours.update({f"val_{k}": v for k, v in lm_loss_and_ppl(model, task.vocab, task.val, "stream", BATCH, BPTT).items()})
        ours.update({f"test_{k}": v for k, v in lm_loss_and_ppl(model, task.vocab, task.test, "stream", BATCH, BPTT).items()})
    theirs = train_torch(task, twin, minutes)
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
