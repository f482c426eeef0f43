"""The encoder: embedding, then 1..L recurrent layers, each optionally bidirectional (lesson 09).

    h^(0) = E_src[x]                                                    the embeddings (eq. 2.3)
    h^(l+1) = cell_l(dropout(h^(l)))  over s = 1..S (eq. 6.2), or both directions (eq. 9.1-9.3)

Parameters (``params`` dict keys): ``enc.emb`` (V, D); per layer ``l`` and direction
``d`` in ``f`` (forward) / ``b`` (backward): ``enc.l{l}.{d}.Wx|Wh|bx|bh``. Every layer's input
is dropped out, the embeddings included. :func:`encoder_forward` and :func:`encoder_backward`
are the pair; the decoder's pair is :func:`minis2s.nn.decoder.decoder_forward` /
:func:`~minis2s.nn.decoder.decoder_backward`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..functional import bidirectional as bi
from ..functional import cells as C
from ..functional import dropout as Fd
from ..functional import linear as Fl
from . import cells


class EncoderCache(NamedTuple):
    """What :func:`encoder_forward` saves for :func:`encoder_backward`.

    embedding: the source embedding's EmbeddingCache; drops: per layer l, the dropout cache of
    its input (layer 0's input being the embeddings); layers: per layer, the recurrent cache
    (a SequenceCache, or a BidirectionalCache when bidirectional).
    """

    embedding: Any
    drops: list
    layers: list


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


def encoder_forward(params, cfg, src, src_mask, rng=None, train=False, ids_checked=False):
    """src: (B, S) ids, src_mask: (B, S). Returns ((out (B, S, Henc), finals), EncoderCache).

    finals[l] is layer l's final state tuple, each (B, dirs*H): forward and backward
    directions concatenated -- what the bridge reads. ids_checked: the caller has range-checked
    ``src`` on the host (see :func:`minis2s.functional.linear.embedding_forward`).
    """
    E = params["enc.emb"]
    xp = B.get_array_module(E)
    x, embedding = Fl.embedding_forward(src, E, padding_idx=cfg.pad_id, ids_checked=ids_checked)
    mask = src_mask.astype(E.dtype)
    zeros = xp.zeros((src.shape[0], cfg.hidden), dtype=E.dtype)
    h0 = dict.fromkeys(C.kind(cfg.cell).initial, zeros)  # h_0 = 0 (eq. 6.2), and c_0 = 0
    finals, drops, layers = [], [], []
    for l in range(cfg.layers):
        x, drop = Fd.dropout_forward(x, cfg.dropout, rng, train)
        fwd = {**h0, **cells.weights(params, f"enc.l{l}.f.")}
        if cfg.bidirectional:
            bwd = {**h0, **cells.weights(params, f"enc.l{l}.b.")}
            (x, final_f, final_b), cache = bi.bidirectional_forward(cfg.cell, x, fwd, bwd, mask=mask)
            final = tuple(xp.concatenate([f, b], axis=1) for f, b in zip(final_f, final_b))
        else:
            (x, final), cache = C.sequence_forward(cfg.cell, x, fwd, mask=mask)
        finals.append(final)
        drops.append(drop)
        layers.append(cache)
    return (x, finals), EncoderCache(embedding, drops, layers)


def encoder_backward(dout, dfinals, cache, cfg, grads):
    """dout: (B, S, Henc); dfinals: per layer, tuples like finals (entries may be None).
    Accumulates parameter gradients into ``grads``."""
    H = cfg.hidden
    dx = dout
    for l in reversed(range(cfg.layers)):
        dfinal = dfinals[l]
        if cfg.bidirectional:  # the final states were [forward; backward]: split them back
            dfinal_f = tuple(None if d is None else d[:, :H] for d in dfinal)
            dfinal_b = tuple(None if d is None else d[:, H:] for d in dfinal)
            dx, dfwd, dbwd = bi.bidirectional_backward((dx, dfinal_f, dfinal_b), cache.layers[l])
            cells.add_grads(grads, f"enc.l{l}.b.", dbwd)
        else:
            dx, dfwd = C.sequence_backward((dx, dfinal), cache.layers[l])
        cells.add_grads(grads, f"enc.l{l}.f.", dfwd)
        dx = Fd.dropout_backward(dx, cache.drops[l])
    grads["enc.emb"] += Fl.embedding_backward(dx, cache.embedding)
