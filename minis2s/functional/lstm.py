"""The LSTM cell and sequence, forward and backward (lesson 04).

Weights use PyTorch's ``nn.LSTM`` layout, so its parameters load unchanged:
``Wx`` = weight_ih (4H, D), ``Wh`` = weight_hh (4H, H), ``bx`` = bias_ih (4H,),
``bh`` = bias_hh (4H,), the four row blocks being the gates i, f, g, o in that order.

Equations (the lessons use this numbering):

    eq. 4.1  a = x Wx^T + bx + h_prev Wh^T + bh = [a_i, a_f, a_g, a_o]      (B, 4H)
    eq. 4.2  i = sigmoid(a_i),  f = sigmoid(a_f),  o = sigmoid(a_o)   (sigmoid: eq. 4.3)
    eq. 4.4  g = tanh(a_g)
    eq. 4.5  c = f * c_prev + i * g
    eq. 4.6  h = o * tanh(c)
    eq. 4.7  dc_total = dc + dh * o * (1 - tanh(c)^2)       c reaches the loss directly and via h
    eq. 4.8  di = dc_total * g,  df = dc_total * c_prev,  dg = dc_total * i,  do = dh * tanh(c),
             dc_prev = dc_total * f
    eq. 4.9  da_{i,f,o} = d{i,f,o} * s (1 - s) with s the gate (sigmoid' = s (1 - s)),
             da_g = dg * (1 - g^2)
    eq. 4.10 dx = da Wx,  dh_prev = da Wh,  dWx = sum_t da_t^T x_t,  dWh = sum_t da_t^T h_{t-1},
             dbx = dbh = sum_t da_t
    eq. 4.11 padding (M_t = 0): h_t = h_{t-1}, c_t = c_{t-1}, output 0; backward da_t = 0 and
             (dh, dc) pass the step unchanged

:func:`lstm_gates_forward` / :func:`lstm_gates_backward` (eq. 4.2-4.9) are the one
implementation of the gate math: the step and the sequence call them (and through the step,
the decoder). The sequence functions project all inputs in one product before the time loop
and form dWx, dWh and dx as single products after it, from a (B, T, 4H) array of the da_t.
Each forward returns a named cache whose fields are the symbols above.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect, same_dtype
from ._pointwise import sequence_mask, sigmoid


class LSTMGatesCache(NamedTuple):
    """What :func:`lstm_gates_forward` saves for :func:`lstm_gates_backward`.

    c_prev: (B, H), the previous cell; i, f, o: (B, H), the sigmoid gates (eq. 4.2); g: (B, H),
    the tanh candidate (eq. 4.4); tanh_c: (B, H) = tanh(c), so h = o * tanh_c (eq. 4.6).
    The gates are activations, not pre-activations: their slopes are read off them (eq. 4.9).
    """

    c_prev: Any
    i: Any
    f: Any
    g: Any
    o: Any
    tanh_c: Any


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_forward` saves for :func:`lstm_step_backward`: the step's inputs
    x: (B, D), h_prev: (B, H), Wx: (4H, D), Wh: (4H, H), and every field of
    :class:`LSTMGatesCache` (c_prev, i, f, g, o, tanh_c), so it serves as the gates' cache too."""

    x: Any
    h_prev: Any
    c_prev: Any
    Wx: Any
    Wh: Any
    i: Any
    f: Any
    g: Any
    o: Any
    tanh_c: Any


class LSTMCache(NamedTuple):
    """What :func:`lstm_forward` saves for :func:`lstm_backward`.

    x: (B, T, D); h0: (B, H); Wx: (4H, D); Wh: (4H, H); mask: (B, T, 1) bool, M_t, True on real
    tokens; h: (B, T, H), the state h_t after every step, carried over padding (eq. 4.11);
    gates: a list of T :class:`LSTMGatesCache`, one per step.
    """

    x: Any
    h0: Any
    Wx: Any
    Wh: Any
    mask: Any
    h: Any
    gates: list

    def step(self, t: int) -> LSTMStepCache:
        """Step t's cache, as :func:`lstm_step_forward` saves it: its input, the state it read
        (h0, then the carried h_{t-1}) and its gates. On a padded row the gates were computed
        but not kept; that row gets no gradient there (eq. 4.11)."""
        h_prev = self.h0 if t == 0 else self.h[:, t - 1]
        return LSTMStepCache(x=self.x[:, t], h_prev=h_prev, Wx=self.Wx, Wh=self.Wh, **self.gates[t]._asdict())


