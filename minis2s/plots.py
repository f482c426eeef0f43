"""Figures: loss curves from a run's ``metrics.jsonl`` and attention heatmaps (plots extra).

matplotlib is optional; :func:`available` says whether it is installed. Files are written
with the non-interactive Agg backend when no display is set, and inline in notebooks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import backend as B
from .atomic import check_folder, write_file
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


def describe_model(model_cfg: dict) -> str:
    """"bidirectional LSTM x2, additive attention" (or "Transformer 3+3 layers, d 256, 4 heads,
    pre-norm") from a checkpoint's model config."""
    if "d_model" in model_cfg:
        norm = ", pre-norm" if model_cfg.get("norm_first") else ""
        L = model_cfg.get("layers", "?")
        return f"Transformer {L}+{L} layers, d {model_cfg.get('d_model')}, {model_cfg.get('heads')} heads{norm}"
    cell = str(model_cfg.get("cell", "?")).upper()
    layers = model_cfg.get("layers", 1)
    shape = ("bidirectional " if model_cfg.get("bidirectional") else "") + cell + (f" x{layers}" if layers > 1 else "")
    attention = model_cfg.get("attention", "none")
    return shape + (", no attention" if attention == "none" else f", {attention} attention")


def _run_title(run_dir) -> str:
    """The run directory, and its task and model when a checkpoint's config says them."""
    title = f"training run {run_dir}"
    configs = sorted(Path(run_dir).glob("checkpoints/*/config.json"))
    try:
        config = json.loads(configs[-1].read_text()) if configs else {}
        task = config.get("task", {})
        name = task.get("name", "")
        if task.get("kind") == "translation":
            name = f"{name} {task.get('src')}->{task.get('tgt')}"
        return f"{title}\n{name}, {describe_model(config['model'])}"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return title  # the title is a courtesy: a run without a readable config still plots


def _plain_number(value, _pos=None) -> str:
    """Tick labels as plain decimals (0.5, 1, 2), not matplotlib's 5x10^-1 of a log axis."""
    return f"{value:g}"


def _readable_log_axis(axis) -> None:
    """Log scale (a loss falls by factors), ticks at 1, 2 and 5 times powers of ten, labelled
    as plain numbers; when the data spans too little for those, the minor ticks get labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_plain_number))
    axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    low, high = sorted(axis.get_view_interval())
    majors = [t for t in axis.get_major_locator().tick_values(low, high) if low <= t <= high]
    axis.set_minor_formatter(FuncFormatter(_plain_number) if len(majors) < 2 else NullFormatter())


def loss_curves(run_dir, out=None, ax=None):
    """Training loss per logged step and validation loss per evaluation; returns the path
    (or the axes when ``ax`` is given or ``out`` is None)."""
    own_file = ax is None and out is not None
    if own_file:
        check_folder(out, "--out")  # before any work
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
    _readable_log_axis(ax.yaxis)
    ax.set_title(_run_title(run_dir), fontsize=10)
    ax.grid(alpha=0.3)
    ax.grid(alpha=0.1, which="minor")
    ax.legend()
    if own_file:
        return _save(plt, fig, out)
    return ax


def _save(plt, fig, out) -> Path:
    fig.tight_layout()
    fmt = Path(out).suffix.lstrip(".").lower() or "png"
    try:
        return write_file(out, lambda f: fig.savefig(f, dpi=120, format=fmt), "--out")
    finally:
        plt.close(fig)


def _source(translator, sentence: str):
    """One sentence as the model reads it: (labels, one per position it attends over -- its
    tokens or BPE pieces, or the sentences of a model that reads sentences (eq. 15.6) -- then
    <eos>; src (1, S) and src_mask on the device)."""
    from .data import SentenceGridTokenizer, batches_for_inference

    tokenizer = translator.src_tokenizer
    tokens = tokenizer.tokenize(sentence) if sentence.strip() else []
    if getattr(translator, "bpe", None):  # the model attends over pieces: show those
        tokens = translator.bpe.encode(tokens)
    if not tokens:
        raise UserError("the sentence is empty: give some text to translate")
    labels = tokens
    if isinstance(tokenizer, SentenceGridTokenizer):
        labels = [" ".join(s) for s in tokenizer.sentences(sentence)]
    (batch,), _ = batches_for_inference([translator.src_vocab.encode(tokens)], 1)
    return labels + ["<eos>"], B.to_device(batch.src), B.to_device(batch.src_mask, translator.model.dtype)


def attention_matrix(translator, sentence: str):
    """Greedy-decode one sentence; returns (source labels, output tokens, weights (T, S))."""
    from .decode import greedy

    model = translator.model
    if getattr(model.cfg, "attention", None) == "none":
        raise UserError("this model has no attention (trained with --attention none): nothing to plot")
    labels, src, mask = _source(translator, sentence)
    out = greedy(model, src, mask, translator.src_vocab.sos_id, translator.src_vocab.eos_id,
                 return_attention=True)
    outputs = translator.tgt_vocab.decode(out.ids[0]) + ["<eos>"]
    return labels, outputs, out.attention[0][: len(outputs), : len(labels)]


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, with "..." where it was cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "..."


def attention_title(translator, sentence: str) -> str:
    """The sentence (shortened if long) and the model: cell, attention, checkpoint step."""
    model = describe_model(translator.model.cfg.to_json())
    step = f", step {translator.step}" if getattr(translator, "step", None) is not None else ""
    return f"\u201c{shorten(sentence)}\u201d\n{model}{step}"


def transformer_attention(translator, sentence: str):
    """Greedy-decode one sentence with a Transformer, then read every decoder layer's
    cross-attention over that output: (source tokens, output tokens, weights (L, h, T, S))."""
    src_labels, outputs, _ = attention_matrix(translator, sentence)
    model, vocab = translator.model, translator.tgt_vocab
    _, src, mask = _source(translator, sentence)
    fed = [vocab.sos_id] + vocab.encode(outputs[:-1])  # the tokens the decoder read, <sos> first
    tgt_in = B.to_device(B.host.array([fed], dtype=B.host.int64))
    weights = B.host.stack([B.to_host(w)[0] for w in model.attention_weights(src, mask, tgt_in)])
    return src_labels, outputs, weights[..., : len(src_labels)]


def attention_grid(translator, sentence: str, out):
    """A Transformer's cross-attention as a grid: one heatmap per decoder layer (rows) and
    head (columns), output tokens down, source tokens across."""
    check_folder(out, "--out")  # before any work
    src, tgt, weights = transformer_attention(translator, sentence)
    L, h = weights.shape[:2]
    plt = _pyplot()
    cell = (max(0.25 * len(src) + 1, 2.5), max(0.25 * len(tgt) + 1, 2.5))
    fig, axes = plt.subplots(L, h, figsize=(cell[0] * h, cell[1] * L + 1), squeeze=False)
    for l in range(L):
        for j in range(h):
            ax = axes[l][j]
            ax.imshow(weights[l, j], cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(src)), src if l == L - 1 else [""] * len(src), rotation=90, fontsize=7)
            ax.set_yticks(range(len(tgt)), tgt if j == 0 else [""] * len(tgt), fontsize=7)
            ax.set_title(f"layer {l + 1}, head {j + 1}", fontsize=8)
    fig.suptitle(attention_title(translator, sentence), fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, out)


def attention_heatmap(translator, sentence: str, out=None, ax=None):
    """Heatmap of attention weights: rows are output tokens, columns source tokens, with a
    colour bar and a title naming the sentence and the model."""
    own_file = ax is None and out is not None
    if own_file and getattr(translator.model, "arch", None) == "transformer":
        return attention_grid(translator, sentence, out)  # every layer and head
    if own_file:
        check_folder(out, "--out")  # before any work
    src, tgt, weights = attention_matrix(translator, sentence)
    plt = _pyplot()
    own = ax is None
    if own:
        # room for the tokens, the colour bar and a two-line title
        fig, ax = plt.subplots(figsize=(max(0.35 * len(src) + 3, 5), 0.35 * len(tgt) + 2))
    image = ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, label="attention weight", fraction=0.05, pad=0.03)
    ax.set_xticks(range(len(src)), src, rotation=90)
    ax.set_yticks(range(len(tgt)), tgt)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    ax.set_title(attention_title(translator, sentence), fontsize=10)
    if own_file:
        return _save(plt, fig, out)
    return ax


# --------------------------------------------------------------------------- by sentence


def sentence_attention(src_tokens: list, weights, ends=(".", "?")):
    """Sum a (T, S) attention matrix over the tokens of each sentence of the source, a sentence
    ending after any token of ``ends`` (the QA tasks' separators; <eos> joins the last one). A
    model that reads sentences (eq. 15.6) attends over them already: each of its labels is a
    sentence, and the sums are its own weights.
    Returns (sentence texts, (T, n_sentences) host array): row t says how much of output t's
    attention went to each sentence, which for a QA answer names its supporting fact."""
    weights = B.to_host(weights)
    spans, start = [], 0
    for i, tok in enumerate(src_tokens):
        if tok.split()[-1:] and tok.split()[-1] in ends:
            spans.append((start, i + 1))
            start = i + 1
    if start < len(src_tokens):
        if spans and all(t == "<eos>" for t in src_tokens[start:]):
            spans[-1] = (spans[-1][0], len(src_tokens))
        else:
            spans.append((start, len(src_tokens)))
    texts = [" ".join(t for t in src_tokens[a:b] if t != "<eos>") for a, b in spans]
    summed = B.host.stack([weights[:, a:b].sum(axis=1) for a, b in spans], axis=1)  # eq. 15.5
    return texts, summed


def sentence_attention_heatmap(translator, sentence: str, out=None, ax=None):
    """:func:`attention_heatmap` with the source summed per sentence: rows are the story's
    sentences (and the question), columns the output tokens."""
    own_file = ax is None and out is not None
    if own_file:
        check_folder(out, "--out")
    src, tgt, weights = attention_matrix(translator, sentence)
    texts, summed = sentence_attention(src, weights)
    plt = _pyplot()
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(max(0.5 * len(tgt) + 0.07 * max(map(len, texts)) + 3, 5),
                                        0.4 * len(texts) + 2))
    image = ax.imshow(summed.T, cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, label="attention weight (summed over the sentence)", fraction=0.05, pad=0.03)
    ax.set_xticks(range(len(tgt)), tgt)
    ax.set_yticks(range(len(texts)), [shorten(t, 50) for t in texts])
    ax.set_xlabel("output")
    ax.set_ylabel("source sentence")
    ax.set_title(attention_title(translator, sentence), fontsize=10)
    if own_file:
        fig.tight_layout()
        return _save(plt, fig, out)
    return ax
