"""The forwards of the exercises: the library's functions, written out with a named cache.

A learner who writes a backward pass must know exactly what the forward saved. The library's
caches are private tuples laid out for speed; the forwards here compute the same functions
(``tests/exercises`` checks the equality on every backend) and return a ``NamedTuple`` whose
fields carry the lesson's symbols: ``cache.x``, ``cache.i``, ``cache.f``, ``cache.c_prev``...
A NamedTuple unpacks like a tuple too: ``x, W = cache``.

    exercise               library forward                                     lesson
    affine                 minis2s.functional.linear.affine_forward            02, eq. 2.1-2.2
    softmax_cross_entropy  minis2s.functional.losses.softmax_cross_entropy_forward
                                                                               02, eq. 2.5, 2.9-2.11
    rnn_step               minis2s.functional.rnn.rnn_step_forward             03, eq. 3.1-3.5, 3.7
    rnn_sequence           minis2s.functional.rnn.rnn_forward                  03, eq. 3.3, 3.6-3.8
    lstm_step              minis2s.functional.lstm.lstm_step_forward           04, eq. 4.1-4.9
    gru_step               minis2s.functional.gru.gru_step_forward             05, eq. 5.1-5.8
    additive_attention     minis2s.functional.attention.additive_attention_forward
                                                                               07, eq. 7.1, 7.4-7.8
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect, same_dtype


def sigmoid(a):
    """1 / (1 + exp(-a)), computed as 1 / (1 + e) for a >= 0 and e / (1 + e) for a < 0 with
    e = exp(-|a|) <= 1: exp never overflows, and both branches keep full relative precision."""
    xp = B.get_array_module(a)
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1.0, e) / (1.0 + e)


# --------------------------------------------------------------------------- lesson 02


class AffineCache(NamedTuple):
    """What :func:`affine_forward` saves. x: (B, D) the input; W: (H, D) the weight."""

    x: Any
    W: Any


def affine_forward(x, W, b):
    """y = x W^T + b                                                     (eq. 2.1)

    x: (B, D); W: (H, D), PyTorch's (out, in) layout; b: (H,). Returns (y (B, H), AffineCache).
    """
    dims = expect("W", W, ("H", "D"))
    expect("b", b, ("H",), dims)
    expect("x", x, ("B", "D"), dims)
    same_dtype(x=x, W=W, b=b)
    return x @ W.T + b, AffineCache(x, W)


class CrossEntropyCache(NamedTuple):
    """What :func:`softmax_cross_entropy_forward` saves.

    logits: (B, T, V) the raw scores z -- the backward computes p = softmax(z) itself (eq. 2.5);
    targets: (B, T) integer class ids; mask: (B, T) floats, 1 on real tokens and 0 on padding;
    n: a 0-d array, N = the number of real tokens (at least 1), the divisor of eq. 2.10.
    """

    logits: Any
    targets: Any
    mask: Any
    n: Any


def softmax_cross_entropy_forward(logits, targets, mask=None):
    """Mean cross-entropy over the real tokens of a padded batch (eq. 2.9-2.10, no smoothing).

    logits: (B, T, V); targets: (B, T) ints in [0, V); mask: (B, T), 1 on real tokens, or None
    when every token is real. Returns (loss, a 0-d array; CrossEntropyCache).
    """
    xp = B.get_array_module(logits)
    dims = expect("logits", logits, ("B", "T", "V"))
    expect("targets", targets, ("B", "T"), dims, kind="int")
    if mask is None:
        m = xp.ones(targets.shape, dtype=logits.dtype)
    else:
        expect("mask", mask, ("B", "T"), dims, kind="mask")
        m = (mask != 0).astype(logits.dtype)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # eq. 2.5: exp never overflows
    logp = shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))  # eq. 2.7
    nll = -xp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]  # eq. 2.9
    n = xp.maximum(m.sum(), 1.0)
    loss = (nll * m).sum() / n  # eq. 2.10: padding costs nothing, the mean is over real tokens
    return loss, CrossEntropyCache(logits, targets, m, n)


# --------------------------------------------------------------------------- lesson 03


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_forward` saves. x: (B, D); h_prev: (B, H); Wx: (H, D); Wh: (H, H);
    h: (B, H) the new state tanh(a) (eq. 3.2)."""

    x: Any
    h_prev: Any
    Wx: Any
    Wh: Any
    h: Any


