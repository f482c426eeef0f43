"""Attention over a padded source, one decoder query at a time (lesson 07).

A score e_s per source position, a masked softmax, a weighted sum of the values:

    eq. 7.1  additive (Bahdanau):  e_s = v . tanh(Wq q + k'_s),  k'_s = Wk k_s projected once per batch
    eq. 7.2  dot (Luong):          e_s = q . k_s        scaled dot: e_s = q . k_s / sqrt(H)
    eq. 7.3  general (Luong):      e_s = q^T W k_s
    eq. 7.4  masked softmax:       a_s = m_s exp(e_s - c) / sum_j m_j exp(e_j - c),  c = max over real j
    eq. 7.5  context:              c = sum_s a_s v_s
    eq. 7.6  backward of 7.5:      da_s = v_s . dc,  dv_s = a_s dc
    eq. 7.7  backward of 7.4:      de_s = a_s (da_s - sum_j a_j da_j)   (0 at padding, since a_s = 0)
    eq. 7.8  backward of 7.1:      du = (de_s v) * (1 - tanh^2),  dk'_s = du,  dq = Wq^T sum_s du,
                                   dWq = sum_s du q^T,  dv = sum_s de_s tanh(...)

Padded positions get exactly zero weight, not a small one: they are multiplied by the mask
after the exponential. A row with no real position gets all-zero weights and a zero context.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect, same_dtype


def masked_softmax_forward(scores, mask):
    """scores: (B, S); mask: (B, S), 1 (or True) on real positions. Returns (weights (B, S), cache)
    (eq. 7.4). Padded positions get exactly 0; a row with no real position gets all zeros."""
    dims = expect("scores", scores, ("B", "S"))
    expect("mask", mask, ("B", "S"), dims, kind="mask")
    return _masked_softmax(scores, mask)


def _masked_softmax(scores, mask):
    """(eq. 7.4) without argument checks: the attention kinds call it once per decoder step."""
    xp = B.get_array_module(scores)
    real = mask != 0
    c = xp.where(real, scores, -xp.inf).max(axis=1, keepdims=True)
    c = xp.where(xp.isfinite(c), c, 0.0)  # an all-padding row has no max; any finite shift will do
    # exp(0) at padding keeps exp finite whatever the padded scores hold; the mask then zeroes it
    e = xp.exp(xp.where(real, scores - c, 0.0)) * real
    denom = e.sum(axis=1, keepdims=True)
    w = e / xp.where(denom > 0, denom, 1.0)  # an all-padding row: 0 / 1, not 0 / 0
    return w, w


def masked_softmax_backward(dw, cache):
    """Returns dscores (eq. 7.7)."""
    w = cache
    return w * (dw - (w * dw).sum(axis=1, keepdims=True))


def _context(w, values):
    """(eq. 7.5) as one batched product: (B, 1, S) @ (B, S, Hv)."""
    return (w[:, None, :] @ values)[:, 0]


def _context_backward(dcontext, dweights, w, values):
    """(eq. 7.6). Returns (dw, dvalues)."""
    dw = (values @ dcontext[:, :, None])[..., 0]
    if dweights is not None:
        dw = dw + dweights
    return dw, w[:, :, None] * dcontext[:, None, :]


def _check(q, keys, values, mask, kspec, keys_name="keys"):
    dims = expect("q", q, ("B", "Hq"))
    expect(keys_name, keys, ("B", "S") + kspec, dims)
    expect("values", values, ("B", "S", "Hv"), dims)
    expect("mask", mask, ("B", "S"), dims, kind="mask")
    same_dtype(q=q, keys=keys, values=values)
    return dims


def additive_attention_forward(q, keys_proj, values, mask, Wq, v):
    """Bahdanau attention (eq. 7.1, 7.4, 7.5).

    q: (B, Hq) the decoder's query; keys_proj: (B, S, A), the encoder outputs already projected
    by ``Wk`` -- done once per batch with ``affine_forward``, not once per step; values:
    (B, S, Hv); mask: (B, S); Wq: (A, Hq); v: (A,). Returns ((context (B, Hv), weights (B, S)), cache).
    """
    dims = _check(q, keys_proj, values, mask, ("A",), "keys_proj")
    expect("Wq", Wq, ("A", "Hq"), dims)
    expect("v", v, ("A",), dims)
    same_dtype(q=q, Wq=Wq, v=v)
    xp = B.get_array_module(q)
    t = xp.tanh(keys_proj + (q @ Wq.T)[:, None, :])  # (B, S, A)
    scores = t @ v
    w, wc = _masked_softmax(scores, mask)
    return (_context(w, values), w), (q, values, Wq, v, t, w, wc)


def additive_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys_proj, dvalues, dWq, dv (eq. 7.6-7.8)."""
    dcontext, dweights = dout
    q, values, Wq, v, t, w, wc = cache
    dw, dvalues = _context_backward(dcontext, dweights, w, values)
    de = masked_softmax_backward(dw, wc)  # (B, S)
    dv = (t * de[:, :, None]).sum(axis=(0, 1))
    du = de[:, :, None] * v * (1.0 - t * t)  # (B, S, A); tanh' = 1 - tanh^2 (eq. 3.10)
    dqp = du.sum(axis=1)  # the query term is broadcast over S, so its gradient sums over S
    return dqp @ Wq, du, dvalues, dqp.T @ q, dv


def dot_attention_forward(q, keys, values, mask, scaled=False):
    """Dot (or scaled dot) attention (eq. 7.2, 7.4, 7.5). q: (B, H); keys: (B, S, H); values:
    (B, S, Hv); mask: (B, S); scaled: divide the scores by sqrt(H).
    Returns ((context (B, Hv), weights (B, S)), cache)."""
    dims = _check(q, keys, values, mask, ("Hq",))
    scale = dims["Hq"] ** -0.5 if scaled else 1.0
    scores = (keys @ q[:, :, None])[..., 0] * scale
    w, wc = _masked_softmax(scores, mask)
    return (_context(w, values), w), (q, keys, values, scale, w, wc)


def dot_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys, dvalues (eq. 7.6, 7.7)."""
    dcontext, dweights = dout
    q, keys, values, scale, w, wc = cache
    dw, dvalues = _context_backward(dcontext, dweights, w, values)
    de = masked_softmax_backward(dw, wc) * scale
    return (de[:, None, :] @ keys)[:, 0], de[:, :, None] * q[:, None, :], dvalues


def general_attention_forward(q, keys, values, mask, W):
    """Luong's general attention (eq. 7.3-7.5). q: (B, Hq); keys: (B, S, Hk); values: (B, S, Hv);
    mask: (B, S); W: (Hq, Hk). Returns ((context (B, Hv), weights (B, S)), cache)."""
    dims = _check(q, keys, values, mask, ("Hk",))
    expect("W", W, ("Hq", "Hk"), dims)
    same_dtype(q=q, W=W)
    u = q @ W  # (B, Hk): q^T W, shared by every source position
    scores = (keys @ u[:, :, None])[..., 0]
    w, wc = _masked_softmax(scores, mask)
    return (_context(w, values), w), (q, keys, values, W, u, w, wc)


def general_attention_backward(dout, cache):
    """dout = (dcontext, dweights or None). Returns dq, dkeys, dvalues, dW (eq. 7.6, 7.7)."""
    dcontext, dweights = dout
    q, keys, values, W, u, w, wc = cache
    dw, dvalues = _context_backward(dcontext, dweights, w, values)
    de = masked_softmax_backward(dw, wc)
    du = (de[:, None, :] @ keys)[:, 0]
    return du @ W.T, de[:, :, None] * u[:, None, :], dvalues, q.T @ du
