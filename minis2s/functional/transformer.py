"""The Transformer's feed-forward block and its encoder and decoder layers (lesson 12).

A layer is sublayers -- self-attention, cross-attention (decoder only), a position-wise
feed-forward network -- each wrapped in a residual connection, dropout and a layer norm,
either after the residual sum (post-norm, Vaswani et al.; torch's default) or before the
sublayer (pre-norm, ``norm_first=True``):

    eq. 12.9  FFN(x) = dropout(act(x W1^T + b1)) W2^T + b2    (act: relu, eq. 12.10, or gelu, 12.11)
    eq. 12.14 post-norm sublayer:  y = LN(x + dropout(f(x)))                     (LN: eq. 12.7)
    eq. 12.15 pre-norm sublayer:   y = x + dropout(f(LN(x)))
    eq. 12.16 encoder layer: f = self-attention MHA(x, x, x) (eq. 12.1-12.4) over the real
              positions, then f = FFN; decoder layer: causal self-attention, then
              cross-attention MHA(x, memory, memory) over the real source positions, then FFN
    eq. 12.17 backward of a residual sum x + f(x):  dx = dy + (df/dx)^T dy -- the upstream
              gradient passes to x unchanged, and the sublayer's path adds to it

Padded positions of the layer's input (``mask`` 0) are never attended to, and the layer
outputs exactly 0 there, so they receive exactly zero gradient. Parameters travel in one dict
whose names follow torch's modules: ``sa_*`` the self-attention (Wq, bq, Wk, bk, Wv, bv, Wo,
bo), ``ca_*`` the cross-attention, ``ff_W1, ff_b1, ff_W2, ff_b2`` and ``ln1_g, ln1_b, ...``;
the backward returns the gradients in a dict with the same names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect
from .activations import gelu_backward, gelu_forward, relu_backward, relu_forward
from .dropout import dropout_backward, dropout_forward
from .layernorm import EPS, layernorm_backward, layernorm_forward
from .linear import affine_backward, affine_forward
from .multihead import multihead_attention_backward, multihead_attention_forward

ACTIVATIONS = {"relu": (relu_forward, relu_backward), "gelu": (gelu_forward, gelu_backward)}
MHA_PARAMS = ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
FFN_PARAMS = ("W1", "b1", "W2", "b2")
ENCODER_PARAMS = (tuple("sa_" + n for n in MHA_PARAMS) + tuple("ff_" + n for n in FFN_PARAMS)
                  + ("ln1_g", "ln1_b", "ln2_g", "ln2_b"))
DECODER_PARAMS = (tuple("sa_" + n for n in MHA_PARAMS) + tuple("ca_" + n for n in MHA_PARAMS)
                  + tuple("ff_" + n for n in FFN_PARAMS)
                  + ("ln1_g", "ln1_b", "ln2_g", "ln2_b", "ln3_g", "ln3_b"))


class FeedForwardCache(NamedTuple):
    """What :func:`feedforward_forward` saves (eq. 12.9): in_cache, out_cache: the two affine
    maps' caches; act_cache: the activation's; drop: the dropout's (None when off);
    activation: "relu" or "gelu"."""

    in_cache: Any
    act_cache: Any
    drop: Any
    out_cache: Any
    activation: str


def feedforward_forward(u, W1, b1, W2, b2, activation: str = "relu", p: float = 0.0, rng=None,
                        train: bool = True):
    """FFN(u) = dropout(act(u W1^T + b1)) W2^T + b2, position by position      (eq. 12.9)

    u: (B, T, D); W1: (F, D); b1: (F,); W2: (D, F); b2: (D,); activation: "relu" or "gelu"
    (the tanh form). Returns (y (B, T, D), FeedForwardCache).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    dims = expect("W1", W1, ("F", "D"))
    expect("W2", W2, ("D", "F"), dims)
    a, in_cache = affine_forward(u, W1, b1)
    h, act_cache = ACTIVATIONS[activation][0](a)
    h, drop = dropout_forward(h, p, rng, train)
    y, out_cache = affine_forward(h, W2, b2)
    return y, FeedForwardCache(in_cache, act_cache, drop, out_cache, activation)


def feedforward_backward(dy, cache):
    """Returns du, dW1, db1, dW2, db2 (eq. 12.9 backwards: eq. 2.2, 7.12, then 12.10 or 12.11)."""
    dh, dW2, db2 = affine_backward(dy, cache.out_cache)
    dh = dropout_backward(dh, cache.drop)
    da = ACTIVATIONS[cache.activation][1](dh, cache.act_cache)
    du, dW1, db1 = affine_backward(da, cache.in_cache)
    return du, dW1, db1, dW2, db2


