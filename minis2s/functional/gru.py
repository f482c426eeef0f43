"""The GRU cell and sequence, forward and backward (lesson 05).

Weights use PyTorch's ``nn.GRU`` layout, so its parameters load unchanged:
``Wx`` = weight_ih (3H, D), ``Wh`` = weight_hh (3H, H), ``bx`` = bias_ih (3H,),
``bh`` = bias_hh (3H,), the three row blocks being r (reset), z (update), n (new) in that order.
Unlike the LSTM, the two biases cannot be merged: the reset gate scales ``h Wh_n^T + bh_n``.

Equations (the lessons use this numbering):

    eq. 5.1  ax = x Wx^T + bx = [ax_r, ax_z, ax_n],  ah = h_prev Wh^T + bh = [ah_r, ah_z, ah_n]
    eq. 5.2  r = sigmoid(ax_r + ah_r),  z = sigmoid(ax_z + ah_z)
    eq. 5.3  n = tanh(ax_n + r * ah_n)
    eq. 5.4  h = (1 - z) * n + z * h_prev
    eq. 5.5  dn = dh * (1 - z),  dz = dh * (h_prev - n),  dh_prev <- dh * z   (the direct path)
    eq. 5.6  dax_n = dn * (1 - n^2),  dah_n = dax_n * r,  dr = dax_n * ah_n
    eq. 5.7  dax_{r,z} = dah_{r,z} = d{r,z} * s (1 - s) with s the gate
    eq. 5.8  dx = dax Wx,  dh_prev = dh * z + dah Wh,  dWx = sum_t dax_t^T x_t,
             dWh = sum_t dah_t^T h_{t-1},  dbx = sum_t dax_t,  dbh = sum_t dah_t
    eq. 5.9  padding (m_t = 0): h_t = h_{t-1}, output 0; backward dax_t = dah_t = 0 and dh
             passes the step unchanged

:func:`gru_gates_forward` / :func:`gru_gates_backward` (eq. 5.2-5.7) are the one implementation
of the gate math, shared by the step and the sequence functions. The sequence functions project
all inputs in one product before the time loop and form dWx, dWh and dx as single products
after it, from (B, T, 3H) buffers of the dax_t and dah_t.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect, same_dtype
from ._pointwise import keep, real_only, sequence_mask, sigmoid


# --------------------------------------------------------------------------- the gates


def _gates_forward(ax, ah, h_prev):
    xp = B.get_array_module(ax)
    H = h_prev.shape[1]
    rz = sigmoid(ax[:, : 2 * H] + ah[:, : 2 * H])  # eq. 5.2
    r, z = rz[:, :H], rz[:, H:]
    ah_n = ah[:, 2 * H :]
    n = xp.tanh(ax[:, 2 * H :] + r * ah_n)  # eq. 5.3
    h = n + z * (h_prev - n)  # eq. 5.4, written with one product fewer
    return h, (rz, n, ah_n, h_prev)


def _gates_backward(dh, cache, out=None):
    rz, n, ah_n, h_prev = cache
    xp = B.get_array_module(rz)
    H = h_prev.shape[1]
    r, z = rz[:, :H], rz[:, H:]
    if out is None:
        out = xp.empty((2, dh.shape[0], 3 * H), dtype=dh.dtype)
    dax, dah = out
    dax_n = dh * (1 - z) * (1 - n * n)  # eq. 5.5 then 5.6: tanh' = 1 - n^2
    dax[:, 2 * H :] = dax_n
    dah[:, 2 * H :] = dax_n * r  # eq. 5.6: r scales ah_n
    dax[:, :H] = dax_n * ah_n  # dr
    dax[:, H : 2 * H] = dh * (h_prev - n)  # dz, eq. 5.5
    dax[:, : 2 * H] *= rz * (1 - rz)  # eq. 5.7: sigmoid' = s (1 - s)
    dah[:, : 2 * H] = dax[:, : 2 * H]  # r and z see ax and ah only through their sum
    return dax, dah, dh * z  # eq. 5.5: the direct path into h_prev


def gru_gates_forward(ax, ah, h_prev):
    """The pointwise GRU cell on given projections.                     (eq. 5.2-5.4)

    ax = x Wx^T + bx: (B, 3H); ah = h_prev Wh^T + bh: (B, 3H); h_prev: (B, H).
    Returns (h (B, H), cache).
    """
    dims = expect("h_prev", h_prev, ("B", "H"))
    expect("ax", ax, ("B", "3H"), dims)
    expect("ah", ah, ("B", "3H"), dims)
    same_dtype(ax=ax, ah=ah, h_prev=h_prev)
    return _gates_forward(ax, ah, h_prev)


def gru_gates_backward(dh, cache):
    """Returns dax (B, 3H), dah (B, 3H), dh_prev (B, H).                (eq. 5.5-5.7)

    dh_prev is only the direct path dh * z; the path through ah is the caller's dah Wh.
    """
    if dh is None:
        dh = B.get_array_module(cache[3]).zeros_like(cache[3])
    return _gates_backward(dh, cache)


# --------------------------------------------------------------------------- one step


def _check(x, h, Wx, Wh, bx, bh, x_spec, h_name):
    dims = expect("x", x, x_spec)
    expect("Wx", Wx, ("3H", "D"), dims)
    expect("Wh", Wh, ("3H", "H"), dims)
    expect("bx", bx, ("3H",), dims)
    expect("bh", bh, ("3H",), dims)
    expect(h_name, h, ("B", "H"), dims)
    same_dtype(x=x, **{h_name: h}, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    return dims


def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """One GRU step.                                                    (eq. 5.1-5.4)

    x: (B, D); h_prev: (B, H); Wx: (3H, D); Wh: (3H, H); bx, bh: (3H,).
    Returns (h (B, H), cache).
    """
    _check(x, h_prev, Wx, Wh, bx, bh, ("B", "D"), "h_prev")
    h, gates = _gates_forward(x @ Wx.T + bx, h_prev @ Wh.T + bh, h_prev)  # eq. 5.1
    return h, (x, h_prev, Wx, Wh, gates)


def gru_step_backward(dh, cache):
    """Returns dx (B, D), dh_prev (B, H), dWx, dWh, dbx, dbh.           (eq. 5.5-5.8)"""
    x, h_prev, Wx, Wh, gates = cache
    if dh is None:
        dh = B.get_array_module(h_prev).zeros_like(h_prev)
    dax, dah, dh_direct = _gates_backward(dh, gates)
    dh_prev = dh_direct + dah @ Wh  # eq. 5.8
    return dax @ Wx, dh_prev, dax.T @ x, dah.T @ h_prev, dax.sum(axis=0), dah.sum(axis=0)


# --------------------------------------------------------------------------- a sequence


def gru_forward(x, h0, Wx, Wh, bx, bh, mask=None, lengths=None):
    """Run the GRU over a padded batch.                                 (eq. 5.1-5.4, 5.9)

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
    ax = (x.reshape(Bn * T, D) @ Wx.T + bx).reshape(Bn, T, 3 * H)  # eq. 5.1, all steps at once
    states = xp.empty((Bn, T, H), dtype=x.dtype)  # h after each step, carried over padding
    gates = []
    h = h0
    for t in range(T):
        h_new, cache_t = _gates_forward(ax[:, t], h @ Wh.T + bh, h)
        gates.append(cache_t)
        h = keep(None if m is None else m[:, t], h_new, h)  # eq. 5.9
        states[:, t] = h
    # a copy even without padding: the caller may change hs in place, backward reads states
    hs = states.copy() if m is None else xp.where(m, states, 0)
    return (hs, h), (x, h0, Wx, Wh, m, states, gates)


