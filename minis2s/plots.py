"""Figures: loss curves from a run's ``metrics.jsonl`` and attention heatmaps (plots extra).

matplotlib is optional; :func:`available` says whether it is installed. Files are written
with the non-interactive Agg backend when no display is set, and inline in notebooks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import backend as B
from .errors import UserError


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("plots need matplotlib: pip install -e '.[plots]'") from None
    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_metrics(run_dir) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise UserError(f"{path} does not exist: --run must be a training run directory (train --out DIR)")
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def loss_curves(run_dir, out=None, ax=None):
    """Training loss per logged step and validation loss per evaluation; returns the path."""
    records = read_metrics(run_dir)
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 4))
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]
    if train:
        ax.plot(*zip(*train), label="train loss", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy per token")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if own and out is not None:
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return Path(out)
    return ax


def attention_matrix(translator, sentence: str):
    """Greedy-decode one sentence; returns (source tokens, output tokens, weights (T, S))."""
    from .data import batches_for_inference
    from .decode import greedy

    model = translator.model
    tokens = translator.src_tokenizer.tokenize(sentence)
    if not tokens:
        raise UserError("the sentence is empty: give some text to translate")
    if model.cfg.attention == "none":
        raise UserError("this model has no attention (trained with --attention none): nothing to plot")
    (batch,), _ = batches_for_inference([translator.src_vocab.encode(tokens)], 1)
    src = B.to_device(batch.src)
    mask = B.to_device(batch.src_mask, model.params["dec.emb"].dtype)
    out = greedy(model, src, mask, translator.src_vocab.sos_id, translator.src_vocab.eos_id,
                 return_attention=True)
    outputs = translator.tgt_vocab.decode(out.ids[0]) + ["<eos>"]
    return tokens + ["<eos>"], outputs, out.attention[0][: len(outputs), : len(tokens) + 1]


def attention_heatmap(translator, sentence: str, out=None, ax=None):
    """Heatmap of attention weights: rows are output tokens, columns source tokens."""
    src, tgt, weights = attention_matrix(translator, sentence)
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(0.35 * len(src) + 2, 0.35 * len(tgt) + 1.5))
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(src)), src, rotation=90)
    ax.set_yticks(range(len(tgt)), tgt)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if own and out is not None:
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return Path(out)
    return ax
