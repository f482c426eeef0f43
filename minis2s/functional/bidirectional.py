"""Bidirectional recurrent layers over padded batches (lesson 08).

The backward direction reads each row from its own last real token back to token 0, never
from the padding. We get it by reversing each row's real prefix, running an ordinary
(forward) cell over that, and reversing its outputs back:

    eq. 8.1  rev_L(x)_t = x_{L-1-t} for t < L, x_t for t >= L    (per row; rev_L(rev_L(x)) = x)
    eq. 8.2  hs_f = RNN_f(x),   hs_b = rev_L(RNN_b(rev_L(x)))
    eq. 8.3  hs_t = [hs_f,t ; hs_b,t]                              (B, T, 2H)
    eq. 8.4  dx = dx_f + rev_L(dx_b'), where dx_b' is RNN_b's input gradient for the upstream
             rev_L(dhs_b): rev_L is a permutation, so its adjoint is itself

The final state of the backward direction is its state after reading token 0, as in PyTorch's
``h_n[1]``. Any cell works: ``"rnn"``, ``"lstm"`` or ``"gru"``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import ShapeError, expect
from . import gru, lstm, rnn

CELLS = ("rnn", "lstm", "gru")
PARAM_KEYS = ("Wx", "Wh", "bx", "bh")


class SequenceCache(NamedTuple):
    """What :func:`sequence_forward` saves: the cell's name and that cell's own sequence cache
    (an :class:`~minis2s.functional.rnn.RNNCache`, ``LSTMCache`` or ``GRUCache``)."""

    cell: str
    inner: Any


class BidirectionalCache(NamedTuple):
    """What :func:`bidirectional_forward` saves. fwd: the forward direction's
    :class:`SequenceCache`; bwd: the backward direction's, which read rev_L(x) (eq. 8.2);
    lengths: (B,) the real lengths L, or None when every row is full; H: one direction's size."""

    fwd: SequenceCache
    bwd: SequenceCache
    lengths: Any
    H: int


def reverse_padded(x, lengths):
    """Reverse each row's first ``lengths[b]`` steps along axis 1; padding stays put. (eq. 8.1)

    x: (B, T, ...); lengths: (B,) ints on the backend of ``x``. An involution, computed on the
    device with one gather (no value is read back to the host).
    """
    xp = B.get_array_module(x)
    lengths = xp.asarray(lengths)
    expect("lengths", lengths, (x.shape[0],), kind="int")
    t = xp.arange(x.shape[1])[None, :]
    L = lengths[:, None]
    index = xp.where(t < L, L - 1 - t, t)
    return x[xp.arange(x.shape[0])[:, None], index]


def _rev(x, lengths):
    """rev_L with lengths None meaning every row is full: then a plain flip (a view)."""
    return x[:, ::-1] if lengths is None else reverse_padded(x, lengths)


# --------------------------------------------------------------------------- one direction


def _check_cell(cell):
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")


def sequence_forward(cell, x, states, params, mask=None, lengths=None):
    """Any cell over a padded batch. states: (h0,) or (h0, c0) for lstm; params: (Wx, Wh, bx, bh).

    Returns ((hs (B, T, H), final), cache) with final a tuple like ``states``.
    """
    _check_cell(cell)
    if cell == "lstm":
        (hs, h, c), cache = lstm.lstm_forward(x, *states, *params, mask=mask, lengths=lengths)
        return (hs, (h, c)), SequenceCache(cell, cache)
    f = rnn.rnn_forward if cell == "rnn" else gru.gru_forward
    (hs, h), cache = f(x, *states, *params, mask=mask, lengths=lengths)
    return (hs, (h,)), SequenceCache(cell, cache)


def sequence_backward(dout, cache):
    """dout = (dhs, dfinal), dfinal a tuple like the final state (or None; entries may be None).

    Returns (dx, dstates tuple, dparams tuple (dWx, dWh, dbx, dbh)).
    """
    dhs, dfinal = dout
    cell = cache.cell
    if dfinal is None:
        dfinal = (None, None) if cell == "lstm" else (None,)
    if cell == "lstm":
        dx, dh0, dc0, *dp = lstm.lstm_backward((dhs, *dfinal), cache.inner)
        return dx, (dh0, dc0), tuple(dp)
    f = rnn.rnn_backward if cell == "rnn" else gru.gru_backward
    dx, dh0, *dp = f((dhs, dfinal[0]), cache.inner)
    return dx, (dh0,), tuple(dp)


