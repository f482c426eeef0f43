"""The LSTM cell and sequence, forward and backward (lesson 04).

Weights use PyTorch's ``nn.LSTM`` layout, so its parameters load unchanged:
``Wx`` = weight_ih (4H, D), ``Wh`` = weight_hh (4H, H), ``bx`` = bias_ih (4H,),
``bh`` = bias_hh (4H,), the four row blocks being the gates i, f, g, o in that order.

Equations (the lessons use this numbering):

    eq. 4.1  a = x Wx^T + bx + h_prev Wh^T + bh = [a_i, a_f, a_g, a_o]      (B, 4H)
    eq. 4.2  i = sigmoid(a_i),  f = sigmoid(a_f),  o = sigmoid(a_o)
    eq. 4.3  g = tanh(a_g)
    eq. 4.4  c = f * c_prev + i * g
    eq. 4.5  h = o * tanh(c)
    eq. 4.6  dc_total = dc + dh * o * (1 - tanh(c)^2)       c reaches the loss directly and via h
    eq. 4.7  di = dc_total * g,  df = dc_total * c_prev,  dg = dc_total * i,  do = dh * tanh(c),
             dc_prev = dc_total * f
    eq. 4.8  da_{i,f,o} = d{i,f,o} * s (1 - s) with s the gate (sigmoid' = s (1 - s)),
             da_g = dg * (1 - g^2)
    eq. 4.9  dx = da Wx,  dh_prev = da Wh,  dWx = sum_t da_t^T x_t,  dWh = sum_t da_t^T h_{t-1},
             dbx = dbh = sum_t da_t
    eq. 4.10 padding (m_t = 0): h_t = h_{t-1}, c_t = c_{t-1}, output 0; backward da_t = 0 and
             (dh, dc) pass the step unchanged

:func:`lstm_gates_forward` / :func:`lstm_gates_backward` (eq. 4.2-4.8) are the one
implementation of the gate math: the step, the sequence and the attention decoder call them.
The sequence functions project all inputs in one product before the time loop and form dWx,
dWh and dx as single products after it, from a (B, T, 4H) buffer of the da_t.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect, same_dtype
from ._pointwise import keep, real_only, sequence_mask, sigmoid


# --------------------------------------------------------------------------- the gates


def _gates_forward(a, c_prev):
    xp = B.get_array_module(a)
    H = c_prev.shape[1]
    act = sigmoid(a)  # eq. 4.2, on all four blocks; the g block is overwritten next
    act[:, 2 * H : 3 * H] = xp.tanh(a[:, 2 * H : 3 * H])  # eq. 4.3
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    c = f * c_prev + i * g  # eq. 4.4
    tanh_c = xp.tanh(c)
    h = o * tanh_c  # eq. 4.5
    return (h, c), (act, c_prev, tanh_c)


def _gates_backward(dh, dc, cache, out=None):
    act, c_prev, tanh_c = cache
    xp = B.get_array_module(act)
    H = c_prev.shape[1]
    i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
    if dh is None:
        dh = xp.zeros_like(c_prev)
    dc_total = dh * o * (1 - tanh_c * tanh_c)  # eq. 4.6
    if dc is not None:
        dc_total += dc
    da = xp.empty_like(act) if out is None else out
    da[:, :H] = dc_total * g  # eq. 4.7
    da[:, H : 2 * H] = dc_total * c_prev
    da[:, 2 * H : 3 * H] = dc_total * i
    da[:, 3 * H :] = dh * tanh_c
    slope = act * (1 - act)  # eq. 4.8: sigmoid' = s (1 - s) for i, f, o ...
    slope[:, 2 * H : 3 * H] = 1 - g * g  # ... and tanh' = 1 - g^2 for g
    da *= slope
    return da, dc_total * f


def lstm_gates_forward(a, c_prev):
    """The pointwise LSTM cell on given pre-activations.               (eq. 4.2-4.5)

    a: (B, 4H), blocks i, f, g, o; c_prev: (B, H). Returns ((h (B, H), c (B, H)), cache).
    """
    dims = expect("c_prev", c_prev, ("B", "H"))
    expect("a", a, ("B", "4H"), dims)
    same_dtype(a=a, c_prev=c_prev)
    return _gates_forward(a, c_prev)


def lstm_gates_backward(dout, cache):
    """dout = (dh, dc), each (B, H) or None. Returns da (B, 4H), dc_prev (B, H). (eq. 4.6-4.8)"""
    dh, dc = dout
    return _gates_backward(dh, dc, cache)


# --------------------------------------------------------------------------- one step


def _check(x, h, c, Wx, Wh, bx, bh, x_spec, h_name, c_name):
    dims = expect("x", x, x_spec)
    expect("Wx", Wx, ("4H", "D"), dims)
    expect("Wh", Wh, ("4H", "H"), dims)
    expect("bx", bx, ("4H",), dims)
    expect("bh", bh, ("4H",), dims)
    expect(h_name, h, ("B", "H"), dims)
    expect(c_name, c, ("B", "H"), dims)
    same_dtype(x=x, **{h_name: h, c_name: c}, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    return dims


def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, bx, bh):
    """One LSTM step.                                                   (eq. 4.1-4.5)

    x: (B, D); h_prev, c_prev: (B, H); Wx: (4H, D); Wh: (4H, H); bx, bh: (4H,).
    Returns ((h (B, H), c (B, H)), cache).
    """
    _check(x, h_prev, c_prev, Wx, Wh, bx, bh, ("B", "D"), "h_prev", "c_prev")
    a = x @ Wx.T + h_prev @ Wh.T + (bx + bh)  # eq. 4.1
    state, gates = _gates_forward(a, c_prev)
    return state, (x, h_prev, Wx, Wh, gates)


def lstm_step_backward(dout, cache):
    """dout = (dh, dc), either may be None.                             (eq. 4.6-4.9)

    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dWx, dWh, dbx, dbh.
    """
    dh, dc = dout
    x, h_prev, Wx, Wh, gates = cache
    da, dc_prev = _gates_backward(dh, dc, gates)
    db = da.sum(axis=0)
    return da @ Wx, da @ Wh, dc_prev, da.T @ x, da.T @ h_prev, db, db.copy()


# --------------------------------------------------------------------------- a sequence


def lstm_forward(x, h0, c0, Wx, Wh, bx, bh, mask=None, lengths=None):
    """Run the LSTM over a padded batch.                                (eq. 4.1-4.5, 4.10)

    x: (B, T, D); h0, c0: (B, H); mask: (B, T), 1/True on real tokens, each row real then
    padded; lengths: (B,) ints, an alternative to mask (neither: every token is real).
    Returns ((hs (B, T, H), h_last (B, H), c_last (B, H)), cache). hs is 0 at padded
    positions; h_last, c_last are the state after each row's last real token (h0, c0 for a
    row of length 0).
    """
    dims = _check(x, h0, c0, Wx, Wh, bx, bh, ("B", "T", "D"), "h0", "c0")
    m = sequence_mask(x, mask, lengths, dims)
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    # eq. 4.1: every step's input term in one product; the biases are added once here
    ax = (x.reshape(Bn * T, D) @ Wx.T + (bx + bh)).reshape(Bn, T, 4 * H)
    states = xp.empty((Bn, T, H), dtype=x.dtype)  # h after each step, carried over padding
    gates = []
    h, c = h0, c0
    for t in range(T):
        (h_new, c_new), cache_t = _gates_forward(ax[:, t] + h @ Wh.T, c)
        gates.append(cache_t)
        m_t = None if m is None else m[:, t]
        h, c = keep(m_t, h_new, h), keep(m_t, c_new, c)  # eq. 4.10
        states[:, t] = h
    # a copy even without padding: the caller may change hs in place, backward reads states
    hs = states.copy() if m is None else xp.where(m, states, 0)
    return (hs, h, c), (x, h0, Wx, Wh, m, states, gates)


def lstm_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H), dc_last (B, H)), any may be None. (eq. 4.6-4.10)

    Returns dx (B, T, D), dh0 (B, H), dc0 (B, H), dWx, dWh, dbx, dbh. dx is exactly 0 at
    padded positions.
    """
    dhs, dh_last, dc_last = dout
    x, h0, Wx, Wh, m, states, gates = cache
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    da = xp.empty((Bn, T, 4 * H), dtype=x.dtype)
    dh = xp.zeros_like(h0) if dh_last is None else dh_last
    dc = xp.zeros_like(h0) if dc_last is None else dc_last
    for t in reversed(range(T)):
        m_t = None if m is None else m[:, t]
        dh_t = dh if dhs is None else dh + dhs[:, t]  # h_t feeds hs[:, t] and step t+1
        # eq. 4.10: on padded rows the cell sees no gradient, so da_t is written as exactly 0
        da_t, dc_prev = _gates_backward(real_only(m_t, dh_t), real_only(m_t, dc), gates[t], out=da[:, t])
        dh = keep(m_t, da_t @ Wh, dh)  # eq. 4.9
        dc = keep(m_t, dc_prev, dc)
    # eq. 4.9 as single products over all B*T rows; h_{t-1} is h0 then the carried states
    h_prev = xp.concatenate([h0[:, None], states[:, :-1]], axis=1).reshape(Bn * T, H)
    da2 = da.reshape(Bn * T, 4 * H)
    dx = (da2 @ Wx).reshape(Bn, T, D)
    db = da2.sum(axis=0)
    return dx, dh, dc, da2.T @ x.reshape(Bn * T, D), da2.T @ h_prev, db, db.copy()