def gru_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H)), either may be None.      (eq. 5.5-5.9)

    Returns dx (B, T, D), dh0 (B, H), dWx, dWh, dbx, dbh. dx is exactly 0 at padded positions.
    """
    dhs, dh_last = dout
    x, h0, Wx, Wh, m, states, gates = cache
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    dax = xp.empty((Bn, T, 3 * H), dtype=x.dtype)
    dah = xp.empty((Bn, T, 3 * H), dtype=x.dtype)
    dh = xp.zeros_like(h0) if dh_last is None else dh_last
    for t in reversed(range(T)):
        m_t = None if m is None else m[:, t]
        dh_t = dh if dhs is None else dh + dhs[:, t]  # h_t feeds hs[:, t] and step t+1
        # eq. 5.9: on padded rows the cell sees no gradient, so dax_t, dah_t are exactly 0
        _, dah_t, dh_direct = _gates_backward(real_only(m_t, dh_t), gates[t], out=(dax[:, t], dah[:, t]))
        dh = keep(m_t, dh_direct + dah_t @ Wh, dh)  # eq. 5.8
    # eq. 5.8 as single products over all B*T rows; h_{t-1} is h0 then the carried states
    h_prev = xp.concatenate([h0[:, None], states[:, :-1]], axis=1).reshape(Bn * T, H)
    dax2 = dax.reshape(Bn * T, 3 * H)
    dah2 = dah.reshape(Bn * T, 3 * H)
    dx = (dax2 @ Wx).reshape(Bn, T, D)
    return dx, dh, dax2.T @ x.reshape(Bn * T, D), dah2.T @ h_prev, dax2.sum(axis=0), dah2.sum(axis=0)
