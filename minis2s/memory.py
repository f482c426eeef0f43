"""How much memory a training step needs, counted from the model's shapes (no arrays made).

A training step holds, at its peak (the loss backward):

    parameters + gradients + optimizer state          fixed by the model
    + the activations forward keeps for backward       grow with the batch: B x (S, T)
    + the logits' gradient beside the log-probabilities, and one weight gradient before
      it is added into ``grads``                       the backward's transients

The trainer compares this with the memory the machine has free before the first step, so a
batch too large for the machine is refused with the batch size that fits, instead of
swapping or being killed; ``benchmarks/speed.py memory`` compares it with measured peaks.
"""

from __future__ import annotations

import math
from pathlib import Path

from . import backend as B
from .errors import UserError
from .functional.cells import CELLS
from .nn.decoder import cell_input_size, readout_size
from .nn.encoder import directions, output_size

# per-parameter buffers each optimizer keeps: Adam's m and v, SGD's momentum
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "sgd": 1}
# scratch buffers as large as the largest parameter (minis2s.optim.Optimizer._scratch_count)
OPTIMIZER_SCRATCH = {"adam": 2, "adamw": 2, "sgd": 1}


def _is_transformer(cfg) -> bool:
    return hasattr(cfg, "d_model")


def transformer_param_shapes(cfg) -> dict:
    """Every parameter's shape, as ``Transformer(cfg).params`` would have it."""
    from .functional.transformer import DECODER_PARAMS, ENCODER_PARAMS

    D, F = cfg.d_model, cfg.d_ff
    by_name = {"W1": (F, D), "b1": (F,), "W2": (D, F)}
    shapes = {"dec.emb": (cfg.tgt_vocab, D)}
    if not cfg.share_vocab:
        shapes["enc.emb"] = (cfg.src_vocab, D)
    if cfg.sentence_words:
        shapes["enc.word_pos"] = (cfg.sentence_words, D)
    if cfg.positional == "learned":
        shapes.update({"enc.pos": (cfg.max_len, D), "dec.pos": (cfg.max_len, D)})
    for side, names in (("enc", ENCODER_PARAMS), ("dec", DECODER_PARAMS)):
        for l in range(cfg.layers):
            for n in names:
                short = n.split("_", 1)[1]
                shapes[f"{side}.l{l}.{n}"] = by_name.get(short, (D, D) if short.startswith("W") else (D,))
        if cfg.norm_first:
            shapes.update({f"{side}.ln_g": (D,), f"{side}.ln_b": (D,)})
    if not cfg.tie_embeddings:
        shapes["out.W"] = (cfg.tgt_vocab, D)
    shapes["out.b"] = (cfg.tgt_vocab,)
    return shapes


def transformer_activation_counts(cfg, Bn: int, S: int, T: int) -> dict:
    """:func:`activation_counts` of a Transformer: per layer and position, what the caches of
    functional/transformer.py keep -- an attention sublayer its input, Q, K, V, the merged
    heads and its output (about 6 D, the cross-attention's K, V over the S source positions),
    h x (keys) weights (twice with dropout: the mask), the layer norm's x^ and the residual
    sum (2 D), dropout masks (D each); the FFN its input, the F-wide pre-activation and hidden
    layer (and mask). The loss keeps the logits beside the log-probabilities
    (``CrossEntropyCache.logits``, which the lesson 02 exercises read): without them the count
    was 0.65-0.89x the traced forward + backward peak of small models, where the readout weighs
    most (tests/test_memory.py)."""
    D, F, h, L, V = cfg.d_model, cfg.d_ff, cfg.heads, cfg.layers, cfg.tgt_vocab
    drop = 2 if cfg.dropout > 0 else 1
    attn = 6 * D + 2 * D + (drop - 1) * D  # projections and output, LN and residual, output dropout
    ffn = D + (1 + drop) * F + 2 * D + (drop - 1) * D
    return {
        "embeddings": drop * Bn * (S + T) * D,
        "encoder": L * Bn * S * (attn + drop * h * S + ffn),
        "decoder": L * Bn * T * (2 * attn + drop * h * (T + S) + ffn) + L * Bn * S * 2 * D,
        "readout input": Bn * T * D,
        "log-probs": Bn * T * V,
        "logits": Bn * T * V,
    }


