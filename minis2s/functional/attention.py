"""Attention over a padded source, one decoder query at a time (lesson 08).

A score l_s per source position, a masked softmax, a weighted sum of the values. Vectors are
rows (x W^T), as in the code; the lesson's symbols, with the code's names in brackets:

    eq. 8.1  additive (Bahdanau):  l_s = tau_s . w,  tau_s = tanh(u_s),  u_s = q Wq^T + k'_s,
                                   k'_s = k_s Wk^T projected once per batch
                                   [l: scores, w: v, tau: t, k': keys_proj]
    eq. 8.2  dot (Luong):          l_s = q . k_s        scaled dot: l_s = q . k_s / sqrt(H)
    eq. 8.3  general (Luong):      l_s = q W k_s^T = q~ . k_s,  q~ = q W   [q~: u]
    eq. 8.4  masked softmax:       alpha_s = M_s exp(l_s - l*) / sum_j M_j exp(l_j - l*),  l* = max over real j
    eq. 8.5  context:              ctx = sum_s alpha_s v_s    [v_s: values, alpha: weights]
    eq. 8.6  backward of 8.5:      dalpha_s = dctx . v_s,  dv_s = alpha_s dctx    [dalpha: da, dctx: dcontext]
    eq. 8.7  backward of 8.4:      dl_s = alpha_s (dalpha_s - sum_j alpha_j dalpha_j)   (0 at padding,
                                   since alpha_s = 0)
    eq. 8.8  backward of 8.1:      du_s = dl_s w * (1 - tau_s^2),  dk'_s = du_s,  dq = (sum_s du_s) Wq,
                                   dWq = sum_s du_s^T q,  dw = sum_s dl_s tau_s

Padded positions get exactly zero weight, not a small one: they are multiplied by the mask
after the exponential. A row with no real position gets all-zero weights and a zero context.
Each forward returns a named cache whose fields are the code's names above; the masked
softmax's cache is its output, the weights alpha (eq. 8.7 needs nothing else).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect, same_dtype


class AdditiveAttentionCache(NamedTuple):
    """What :func:`additive_attention_forward` saves for :func:`additive_attention_backward`.

    q: (B, Hq), the query; values: (B, S, Hv); Wq: (A, Hq); v: (A,), the score vector w of
    eq. 8.1; t: (B, S, A) = tau = tanh(q Wq^T + k'_s), the hidden layer of eq. 8.1;
    weights: (B, S), the attention weights alpha_s (eq. 8.4), exactly 0 at padded positions.
    """

    q: Any
    values: Any
    Wq: Any
    v: Any
    t: Any
    weights: Any


class DotAttentionCache(NamedTuple):
    """What :func:`dot_attention_forward` saves. q: (B, H); keys: (B, S, H); values: (B, S, Hv);
    scale: kappa, 1 or 1 / sqrt(H) (eq. 8.2); weights: (B, S), alpha_s (eq. 8.4)."""

    q: Any
    keys: Any
    values: Any
    scale: float
    weights: Any


class GeneralAttentionCache(NamedTuple):
    """What :func:`general_attention_forward` saves. q: (B, Hq); keys: (B, S, Hk); values:
    (B, S, Hv); W: (Hq, Hk); u: (B, Hk) = q~ = q W, the query seen by every key (eq. 8.3);
    weights: (B, S), alpha_s (eq. 8.4)."""

    q: Any
    keys: Any
    values: Any
    W: Any
    u: Any
    weights: Any


def masked_softmax_forward(scores, mask):
    """scores: (B, S); mask: (B, S), 1 (or True) on real positions. Returns (weights (B, S), cache)
    (eq. 8.4). Padded positions get exactly 0; a row with no real position gets all zeros."""
    dims = expect("scores", scores, ("B", "S"))
    expect("mask", mask, ("B", "S"), dims, kind="mask")
    w = _masked_softmax(scores, mask)
    return w, w


def _masked_softmax(scores, mask):
    """(eq. 8.4) over the last axis, without argument checks: the attention kinds call it once
    per decoder step. scores: (..., S); mask: real positions, any shape that broadcasts to the
    scores' (multi-head attention passes (B, 1, T, S) against (B, heads, T, S) scores)."""
    xp = B.get_array_module(scores)
    real = mask != 0
    c = xp.where(real, scores, -xp.inf).max(axis=-1, keepdims=True)
    c = xp.where(xp.isfinite(c), c, 0.0)  # an all-padding row has no max; any finite shift will do
    # exp(0) at padding keeps exp finite whatever the padded scores hold; the mask then zeroes it
    e = xp.exp(xp.where(real, scores - c, 0.0)) * real
    denom = e.sum(axis=-1, keepdims=True)
    return e / xp.where(denom > 0, denom, 1.0)  # an all-padding row: 0 / 1, not 0 / 0


def masked_softmax_backward(dweights, cache):
    """Returns dscores (eq. 8.7), over the last axis. cache: the forward's output, the weights a."""
    a = cache
    return a * (dweights - (a * dweights).sum(axis=-1, keepdims=True))


def _context(weights, values):
    """(eq. 8.5) as one batched product: (B, 1, S) @ (B, S, Hv)."""
    return (weights[:, None, :] @ values)[:, 0]


def _context_backward(dcontext, dweights, weights, values):
    """(eq. 8.6). Returns (da, dvalues): da_s = dalpha_s = v_s . dc (plus dweights, an upstream
    gradient of the returned weights alpha, if any), dvalues_s = alpha_s dc."""
    da = (values @ dcontext[:, :, None])[..., 0]
    if dweights is not None:
        da = da + dweights
    return da, weights[:, :, None] * dcontext[:, None, :]


def _check(q, keys, values, mask, kspec, keys_name="keys"):
    dims = expect("q", q, ("B", "Hq"))
    expect(keys_name, keys, ("B", "S") + kspec, dims)
    expect("values", values, ("B", "S", "Hv"), dims)
    expect("mask", mask, ("B", "S"), dims, kind="mask")
    same_dtype(q=q, keys=keys, values=values)
    return dims


def additive_attention_forward(q, keys_proj, values, mask, Wq, v):
    """Bahdanau attention (eq. 8.1, 8.4, 8.5).

    q: (B, Hq) the decoder's query; keys_proj: (B, S, A), the encoder outputs already projected
    by ``Wk`` -- done once per batch with ``affine_forward``, not once per step; values:
    (B, S, Hv); mask: (B, S); Wq: (A, Hq); v: (A,).
    Returns ((context (B, Hv), weights (B, S)), AdditiveAttentionCache).
    """
    dims = _check(q, keys_proj, values, mask, ("A",), "keys_proj")
    expect("Wq", Wq, ("A", "Hq"), dims)
    expect("v", v, ("A",), dims)
    same_dtype(q=q, Wq=Wq, v=v)
    xp = B.get_array_module(q)
    t = xp.tanh(keys_proj + (q @ Wq.T)[:, None, :])  # eq. 8.1: (B, S, A)
    scores = t @ v  # l_s = tau_s . w
    weights = _masked_softmax(scores, mask)  # eq. 8.4
    context = _context(weights, values)  # eq. 8.5
    return (context, weights), AdditiveAttentionCache(q, values, Wq, v, t, weights)


def additive_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys_proj, dvalues, dWq, dv (eq. 8.6-8.8)."""
    dcontext, dweights = dout
    q, Wq, v, t = cache.q, cache.Wq, cache.v, cache.t
    da, dvalues = _context_backward(dcontext, dweights, cache.weights, cache.values)  # eq. 8.6
    de = masked_softmax_backward(da, cache.weights)  # eq. 8.7: (B, S)
    du = de[:, :, None] * v * (1 - t * t)  # eq. 8.8: (B, S, A), tanh' = 1 - t^2 (eq. 3.3)
    dkeys_proj = du
    dq_proj = du.sum(axis=1)  # q Wq^T is broadcast over the S positions: its gradient sums over s
    dq = dq_proj @ Wq
    dWq = dq_proj.T @ q
    dv = (de[:, :, None] * t).sum(axis=(0, 1))
    return dq, dkeys_proj, dvalues, dWq, dv


def dot_attention_forward(q, keys, values, mask, scaled=False):
    """Dot (or scaled dot) attention (eq. 8.2, 8.4, 8.5). q: (B, H); keys: (B, S, H); values:
    (B, S, Hv); mask: (B, S); scaled: divide the scores by sqrt(H).
    Returns ((context (B, Hv), weights (B, S)), DotAttentionCache)."""
    dims = _check(q, keys, values, mask, ("Hq",))
    scale = dims["Hq"] ** -0.5 if scaled else 1.0
    scores = (keys @ q[:, :, None])[..., 0] * scale  # eq. 8.2: l_s = kappa q . k_s
    weights = _masked_softmax(scores, mask)  # eq. 8.4
    context = _context(weights, values)  # eq. 8.5
    return (context, weights), DotAttentionCache(q, keys, values, scale, weights)


def dot_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys, dvalues (eq. 8.6, 8.7)."""
    dcontext, dweights = dout
    q, keys = cache.q, cache.keys
    da, dvalues = _context_backward(dcontext, dweights, cache.weights, cache.values)  # eq. 8.6
    de = masked_softmax_backward(da, cache.weights) * cache.scale  # eq. 8.7, through the scale
    dq = (de[:, None, :] @ keys)[:, 0]  # dq = kappa sum_s dl_s k_s
    dkeys = de[:, :, None] * q[:, None, :]  # dk_s = kappa dl_s q
    return dq, dkeys, dvalues


def general_attention_forward(q, keys, values, mask, W):
    """Luong's general attention (eq. 8.3-8.5). q: (B, Hq); keys: (B, S, Hk); values: (B, S, Hv);
    mask: (B, S); W: (Hq, Hk). Returns ((context (B, Hv), weights (B, S)), GeneralAttentionCache)."""
    dims = _check(q, keys, values, mask, ("Hk",))
    expect("W", W, ("Hq", "Hk"), dims)
    same_dtype(q=q, W=W)
    u = q @ W  # (B, Hk): q~ = q W, shared by every source position
    scores = (keys @ u[:, :, None])[..., 0]  # eq. 8.3: l_s = q~ . k_s
    weights = _masked_softmax(scores, mask)  # eq. 8.4
    context = _context(weights, values)  # eq. 8.5
    return (context, weights), GeneralAttentionCache(q, keys, values, W, u, weights)


def general_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys, dvalues, dW (eq. 8.6, 8.7)."""
    dcontext, dweights = dout
    q, keys, W, u = cache.q, cache.keys, cache.W, cache.u
    da, dvalues = _context_backward(dcontext, dweights, cache.weights, cache.values)  # eq. 8.6
    de = masked_softmax_backward(da, cache.weights)  # eq. 8.7
    du = (de[:, None, :] @ keys)[:, 0]  # l_s = q~ . k_s is a dot score: dq~ = sum_s dl_s k_s
    dkeys = de[:, :, None] * u[:, None, :]  # dk_s = dl_s q~
    dq = du @ W.T  # q~ = q W
    dW = q.T @ du
    return dq, dkeys, dvalues, dW
