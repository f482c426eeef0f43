"""The encoder: embedding, then 1..L recurrent layers, each optionally bidirectional (lesson 08).

Parameters (``params`` dict keys): ``enc.emb`` (V, D); per layer ``l`` and direction
``d`` in ``f`` (forward) / ``b`` (backward): ``enc.l{l}.{d}.Wx|Wh|bx|bh``. Dropout is applied to
the embeddings and between layers.
"""

from __future__ import annotations

from .. import backend as B
from ..functional import dropout as Fd
from ..functional import linear as Fl
from . import cells


def directions(cfg) -> tuple:
    return ("f", "b") if cfg.bidirectional else ("f",)


def output_size(cfg) -> int:
    return cfg.hidden * len(directions(cfg))


def init_params(cfg, generator) -> dict:
    p = {"enc.emb": B.uniform_init(generator, (cfg.src_vocab, cfg.emb), 0.1)}
    p["enc.emb"][cfg.pad_id] = 0.0
    for l in range(cfg.layers):
        D = cfg.emb if l == 0 else output_size(cfg)
        for d in directions(cfg):
            p.update(cells.init_params(cfg.cell, D, cfg.hidden, generator, f"enc.l{l}.{d}."))
    return p


def _zeros_state(cfg, xp, Bsz, dtype):
    return tuple(xp.zeros((Bsz, cfg.hidden), dtype=dtype) for _ in range(cells.n_states(cfg.cell)))


def encoder_forward(params, cfg, src, src_mask, rng=None, train=False, ids_checked=False):
    """src: (B, S) ids, src_mask: (B, S). Returns ((out (B, S, Henc), finals), cache).

    finals[l] is layer l's final state tuple, each (B, dirs*H): forward and backward
    directions concatenated -- what the bridge reads. ids_checked: the caller has range-checked
    ``src`` on the host (see :func:`minis2s.functional.linear.embedding_forward`).
    """
    E = params["enc.emb"]
    xp = B.get_array_module(E)
    emb, emb_cache = Fl.embedding_forward(src, E, padding_idx=cfg.pad_id, ids_checked=ids_checked)
    x, drop_cache = Fd.dropout_forward(emb, cfg.dropout, rng, train)
    mask = src_mask.astype(E.dtype)
    zeros = _zeros_state(cfg, xp, src.shape[0], E.dtype)
    layer_caches, finals, drop_caches = [], [], [drop_cache]
    for l in range(cfg.layers):
        if l > 0:
            x, dc = Fd.dropout_forward(x, cfg.dropout, rng, train)
            drop_caches.append(dc)
        if cfg.bidirectional:
            (x, fin_f, fin_b), cache = cells.bidirectional_sequence_forward(
                cfg.cell, x, zeros, cells.take(params, f"enc.l{l}.f."),
                zeros, cells.take(params, f"enc.l{l}.b."), mask)
            finals.append(tuple(xp.concatenate([a, b], axis=1) for a, b in zip(fin_f, fin_b)))
        else:
            (x, fin), cache = cells.sequence_forward(cfg.cell, x, zeros, cells.take(params, f"enc.l{l}.f."), mask)
            finals.append(fin)
        layer_caches.append(cache)
    return (x, finals), (emb_cache, drop_caches, layer_caches)


def encoder_backward(dout, dfinals, cache, cfg, grads):
    """dout: (B, S, Henc); dfinals: per layer, tuples like finals (entries may be None).
    Accumulates parameter gradients into ``grads``."""
    emb_cache, drop_caches, layer_caches = cache
    H = cfg.hidden
    dx = dout
    for l in reversed(range(cfg.layers)):
        dfin = dfinals[l]
        if cfg.bidirectional:
            dff = tuple(None if d is None else d[:, :H] for d in dfin)
            dfb = tuple(None if d is None else d[:, H:] for d in dfin)
            dx, (_, dp_f), (_, dp_b) = cells.bidirectional_sequence_backward(dx, dff, dfb, layer_caches[l])
            _accumulate(grads, f"enc.l{l}.b.", dp_b)
        else:
            dx, _, dp_f = cells.sequence_backward(cfg.cell, dx, dfin, layer_caches[l])
        _accumulate(grads, f"enc.l{l}.f.", dp_f)
        if l > 0:
            dx = Fd.dropout_backward(dx, drop_caches[l])
    dx = Fd.dropout_backward(dx, drop_caches[0])
    grads["enc.emb"] += Fl.embedding_backward(dx, emb_cache)


def _accumulate(grads, prefix, dparams):
    for name, g in zip(cells.PARAM_NAMES, dparams):
        grads[prefix + name] += g