def param_shapes(cfg) -> dict:
    """Every parameter's shape, as ``Seq2Seq(cfg).params`` would have it (tests hold them equal)."""
    if _is_transformer(cfg):
        return transformer_param_shapes(cfg)
    H, E, Henc, G = cfg.hidden, cfg.emb, output_size(cfg), CELLS[cfg.cell].gates * cfg.hidden

    def cell(prefix, D):
        return {prefix + "Wx": (G, D), prefix + "Wh": (G, H), prefix + "bx": (G,), prefix + "bh": (G,)}

    shapes = {"enc.emb": (cfg.src_vocab, E), "dec.emb": (cfg.tgt_vocab, E)}
    for l in range(cfg.layers):
        for d in directions(cfg):
            shapes.update(cell(f"enc.l{l}.{d}.", E if l == 0 else Henc))
        shapes.update(cell(f"dec.l{l}.", cell_input_size(cfg, l)))
        for s in CELLS[cfg.cell].states:
            shapes.update({f"bridge.l{l}.{s}.W": (H, Henc), f"bridge.l{l}.{s}.b": (H,)})
    A = cfg.attention_size or H
    if cfg.attention == "additive":
        shapes.update({"attn.Wk": (A, Henc), "attn.Wq": (A, H), "attn.v": (A,)})
    elif cfg.attention in ("dot", "scaled_dot") and Henc != H:
        shapes["attn.Wk"] = (H, Henc)
    elif cfg.attention == "general":
        shapes["attn.W"] = (H, Henc)
    R = readout_size(cfg)
    if cfg.tie_embeddings:
        shapes.update({"out.proj.W": (E, R), "out.proj.b": (E,)})
    else:
        shapes["out.W"] = (cfg.tgt_vocab, R)
    shapes["out.b"] = (cfg.tgt_vocab,)
    return shapes


def activation_counts(cfg, Bn: int, S: int, T: int) -> dict:
    """The numbers forward keeps for backward on a (B, S) / (B, T) batch, by part: what any
    implementation of this model must keep, independent of framework (lesson 06's caches)."""
    if _is_transformer(cfg):
        return transformer_activation_counts(cfg, Bn, S, T)
    H, E, V, L = cfg.hidden, cfg.emb, cfg.tgt_vocab, cfg.layers
    Henc, G, R = output_size(cfg), CELLS[cfg.cell].gates * H, readout_size(cfg)
    dirs = len(directions(cfg))
    kept = G + 3 * H  # per cell position: the gate activations, c, tanh(c), h (an LSTM's; fewer for GRU, RNN)
    drop = 2 if cfg.dropout > 0 else 1  # a dropped-out array keeps its mask beside it
    attends = cfg.attention != "none"
    A = cfg.attention_size or H
    keys = {"additive": A, "dot": H if Henc != H else 0, "scaled_dot": H if Henc != H else 0}.get(cfg.attention, 0)
    # per decoder step: additive attention keeps tanh(keys + query) (B, S, A), every kind its weights (B, S)
    scores = (S * A if cfg.attention == "additive" else S) + S if attends else 0
    feeds = Henc if attends and cfg.input_feeding else 0
    return {
        "embeddings": drop * Bn * (S + T) * E,
        "encoder": Bn * S * (dirs * L * kept + (L - 1) * drop * Henc),
        "values + keys": Bn * S * (Henc + keys),
        "decoder steps": T * Bn * (scores + E + feeds + L * kept + (L - 1) * drop * H),
        # the readout input and its mask; tied embeddings keep the projection too
        "readout input": Bn * T * (drop * R + (E if cfg.tie_embeddings else 0)),
        "log-probs": Bn * T * V,  # what the loss backward reads
    }


def activation_bytes(cfg, Bn: int, S: int, T: int, itemsize: int = 4) -> dict:
    """:func:`activation_counts` in bytes."""
    return {k: v * itemsize for k, v in activation_counts(cfg, Bn, S, T).items()}