# --------------------------------------------------------------------------- the gates


def lstm_gates_forward(a, c_prev):
    """The pointwise LSTM cell on given pre-activations.               (eq. 4.2-4.6)

    a: (B, 4H), blocks i, f, g, o; c_prev: (B, H). Returns ((h (B, H), c (B, H)), LSTMGatesCache).
    """
    dims = expect("c_prev", c_prev, ("B", "H"))
    expect("a", a, ("B", "4H"), dims)
    same_dtype(a=a, c_prev=c_prev)
    xp = B.get_array_module(a)
    a_i, a_f, a_g, a_o = xp.split(a, 4, axis=1)  # eq. 4.1: the row blocks i, f, g, o
    i = sigmoid(a_i)  # eq. 4.2
    f = sigmoid(a_f)
    g = xp.tanh(a_g)  # eq. 4.4
    o = sigmoid(a_o)
    c = f * c_prev + i * g  # eq. 4.5
    tanh_c = xp.tanh(c)
    h = o * tanh_c  # eq. 4.6
    return (h, c), LSTMGatesCache(c_prev, i, f, g, o, tanh_c)


def lstm_gates_backward(dout, cache):
    """dout = (dh, dc), each (B, H). Returns da (B, 4H), dc_prev (B, H).  (eq. 4.7-4.9)

    cache: an :class:`LSTMGatesCache`, or any cache with its fields (an :class:`LSTMStepCache`).
    """
    dh, dc = dout
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    xp = B.get_array_module(i)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)  # eq. 4.7: c reaches the loss directly and via h
    di = dc_total * g  # eq. 4.8
    df = dc_total * cache.c_prev
    dg = dc_total * i
    do = dh * tanh_c
    dc_prev = dc_total * f
    da_i = di * i * (1 - i)  # eq. 4.9: sigmoid' = s (1 - s) (eq. 4.3) ...
    da_f = df * f * (1 - f)
    da_g = dg * (1 - g * g)  # ... and tanh' = 1 - g^2 (eq. 3.3)
    da_o = do * o * (1 - o)
    da = xp.concatenate([da_i, da_f, da_g, da_o], axis=1)  # the blocks of a: i, f, g, o
    return da, dc_prev


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
    """One LSTM step.                                                   (eq. 4.1-4.6)

    x: (B, D); h_prev, c_prev: (B, H); Wx: (4H, D); Wh: (4H, H); bx, bh: (4H,).
    Returns ((h (B, H), c (B, H)), LSTMStepCache).
    """
    _check(x, h_prev, c_prev, Wx, Wh, bx, bh, ("B", "D"), "h_prev", "c_prev")
    a = x @ Wx.T + bx + h_prev @ Wh.T + bh  # eq. 4.1
    (h, c), gates = lstm_gates_forward(a, c_prev)  # eq. 4.2-4.6
    return (h, c), LSTMStepCache(x=x, h_prev=h_prev, Wx=Wx, Wh=Wh, **gates._asdict())


def lstm_step_backward(dout, cache):
    """dout = (dh, dc), each (B, H).                                    (eq. 4.7-4.10)

    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dWx, dWh, dbx, dbh.
    """
    da, dc_prev = lstm_gates_backward(dout, cache)  # eq. 4.7-4.9
    dx = da @ cache.Wx  # eq. 4.10
    dh_prev = da @ cache.Wh
    dWx = da.T @ cache.x
    dWh = da.T @ cache.h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db, db.copy()


