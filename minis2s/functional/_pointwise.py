"""Small helpers shared by the recurrent cells: a stable sigmoid and padding masks.

Private to :mod:`minis2s.functional`; the lessons never need to open this file.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x| <= 0.

    For x >= 0 this is 1 / (1 + e), for x < 0 the same value written e / (1 + e),
    with e = exp(-|x|) in (0, 1]; both branches keep full relative precision.
    """
    xp = B.get_array_module(x)
    e = xp.exp(-xp.abs(x))
    r = 1.0 / (1.0 + e)
    return xp.where(x >= 0, r, e * r)


def sequence_mask(x, mask, lengths, dims):
    """The (B, T, 1) boolean "real token" mask of a batch, or None when every token is real.

    mask: (B, T) bool or 0/1 numbers; lengths: (B,) ints. Either may be given (mask wins when
    both are). Host arrays are uploaded to the backend of ``x``; no value is read back.
    """
    if mask is None and lengths is None:
        return None
    xp = B.get_array_module(x)
    if mask is not None:
        mask = xp.asarray(mask)
        expect("mask", mask, ("B", "T"), dims, kind="mask")
        return mask.astype(bool)[:, :, None]
    lengths = xp.asarray(lengths)
    expect("lengths", lengths, ("B",), dims, kind="int")
    T = x.shape[1]
    return (xp.arange(T)[None, :] < lengths[:, None])[:, :, None]


def keep(m, new, old):
    """Masked state update: ``new`` on real rows, ``old`` on padded ones (m: (B, 1) or None).

    ``where`` rather than ``m * new + (1 - m) * old``: it is exact on both branches, so a
    padded step leaves the state bit-for-bit unchanged.
    """
    if m is None:
        return new
    return B.get_array_module(new).where(m, new, old)


def real_only(m, g):
    """``g`` on real rows, exactly 0 on padded rows (m: (B, 1) or None)."""
    if m is None:
        return g
    return B.get_array_module(g).where(m, g, 0)