class SublayerCache(NamedTuple):
    """What one residual sublayer saves (eq. 12.14, 12.15): ln: the layer norm's cache; f: the
    sublayer's; drop: the dropout's; norm_first: pre-norm (True) or post-norm."""

    ln: Any
    f: Any
    drop: Any
    norm_first: bool


def _sublayer_forward(x, f: Callable, g, beta, norm_first, p, rng, train, eps):
    """z = LN(x + dropout(f(x))) or x + dropout(f(LN(x))) (eq. 12.14, 12.15); f(u) -> (out, cache)."""
    u, ln = layernorm_forward(x, g, beta, eps) if norm_first else (x, None)
    fu, f_cache = f(u)
    fu, drop = dropout_forward(fu, p, rng, train)
    z = x + fu
    if not norm_first:
        z, ln = layernorm_forward(z, g, beta, eps)
    return z, SublayerCache(ln, f_cache, drop, norm_first)


def _sublayer_backward(dz, cache, f_backward: Callable):
    """Returns dx, dg, dbeta and what f_backward(du, f_cache) returns besides du (eq. 12.17)."""
    if not cache.norm_first:
        dz, dg, dbeta = layernorm_backward(dz, cache.ln)  # eq. 12.14: LN is last
    du, rest = f_backward(dropout_backward(dz, cache.drop), cache.f)
    if cache.norm_first:
        du, dg, dbeta = layernorm_backward(du, cache.ln)  # eq. 12.15: LN feeds the sublayer
    return dz + du, dg, dbeta, rest  # eq. 12.17: the residual passes dz on unchanged


def _mha(params, prefix):
    return [params[prefix + n] for n in MHA_PARAMS]


def _grads(prefix, names, values):
    return {prefix + n: v for n, v in zip(names, values)}


def _self_attention(params, prefix, heads, mask, causal, p, rng, train):
    def f(u):
        (y, _), cache = multihead_attention_forward(u, None, None, *_mha(params, prefix), heads,
                                                    key_mask=mask, query_mask=mask, causal=causal,
                                                    p=p, rng=rng, train=train)
        return y, cache
    return f


def _self_attention_backward(prefix):
    def f_backward(dy, cache):
        du, _, _, *dW = multihead_attention_backward((dy, None), cache)  # u is query, key and value
        return du, _grads(prefix, MHA_PARAMS, dW)
    return f_backward


def _feedforward(params, activation, p, rng, train):
    def f(u):
        return feedforward_forward(u, *[params["ff_" + n] for n in FFN_PARAMS], activation, p, rng, train)
    return f


def _feedforward_backward(dy, cache):
    du, *dW = feedforward_backward(dy, cache)
    return du, _grads("ff_", FFN_PARAMS, dW)


def _check_layer(x, params, names, mask):
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"params: missing {', '.join(missing)}")
    dims = expect("x", x, ("B", "T", "D"))
    if mask is not None:
        expect("mask", mask, ("B", "T"), dims, kind="mask")
    return dims


class EncoderLayerCache(NamedTuple):
    """What :func:`encoder_layer_forward` saves: sa, ff: the two sublayers' caches (eq. 12.16);
    real: (B, T, 1) bool, False at padding, or None."""

    sa: Any
    ff: Any
    real: Any


def _real(mask, like):
    xp = B.get_array_module(like)
    return None if mask is None else (xp.asarray(mask) != 0)[:, :, None]


def encoder_layer_forward(x, params: dict, heads: int, mask=None, norm_first: bool = False,
                          activation: str = "relu", p: float = 0.0, rng=None, train: bool = True,
                          eps: float = EPS):
    """One encoder layer (eq. 12.14-12.16), torch's ``TransformerEncoderLayer(batch_first=True)``.

    x: (B, T, D); params: :data:`ENCODER_PARAMS` (sa_W*: (D, D), ff_W1: (F, D), ff_W2: (D, F),
    biases and ln*_g, ln*_b: their output size); heads: h, dividing D; mask: (B, T), 1 on real
    positions, or None; p: the dropout of torch's layer, on the attention weights, the FFN's
    hidden layer and each sublayer's output. Returns (y (B, T, D), EncoderLayerCache).
    """
    _check_layer(x, params, ENCODER_PARAMS, mask)
    z, sa = _sublayer_forward(x, _self_attention(params, "sa_", heads, mask, False, p, rng, train),
                              params["ln1_g"], params["ln1_b"], norm_first, p, rng, train, eps)
    y, ff = _sublayer_forward(z, _feedforward(params, activation, p, rng, train),
                              params["ln2_g"], params["ln2_b"], norm_first, p, rng, train, eps)
    real = _real(mask, x)
    if real is not None:
        y = y * real  # a padded position outputs exactly 0
    return y, EncoderLayerCache(sa, ff, real)


