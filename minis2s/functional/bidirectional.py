"""Bidirectional recurrent layers over padded batches (lesson 09).

The backward direction reads each row from its own last real token back to token 0, never
from the padding. We get it by reversing each row's real prefix, running an ordinary
(forward) cell over that, and reversing its outputs back:

    eq. 9.1  rev_L(x)_t = x_{L-1-t} for t < L, x_t for t >= L    (per row; rev_L(rev_L(x)) = x)
    eq. 9.2  hs_f = RNN_f(x),   hs_b = rev_L(RNN_b(rev_L(x)))
    eq. 9.3  hs_t = [hs_f,t ; hs_b,t]                              (B, T, 2H)
    eq. 9.4  dx = dx_f + rev_L(dx_b'), where dx_b' is RNN_b's input gradient for the upstream
             rev_L(dhs_b): rev_L is a permutation, so its adjoint is itself

The final state of the backward direction is its state after reading token 0, as in PyTorch's
``h_n[1]``. Any cell of :data:`minis2s.functional.cells.CELLS` works; each direction runs
through :func:`minis2s.functional.cells.sequence_forward`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import ShapeError, expect
from . import cells
from .cells import SequenceCache


class BidirectionalCache(NamedTuple):
    """What :func:`bidirectional_forward` saves. fwd: the forward direction's
    :class:`~minis2s.functional.cells.SequenceCache`; bwd: the backward direction's, which read
    rev_L(x) (eq. 9.2); lengths: (B,) the real lengths L, or None when every row is full; H: one
    direction's size."""

    fwd: SequenceCache
    bwd: SequenceCache
    lengths: Any
    H: int


def reverse_padded(x, lengths):
    """Reverse each row's first ``lengths[b]`` steps along axis 1; padding stays put. (eq. 9.1)

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


def _check_direction(name, cell, d):
    """A direction holds exactly the initial state and the weights of a ``cell`` sequence."""
    keys = cells.kind(cell).initial + cells.PARAM_NAMES
    missing = [k for k in keys if k not in d]
    extra = [k for k in d if k not in keys]
    if missing or extra:
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise ShapeError(f"{name}: {what} (a {cell} direction holds {', '.join(keys)})")


def bidirectional_forward(cell, x, fwd, bwd, mask=None, lengths=None):
    """Forward and backward ``cell`` over a padded batch.                (eq. 9.1-9.3)

    x: (B, T, D); fwd, bwd: dicts {"h0", ("c0" for lstm), "Wx", "Wh", "bx", "bh"}, one per
    direction; mask: (B, T), 1/True on real tokens, each row real then padded; lengths: (B,)
    ints, an alternative to mask.
    Returns ((hs (B, T, 2H), final_f, final_b), cache): hs = [forward; backward] per position,
    0 at padding; final_f, final_b are (h,) or (h, c) -- final_b after reading token 0.
    """
    _check_direction("fwd", cell, fwd)
    _check_direction("bwd", cell, bwd)
    expect("x", x, ("B", "T", "D"))
    expect("bwd['Wh']", bwd["Wh"], tuple(fwd["Wh"].shape), kind=None)  # one H for both
    xp = B.get_array_module(x)
    T = x.shape[1]
    if mask is not None:
        mask = xp.asarray(mask)
        expect("mask", mask, (x.shape[0], T), kind="mask")
        lengths = mask.astype(bool).sum(axis=1)  # prefix masks: the count is the length
    elif lengths is not None:
        lengths = xp.asarray(lengths)
        expect("lengths", lengths, (x.shape[0],), kind="int")
    (hs_f, final_f), cache_f = cells.sequence_forward(cell, x, fwd, lengths=lengths)
    (hs_r, final_b), cache_b = cells.sequence_forward(cell, _rev(x, lengths), bwd, lengths=lengths)  # eq. 9.2
    H = hs_f.shape[2]
    hs = xp.empty(hs_f.shape[:2] + (2 * H,), dtype=hs_f.dtype)
    hs[:, :, :H] = hs_f  # eq. 9.3
    hs[:, :, H:] = _rev(hs_r, lengths)  # padding is 0 in hs_r and stays in place under rev_L
    return (hs, final_f, final_b), BidirectionalCache(cache_f, cache_b, lengths, H)


def bidirectional_backward(dout, cache):
    """dout = (dhs (B, T, 2H), dfinal_f, dfinal_b), each may be None.    (eq. 9.4)

    Returns dx (B, T, D), dfwd, dbwd: dicts with the keys of fwd and bwd.
    """
    dhs, dfinal_f, dfinal_b = dout
    lengths, H = cache.lengths, cache.H
    dhs_f = None if dhs is None else dhs[:, :, :H]
    dhs_r = None if dhs is None else _rev(dhs[:, :, H:], lengths)
    dx, dfwd = cells.sequence_backward((dhs_f, dfinal_f), cache.fwd)
    dx_r, dbwd = cells.sequence_backward((dhs_r, dfinal_b), cache.bwd)
    dx = dx + _rev(dx_r, lengths)  # eq. 9.4
    return dx, dfwd, dbwd