def training_step_bytes(cfg, Bn: int, S: int, T: int, optimizer: str = "adam", itemsize: int = 4) -> dict:
    """Peak bytes of one training step (forward, backward, optimizer update), by part."""
    sizes = [math.prod(s) for s in param_shapes(cfg).values()]
    P, largest = sum(sizes), max(sizes)
    return {
        "parameters": P * itemsize,
        "gradients": P * itemsize,
        "optimizer state": (OPTIMIZER_SLOTS[optimizer] * P + OPTIMIZER_SCRATCH[optimizer] * largest) * itemsize,
        "activations": sum(activation_counts(cfg, Bn, S, T).values()) * itemsize,
        # the logits' gradient is alive beside the log-probabilities; a weight gradient is a
        # new array until it is added into grads
        "backward transients": (Bn * T * cfg.tgt_vocab + largest) * itemsize,
    }


def largest_batch_that_fits(cfg, S: int, T: int, budget: int, optimizer: str = "adam", itemsize: int = 4) -> int:
    """The largest batch size whose training step fits in ``budget`` bytes (0 if none does).

    Everything but the parameters' share grows linearly with the batch, so one division does.
    """
    fixed = sum(training_step_bytes(cfg, 0, S, T, optimizer, itemsize).values())
    per_pair = sum(training_step_bytes(cfg, 1, S, T, optimizer, itemsize).values()) - fixed
    return max(0, int((budget - fixed) // per_pair))


MEMINFO = Path("/proc/meminfo")


def available_bytes() -> int | None:
    """Memory free for a training step or a search: the GPU's on CuPy, else MemAvailable from
    /proc/meminfo (what Linux can hand out without swapping); None where unknown."""
    if B.get_backend() == "cupy":
        return B.free_device_bytes()
    try:
        text = MEMINFO.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024  # the file counts kB
    return None


def size_text(n: int) -> str:
    """Bytes for a message: "1.5 GiB", "830 MiB", "12 KiB"."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


# The estimate counts the arrays a step holds, not one op's short-lived temporaries nor the
# interpreter's own memory: it measured 0.78-0.97x the traced peak of a whole step
# (tests/test_memory.py), so a step must fit with this much to spare.
HEADROOM = 1.3


def check_step_fits(cfg, batch_size: int, pairs, optimizer: str = "adam", itemsize: int = 4,
                    resume: bool = False) -> None:
    """Refuse, in one line, a training step that would not fit in the memory available now
    (with :data:`HEADROOM` to spare).

    pairs: the training (src_ids, tgt_ids); the largest batch is ``batch_size`` of the longest
    source and target (+1 each for <eos> / <sos>), an upper bound the bucketed batches stay under.
    """
    free = available_bytes()
    if free is None:
        return
    available = int(free / HEADROOM)
    S = max(len(s) for s, _ in pairs) + 1
    T = max(len(t) for _, t in pairs) + 1
    need = training_step_bytes(cfg, batch_size, S, T, optimizer, itemsize)
    total = sum(need.values())
    if total <= available:
        return
    model = need["parameters"] + need["gradients"] + need["optimizer state"]
    fits = largest_batch_that_fits(cfg, S, T, available, optimizer, itemsize)
    if fits == 0:
        todo = "even a batch of 1 does not fit: choose a smaller model (--hidden, --emb, --d-model, --d-ff, --layers) or free memory"
    elif resume:
        todo = f"a run keeps its batch size: free memory, or start a new run with --batch-size {fits} or less"
    else:
        todo = f"use --batch-size {fits} or less (the largest that fits) or free memory"
    where = "GPU memory" if B.get_backend() == "cupy" else "memory"
    raise UserError(
        f"a training step needs about {size_text(total)} (the model, its gradients and {optimizer} state "
        f"{size_text(model)}; activations for a batch of {batch_size} x {S} source x {T} target tokens "
        f"{size_text(total - model)}) and {HEADROOM:g}x that to be safe, but only {size_text(free)} of "
        f"{where} is available; {todo}")