def _unpack(name, cell, d):
    keys = ("h0", "c0") if cell == "lstm" else ("h0",)
    missing = [k for k in keys + PARAM_KEYS if k not in d]
    if missing:
        raise ShapeError(f"{name}: missing {', '.join(missing)} (a {cell} direction needs {', '.join(keys + PARAM_KEYS)})")
    return tuple(d[k] for k in keys), tuple(d[k] for k in PARAM_KEYS)


def _pack(states, params):
    d = dict(zip(("h0", "c0"), states))
    d.update(zip(PARAM_KEYS, params))
    return d


# --------------------------------------------------------------------------- both directions


def bidirectional_forward(cell, x, fwd, bwd, mask=None, lengths=None):
    """Forward and backward ``cell`` over a padded batch.                (eq. 8.1-8.3)

    x: (B, T, D); fwd, bwd: dicts {"h0", ("c0" for lstm), "Wx", "Wh", "bx", "bh"}, one per
    direction; mask: (B, T), 1/True on real tokens, each row real then padded; lengths: (B,)
    ints, an alternative to mask.
    Returns ((hs (B, T, 2H), final_f, final_b), cache): hs = [forward; backward] per position,
    0 at padding; final_f, final_b are (h,) or (h, c) -- final_b after reading token 0.
    """
    _check_cell(cell)
    expect("x", x, ("B", "T", "D"))
    states_f, params_f = _unpack("fwd", cell, fwd)
    states_b, params_b = _unpack("bwd", cell, bwd)
    expect("bwd['Wh']", params_b[1], tuple(params_f[1].shape), kind=None)  # one H for both
    xp = B.get_array_module(x)
    T = x.shape[1]
    if mask is not None:
        mask = xp.asarray(mask)
        expect("mask", mask, (x.shape[0], T), kind="mask")
        lengths = mask.astype(bool).sum(axis=1)  # prefix masks: the count is the length
    elif lengths is not None:
        lengths = xp.asarray(lengths)
        expect("lengths", lengths, (x.shape[0],), kind="int")
    (hs_f, final_f), cache_f = sequence_forward(cell, x, states_f, params_f, lengths=lengths)
    (hs_r, final_b), cache_b = sequence_forward(cell, _rev(x, lengths), states_b, params_b,
                                                lengths=lengths)  # eq. 8.2
    H = hs_f.shape[2]
    hs = xp.empty(hs_f.shape[:2] + (2 * H,), dtype=hs_f.dtype)
    hs[:, :, :H] = hs_f  # eq. 8.3
    hs[:, :, H:] = _rev(hs_r, lengths)  # padding is 0 in hs_r and stays in place under rev_L
    return (hs, final_f, final_b), BidirectionalCache(cache_f, cache_b, lengths, H)


def bidirectional_backward(dout, cache):
    """dout = (dhs (B, T, 2H), dfinal_f, dfinal_b), each may be None.    (eq. 8.4)

    Returns dx (B, T, D), dfwd, dbwd: dicts with the keys of fwd and bwd.
    """
    dhs, dfinal_f, dfinal_b = dout
    lengths, H = cache.lengths, cache.H
    dhs_f = None if dhs is None else dhs[:, :, :H]
    dhs_r = None if dhs is None else _rev(dhs[:, :, H:], lengths)
    dx, dstates_f, dparams_f = sequence_backward((dhs_f, dfinal_f), cache.fwd)
    dx_r, dstates_b, dparams_b = sequence_backward((dhs_r, dfinal_b), cache.bwd)
    dx = dx + _rev(dx_r, lengths)  # eq. 8.4
    return dx, _pack(dstates_f, dparams_f), _pack(dstates_b, dparams_b)
