"""Small helpers shared by the recurrent cells: a stable sigmoid and the padding mask.

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
    """The (B, T, 1) boolean "real token" mask M of a batch x: (B, T, ...), True where real.

    mask: (B, T) bool or 0/1 numbers; lengths: (B,) ints. Either may be given (mask wins when
    both are); neither means every token is real. Host arrays are uploaded to the backend of
    ``x``; no value is read back.
    """
    xp = B.get_array_module(x)
    if mask is not None:
        mask = xp.asarray(mask)
        expect("mask", mask, ("B", "T"), dims, kind="mask")
        return mask.astype(bool)[:, :, None]
    Bn, T = x.shape[:2]
    if lengths is None:
        return xp.ones((Bn, T, 1), dtype=bool)
    lengths = xp.asarray(lengths)
    expect("lengths", lengths, ("B",), dims, kind="int")
    return (xp.arange(T)[None, :] < lengths[:, None])[:, :, None]
