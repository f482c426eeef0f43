"""The vanilla (Elman) RNN with tanh and its backward pass through time (lesson 03).

Weights use PyTorch's ``nn.RNN`` layout, so its parameters load unchanged:
``Wx`` = weight_ih (H, D), ``Wh`` = weight_hh (H, H), ``bx`` = bias_ih (H,), ``bh`` = bias_hh (H,).

Equations (the lessons use this numbering):

    eq. 3.1  a_t = x_t Wx^T + bx + h_{t-1} Wh^T + bh
    eq. 3.2  h_t = tanh(a_t)
    eq. 3.3  padding (m_t = 0): h_t = h_{t-1} and the output y_t = m_t h_t is 0
    eq. 3.4  da_t = dh_t * (1 - h_t^2)                       tanh' = 1 - tanh^2
    eq. 3.5  dx_t = da_t Wx,   dh_{t-1} <- da_t Wh
    eq. 3.6  BPTT: dh_t = dy_t + da_{t+1} Wh                 h_t feeds y_t and step t+1
    eq. 3.7  dWx = sum_t da_t^T x_t,  dWh = sum_t da_t^T h_{t-1},  dbx = dbh = sum_t da_t
    eq. 3.8  padding: da_t = 0 and dh_{t-1} = dh_t           the carried state passes through

Because the parameter gradients (eq. 3.7) are sums over time, the sequence backward stores
every da_t in one (B, T, H) buffer and forms dWx, dWh and dx as single matrix products after
the loop; likewise the forward projects all inputs x_t Wx^T in one product before it. Only
h_{t-1} Wh^T and the pointwise tanh stay inside the time loop.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect, same_dtype
from ._pointwise import keep, real_only, sequence_mask


def _check(x, h, Wx, Wh, bx, bh, x_spec, h_name):
    dims = expect("x", x, x_spec)
    expect("Wx", Wx, ("H", "D"), dims)
    expect("Wh", Wh, ("H", "H"), dims)
    expect("bx", bx, ("H",), dims)
    expect("bh", bh, ("H",), dims)
    expect(h_name, h, ("B", "H"), dims)
    same_dtype(x=x, **{h_name: h}, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    return dims


def _tanh_backward(dh, h):
    return dh * (1 - h * h)  # eq. 3.4: tanh' = 1 - tanh^2, from the output h alone


# --------------------------------------------------------------------------- one step


def rnn_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """h = tanh(x Wx^T + bx + h_prev Wh^T + bh)                         (eq. 3.1-3.2)

    x: (B, D); h_prev: (B, H); Wx: (H, D); Wh: (H, H); bx, bh: (H,). Returns (h (B, H), cache).
    """
    _check(x, h_prev, Wx, Wh, bx, bh, ("B", "D"), "h_prev")
    xp = B.get_array_module(x)
    h = xp.tanh(x @ Wx.T + h_prev @ Wh.T + (bx + bh))
    return h, (x, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """Returns dx (B, D), dh_prev (B, H), dWx, dWh, dbx, dbh.         (eq. 3.4-3.5, 3.7)"""
    x, h_prev, Wx, Wh, h = cache
    if dh is None:
        dh = B.get_array_module(h).zeros_like(h)
    da = _tanh_backward(dh, h)
    db = da.sum(axis=0)
    return da @ Wx, da @ Wh, da.T @ x, da.T @ h_prev, db, db.copy()


# --------------------------------------------------------------------------- a sequence


def rnn_forward(x, h0, Wx, Wh, bx, bh, mask=None, lengths=None):
    """Run the RNN over a padded batch.                                 (eq. 3.1-3.3)

    x: (B, T, D); h0: (B, H); mask: (B, T), 1/True on real tokens, each row real then padded;
    lengths: (B,) ints, an alternative to mask (neither: every token is real).
    Returns ((hs (B, T, H), h_last (B, H)), cache). hs is 0 at padded positions; h_last is
    the state after each row's last real token (h0 for a row of length 0).
    """
    dims = _check(x, h0, Wx, Wh, bx, bh, ("B", "T", "D"), "h0")
    m = sequence_mask(x, mask, lengths, dims)
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    # eq. 3.1: every step's input term in one product; the biases are added once here
    ax = (x.reshape(Bn * T, D) @ Wx.T + (bx + bh)).reshape(Bn, T, H)
    states = xp.empty((Bn, T, H), dtype=x.dtype)  # the state after each step, carried over padding
    h = h0
    for t in range(T):
        h_new = xp.tanh(ax[:, t] + h @ Wh.T)
        h = keep(None if m is None else m[:, t], h_new, h)  # eq. 3.3
        states[:, t] = h
    # a copy even without padding: the caller may change hs in place, backward reads states
    hs = states.copy() if m is None else xp.where(m, states, 0)
    return (hs, h), (x, h0, Wx, Wh, m, states)


def rnn_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H)), either may be None.     (eq. 3.4-3.8)

    Returns dx (B, T, D), dh0 (B, H), dWx, dWh, dbx, dbh. dx is exactly 0 at padded positions.
    """
    dhs, dh_last = dout
    x, h0, Wx, Wh, m, states = cache
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    da = xp.empty((Bn, T, H), dtype=x.dtype)
    dh = xp.zeros_like(h0) if dh_last is None else dh_last
    for t in reversed(range(T)):
        m_t = None if m is None else m[:, t]
        dh_t = dh if dhs is None else dh + dhs[:, t]  # eq. 3.6
        # eq. 3.8: a padded step's output is the constant 0 and its state a copy, so only the
        # carried dh passes it; states[:, t] is that step's tanh output wherever m_t is true
        da_t = _tanh_backward(real_only(m_t, dh_t), states[:, t])
        da[:, t] = da_t
        dh = keep(m_t, da_t @ Wh, dh)  # eq. 3.5
    # eq. 3.7 as single products over all B*T rows; h_{t-1} is h0 then the carried states
    h_prev = xp.concatenate([h0[:, None], states[:, :-1]], axis=1).reshape(Bn * T, H)
    da2 = da.reshape(Bn * T, H)
    dx = (da2 @ Wx).reshape(Bn, T, D)
    db = da2.sum(axis=0)
    return dx, dh, da2.T @ x.reshape(Bn * T, D), da2.T @ h_prev, db, db.copy()