def encoder_layer_backward(dy, cache):
    """Returns dx, dparams (a dict named like the params) (eq. 12.17 through each sublayer)."""
    if cache.real is not None:
        dy = dy * cache.real
    dz, dg2, db2, grads = _sublayer_backward(dy, cache.ff, _feedforward_backward)
    dx, dg1, db1, sa_grads = _sublayer_backward(dz, cache.sa, _self_attention_backward("sa_"))
    grads.update(sa_grads, ln1_g=dg1, ln1_b=db1, ln2_g=dg2, ln2_b=db2)
    return dx, {n: grads[n] for n in ENCODER_PARAMS}


class DecoderLayerCache(NamedTuple):
    """What :func:`decoder_layer_forward` saves: sa, ca, ff: the three sublayers' caches
    (eq. 12.16); real: (B, T, 1) bool, False at target padding, or None."""

    sa: Any
    ca: Any
    ff: Any
    real: Any


def decoder_layer_forward(x, memory, params: dict, heads: int, mask=None, memory_mask=None,
                          norm_first: bool = False, activation: str = "relu", p: float = 0.0,
                          rng=None, train: bool = True, eps: float = EPS):
    """One decoder layer (eq. 12.14-12.16), torch's ``TransformerDecoderLayer(batch_first=True)``
    called with a causal ``tgt_mask``.

    x: (B, T, D), the target side; memory: (B, S, D), the encoder's output; params:
    :data:`DECODER_PARAMS`; mask: (B, T), 1 on real target positions, or None; memory_mask:
    (B, S), 1 on real source positions, or None; the rest as :func:`encoder_layer_forward`.
    Returns (y (B, T, D), DecoderLayerCache).
    """
    dims = _check_layer(x, params, DECODER_PARAMS, mask)
    expect("memory", memory, ("B", "S", "D"), dims)
    if memory_mask is not None:
        expect("memory_mask", memory_mask, ("B", "S"), dims, kind="mask")

    def cross(u):
        (y, _), c = multihead_attention_forward(u, memory, None, *_mha(params, "ca_"), heads,
                                                key_mask=memory_mask, query_mask=mask, p=p, rng=rng,
                                                train=train)
        return y, c

    z, sa = _sublayer_forward(x, _self_attention(params, "sa_", heads, mask, True, p, rng, train),
                              params["ln1_g"], params["ln1_b"], norm_first, p, rng, train, eps)
    z, ca = _sublayer_forward(z, cross, params["ln2_g"], params["ln2_b"], norm_first, p, rng, train, eps)
    y, ff = _sublayer_forward(z, _feedforward(params, activation, p, rng, train),
                              params["ln3_g"], params["ln3_b"], norm_first, p, rng, train, eps)
    real = _real(mask, x)
    if real is not None:
        y = y * real
    return y, DecoderLayerCache(sa, ca, ff, real)


def _cross_backward(dy, cache):
    du, dmemory, _, *dW = multihead_attention_backward((dy, None), cache)  # memory is key and value
    return du, (dmemory, _grads("ca_", MHA_PARAMS, dW))


def decoder_layer_backward(dy, cache):
    """Returns dx, dmemory, dparams (a dict named like the params) (eq. 12.17)."""
    if cache.real is not None:
        dy = dy * cache.real
    dz, dg3, db3, grads = _sublayer_backward(dy, cache.ff, _feedforward_backward)
    dz, dg2, db2, (dmemory, ca_grads) = _sublayer_backward(dz, cache.ca, _cross_backward)
    dx, dg1, db1, sa_grads = _sublayer_backward(dz, cache.sa, _self_attention_backward("sa_"))
    grads.update(sa_grads, **ca_grads)
    grads.update(ln1_g=dg1, ln1_b=db1, ln2_g=dg2, ln2_b=db2, ln3_g=dg3, ln3_b=db3)
    return dx, dmemory, {n: grads[n] for n in DECODER_PARAMS}