def rnn_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """h = tanh(x Wx^T + bx + h_prev Wh^T + bh)                         (eq. 3.1-3.2)

    x: (B, D); h_prev: (B, H); Wx: (H, D); Wh: (H, H); bx, bh: (H,).
    Returns (h (B, H), RNNStepCache).
    """
    _check_cell(x, h_prev, Wx, Wh, bx, bh, gates=1)
    xp = B.get_array_module(x)
    a = x @ Wx.T + bx + h_prev @ Wh.T + bh  # eq. 3.1
    h = xp.tanh(a)  # eq. 3.2
    return h, RNNStepCache(x, h_prev, Wx, Wh, h)


def _check_cell(x, h_prev, Wx, Wh, bx, bh, gates):
    G = f"{gates}H" if gates > 1 else "H"
    dims = expect("x", x, ("B", "D"))
    expect("Wx", Wx, (G, "D"), dims)
    expect("Wh", Wh, (G, "H"), dims)
    expect("bx", bx, (G,), dims)
    expect("bh", bh, (G,), dims)
    expect("h_prev", h_prev, ("B", "H"), dims)
    same_dtype(x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    return dims



class RNNSequenceCache(NamedTuple):
    """What :func:`rnn_forward` saves. steps: a list of T :class:`RNNStepCache`, one per time
    step; mask: (B, T), 1.0 on real tokens and 0.0 on padding (each row real, then padded)."""

    steps: list
    mask: Any


def rnn_forward(x, h0, Wx, Wh, bx, bh, mask):
    """The RNN over a padded batch, one :func:`rnn_step_forward` per step (eq. 3.1-3.3).

    x: (B, T, D); h0: (B, H); mask: (B, T). Returns ((hs (B, T, H), h_last (B, H)),
    RNNSequenceCache): hs is 0 at padded steps and h_last is each row's state after its last
    real token (h0 for an empty row).
    """
    dims = expect("x", x, ("B", "T", "D"))
    expect("h0", h0, ("B", "H"), dims)
    expect("mask", mask, ("B", "T"), dims, kind="mask")
    xp = B.get_array_module(x)
    h, hs, steps = h0, [], []
    for t in range(x.shape[1]):
        h_new, step = rnn_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        m = mask[:, t, None]
        h = m * h_new + (1 - m) * h  # eq. 3.3: a padded step keeps the state...
        hs.append(m * h)  # ...and outputs 0
        steps.append(step)
    return (xp.stack(hs, axis=1), h), RNNSequenceCache(steps, mask)

# --------------------------------------------------------------------------- lesson 04


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_forward` saves.

    x: (B, D); h_prev, c_prev: (B, H); Wx: (4H, D); Wh: (4H, H);
    i, f, o: (B, H) the sigmoid gates (eq. 4.2); g: (B, H) the tanh candidate (eq. 4.3);
    c: (B, H) the new cell (eq. 4.4); tanh_c: (B, H) = tanh(c), so h = o * tanh_c (eq. 4.5).
    """

    x: Any
    h_prev: Any
    c_prev: Any
    Wx: Any
    Wh: Any
    i: Any
    f: Any
    g: Any
    o: Any
    c: Any
    tanh_c: Any


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, bx, bh):
    """One LSTM step, gates in PyTorch's order i, f, g, o               (eq. 4.1-4.5)

    x: (B, D); h_prev, c_prev: (B, H); Wx: (4H, D); Wh: (4H, H); bx, bh: (4H,).
    Returns ((h (B, H), c (B, H)), LSTMStepCache).
    """
    _check_cell(x, h_prev, Wx, Wh, bx, bh, gates=4)
    expect("c_prev", c_prev, tuple(h_prev.shape))
    xp = B.get_array_module(x)
    H = h_prev.shape[1]
    a = x @ Wx.T + bx + h_prev @ Wh.T + bh  # eq. 4.1: row blocks i, f, g, o of H each
    i = sigmoid(a[:, :H])  # eq. 4.2
    f = sigmoid(a[:, H : 2 * H])
    g = xp.tanh(a[:, 2 * H : 3 * H])  # eq. 4.3
    o = sigmoid(a[:, 3 * H :])
    c = f * c_prev + i * g  # eq. 4.4
    tanh_c = xp.tanh(c)
    h = o * tanh_c  # eq. 4.5
    return (h, c), LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, c, tanh_c)


# --------------------------------------------------------------------------- lesson 05


class GRUStepCache(NamedTuple):
    """What :func:`gru_step_forward` saves.

    x: (B, D); h_prev: (B, H); Wx: (3H, D); Wh: (3H, H);
    r, z: (B, H) the reset and update gates (eq. 5.2); n: (B, H) the candidate (eq. 5.3);
    ah_n: (B, H) = h_prev Wh_n^T + bh_n, the recurrent term that r scales (eq. 5.1, 5.3).
    """

    x: Any
    h_prev: Any
    Wx: Any
    Wh: Any
    r: Any
    z: Any
    n: Any
    ah_n: Any


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step, gates in PyTorch's order r, z, n                   (eq. 5.1-5.4)

    x: (B, D); h_prev: (B, H); Wx: (3H, D); Wh: (3H, H); bx, bh: (3H,).
    Returns (h (B, H), GRUStepCache).
    """
    _check_cell(x, h_prev, Wx, Wh, bx, bh, gates=3)
    xp = B.get_array_module(x)
    H = h_prev.shape[1]
    ax = x @ Wx.T + bx  # eq. 5.1: row blocks r, z, n of H each
    ah = h_prev @ Wh.T + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])  # eq. 5.2
    z = sigmoid(ax[:, H : 2 * H] + ah[:, H : 2 * H])
    ah_n = ah[:, 2 * H :]
    n = xp.tanh(ax[:, 2 * H :] + r * ah_n)  # eq. 5.3
    h = (1 - z) * n + z * h_prev  # eq. 5.4
    return h, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, ah_n)


# --------------------------------------------------------------------------- lesson 07


class AttentionCache(NamedTuple):
    """What :func:`additive_attention_forward` saves.

    q: (B, Hq) the query; values: (B, S, Hv); mask: (B, S), 1 on real source positions;
    Wq: (A, Hq); v: (A,); t: (B, S, A) = tanh(q Wq^T + k'_s), the hidden layer of eq. 7.1;
    weights: (B, S) the attention weights a_s (eq. 7.4), exactly 0 at padded positions.
    """

    q: Any
    values: Any
    mask: Any
    Wq: Any
    v: Any
    t: Any
    weights: Any


def additive_attention_forward(q, keys_proj, values, mask, Wq, v):
    """Bahdanau attention for one decoder query                         (eq. 7.1, 7.4, 7.5)

    q: (B, Hq); keys_proj: (B, S, A), the keys k'_s already projected; values: (B, S, Hv);
    mask: (B, S), 1 on real positions; Wq: (A, Hq); v: (A,).
    Returns ((context (B, Hv), weights (B, S)), AttentionCache).
    """
    dims = expect("q", q, ("B", "Hq"))
    expect("keys_proj", keys_proj, ("B", "S", "A"), dims)
    expect("values", values, ("B", "S", "Hv"), dims)
    expect("mask", mask, ("B", "S"), dims, kind="mask")
    expect("Wq", Wq, ("A", "Hq"), dims)
    expect("v", v, ("A",), dims)
    same_dtype(q=q, keys_proj=keys_proj, values=values, Wq=Wq, v=v)
    xp = B.get_array_module(q)
    t = xp.tanh(keys_proj + (q @ Wq.T)[:, None, :])  # eq. 7.1, (B, S, A)
    scores = t @ v  # (B, S)
    real = mask != 0
    # eq. 7.4: shift by the max over the real positions; a row without any keeps shift 0
    shift = xp.where(real, scores, -xp.inf).max(axis=1, keepdims=True)
    shift = xp.where(xp.isfinite(shift), shift, 0.0)
    e = xp.exp(xp.where(real, scores - shift, 0.0)) * real  # padding weighs exactly 0
    total = e.sum(axis=1, keepdims=True)
    weights = e / xp.where(total > 0, total, 1.0)
    context = (weights[:, :, None] * values).sum(axis=1)  # eq. 7.5
    return (context, weights), AttentionCache(q, values, mask, Wq, v, t, weights)