# --------------------------------------------------------------------------- a sequence


def lstm_forward(x, h0, c0, Wx, Wh, bx, bh, mask=None, lengths=None):
    """Run the LSTM over a padded batch.                                (eq. 4.1-4.6, 4.11)

    x: (B, T, D); h0, c0: (B, H); mask: (B, T), 1/True on real tokens, each row real then
    padded; lengths: (B,) ints, an alternative to mask (neither: every token is real).
    Returns ((hs (B, T, H), h_last (B, H), c_last (B, H)), LSTMCache). hs is 0 at padded
    positions; h_last, c_last are the state after each row's last real token (h0, c0 for a
    row of length 0).
    """
    dims = _check(x, h0, c0, Wx, Wh, bx, bh, ("B", "T", "D"), "h0", "c0")
    m = sequence_mask(x, mask, lengths, dims)
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    # eq. 4.1's input term x_t Wx^T + bx + bh, for every step at once in one product
    ax = (x.reshape(Bn * T, D) @ Wx.T + bx + bh).reshape(Bn, T, 4 * H)
    h_all = xp.empty((Bn, T, H), dtype=x.dtype)
    gates = []
    h, c = h0, c0
    for t in range(T):
        # h Wh^T computed as (Wh h^T)^T, the same product: OpenBLAS runs this few-row shape
        # 1.5x faster (B = 32, H = 256: 0.19 against 0.29 ms), 3 ms of a 35-step window
        (h_new, c_new), gates_t = lstm_gates_forward(ax[:, t] + (Wh @ h.T).T, c)  # eq. 4.1-4.6
        gates.append(gates_t)
        h = xp.where(m[:, t], h_new, h)  # eq. 4.11: a padded step keeps both states
        c = xp.where(m[:, t], c_new, c)
        h_all[:, t] = h
    hs = xp.where(m, h_all, 0)  # eq. 4.11: and outputs 0
    return (hs, h, c), LSTMCache(x, h0, Wx, Wh, m, h_all, gates)


def lstm_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H), dc_last (B, H)), any may be None. (eq. 4.7-4.11)

    Returns dx (B, T, D), dh0 (B, H), dc0 (B, H), dWx, dWh, dbx, dbh. dx is exactly 0 at
    padded positions.
    """
    dhs, dh_last, dc_last = dout
    x, h0, Wx, Wh, m = cache.x, cache.h0, cache.Wx, cache.Wh, cache.mask
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    da = xp.empty((Bn, T, 4 * H), dtype=x.dtype)  # every step's da_t, for the products of eq. 4.10
    dh = xp.zeros_like(h0) if dh_last is None else dh_last
    dc = xp.zeros_like(h0) if dc_last is None else dc_last
    for t in reversed(range(T)):
        dh_t = dh if dhs is None else dh + dhs[:, t]  # h_t feeds hs[:, t] and step t+1
        # eq. 4.11: on a padded row the cell gets no gradient and (dh, dc) pass it unchanged
        dout_t = (xp.where(m[:, t], dh_t, 0), xp.where(m[:, t], dc, 0))
        da[:, t], dc_prev = lstm_gates_backward(dout_t, cache.gates[t])  # eq. 4.7-4.9
        dh = xp.where(m[:, t], da[:, t] @ Wh, dh)  # eq. 4.10
        dc = xp.where(m[:, t], dc_prev, dc)
    # eq. 4.10 for all B*T rows at once; h_{t-1} is h0, then the carried states
    h_prev = xp.concatenate([h0[:, None], cache.h[:, :-1]], axis=1).reshape(Bn * T, H)
    da2 = da.reshape(Bn * T, 4 * H)
    dx = (da2 @ Wx).reshape(Bn, T, D)
    dWx = da2.T @ x.reshape(Bn * T, D)
    dWh = da2.T @ h_prev
    db = da2.sum(axis=0)
    return dx, dh, dc, dWx, dWh, db, db.copy()
