"""Token and position embeddings for the Transformer (lesson 12).

Attention alone cannot tell positions apart, so each token's vector gets its position's
vector added. That vector is either a fixed sinusoid (no parameters; any length) or a learned
row of a table P, read like a token embedding (eq. 2.3):

    eq. 12.12 PE[t, 2i] = sin(t / 10000^(2i / D)),  PE[t, 2i + 1] = cos(t / 10000^(2i / D))
    eq. 12.13 x_t = sqrt(D) E[y_t] + P[t]    (P: a learned (T_max, D) table, or PE of eq. 12.12;
              the sqrt(D) scale, as in Vaswani et al., keeps the token part from being drowned
              by the position part, whose entries are of order 1)
    backward: dE[v] = sqrt(D) sum over positions holding v of dx_t,  dP[t] = sum over b of dx_bt
              (eq. 2.4 for both)

A padded position (its id is ``padding_idx``) embeds to the zero vector, position included,
and contributes no gradient to E or P.

A source can also be read one **sentence** at a time (lesson 15): the story of a bAbI-style
question laid out as a grid of S sentences of J word slots each (padded), one vector per
sentence, as the story sentences of an end-to-end memory network (Sukhbaatar et al., 2015):

    eq. 15.6  o_s = sqrt(D) sum over j of (1 + L_j) * E[x_sj] + P[s]
              (x_sj: word j of sentence s; L: a learned (J, D) table of word-slot weights, the
              lesson's Lambda, zero at the start, so that a sentence starts as the bag of its
              words and learns to tell "mary got the milk" from "the milk got mary"; * is
              element-wise)
    backward: dE[x_sj] += sqrt(D) (1 + L_j) * do_s,  dL_j = sqrt(D) sum over b, s of E[x_sj] * do_s,
              dP[s] = sum over b of do_s
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import ShapeError, expect
from .linear import embedding_backward, embedding_forward


def sinusoidal_table(T: int, D: int, like):
    """PE: (T, D), the sinusoids of (eq. 12.12), on ``like``'s backend and in its dtype."""
    xp = B.get_array_module(like)
    t = xp.arange(T, dtype=like.dtype)[:, None]
    freq = xp.exp(xp.arange(0, D, 2, dtype=like.dtype) * (-math.log(10000.0) / D))  # 10000^(-2i/D)
    table = xp.zeros((T, D), dtype=like.dtype)
    table[:, 0::2] = xp.sin(t * freq)
    table[:, 1::2] = xp.cos(t * freq[: D // 2])  # an odd D has one sine more than cosines
    return table


class TokenPositionCache(NamedTuple):
    """What :func:`token_position_forward` saves (eq. 12.13): e_cache, p_cache: the two
    embedding lookups' caches; scale: sqrt(D) or 1; real: (B, T, 1) bool, False at padding, or
    None when there is no padding id."""

    e_cache: Any
    p_cache: Any
    scale: float
    real: Any


def token_position_forward(ids, E, P, padding_idx: int | None = None, scale: bool = True,
                           ids_checked: bool = False):
    """x = sqrt(D) E[ids] + P[positions]                                  (eq. 12.13)

    ids: (B, T) integer; E: (V, D), the token table; P: (T_max, D) with T_max >= T, a learned
    position table or :func:`sinusoidal_table`; scale: multiply the token part by sqrt(D);
    ids_checked: the ids were range-checked on the host (no device read, eq. 2.3's note).
    Returns (x (B, T, D), TokenPositionCache).
    """
    dims = expect("E", E, ("V", "D"))
    expect("P", P, ("T_max", "D"), dims)
    expect("ids", ids, ("B", "T"), dims, kind="int")
    Bn, T = ids.shape
    if T > dims["T_max"]:
        raise ShapeError(f"P: the position table has {dims['T_max']} rows, too few for T={T} positions")
    xp = B.get_array_module(E)
    tok, e_cache = embedding_forward(ids, E, padding_idx, ids_checked)
    positions = xp.broadcast_to(xp.arange(T)[None, :], (Bn, T))
    pos, p_cache = embedding_forward(positions, P, ids_checked=True)  # eq. 2.3 on the positions
    s = math.sqrt(dims["D"]) if scale else 1.0
    x = s * tok + pos
    real = None
    if padding_idx is not None:
        real = (ids != padding_idx)[:, :, None]
        x = x * real  # the position part too: a padded position is the zero vector
    return x, TokenPositionCache(e_cache, p_cache, s, real)


def token_position_backward(dx, cache):
    """Returns dE, dP (eq. 12.13 through eq. 2.4)."""
    if cache.real is not None:
        dx = dx * cache.real
    dE = embedding_backward(cache.scale * dx, cache.e_cache)
    dP = embedding_backward(dx, cache.p_cache)
    return dE, dP


class SentencePositionCache(NamedTuple):
    """What :func:`sentence_position_forward` saves (eq. 15.6): tok: (B, S, J, D), the word
    vectors E[x_sj] (zero at padding); L: the word-slot weights (Lambda); e_cache, p_cache: the two
    lookups' caches; scale: sqrt(D) or 1; real: (B, S, 1) bool, False for an all-padding sentence."""

    tok: Any
    L: Any
    e_cache: Any
    p_cache: Any
    scale: float
    real: Any


def sentence_position_forward(ids, E, L, P, padding_idx: int = 0, scale: bool = True, ids_checked: bool = False):
    """o_s = sqrt(D) sum_j (1 + L_j) * E[x_sj] + P[s]                      (eq. 15.6)

    ids: (B, S, J) integer, S sentences of J word slots (``padding_idx`` in the unused ones);
    E: (V, D); L: (J, D), the word-slot weights; P: (S_max, D) with S_max >= S. Returns
    (o (B, S, D), SentencePositionCache); a sentence of padding only is the zero vector.
    """
    dims = expect("E", E, ("V", "D"))
    expect("L", L, ("J", "D"), dims)
    expect("P", P, ("S_max", "D"), dims)
    expect("ids", ids, ("B", "S", "J"), dims, kind="int")
    Bn, S, J = ids.shape
    if S > dims["S_max"]:
        raise ShapeError(f"P: the position table has {dims['S_max']} rows, too few for S={S} sentences")
    xp = B.get_array_module(E)
    tok, e_cache = embedding_forward(ids.reshape(Bn, S * J), E, padding_idx, ids_checked)
    tok = tok.reshape(Bn, S, J, dims["D"])
    positions = xp.broadcast_to(xp.arange(S)[None, :], (Bn, S))
    pos, p_cache = embedding_forward(positions, P, ids_checked=True)
    s = math.sqrt(dims["D"]) if scale else 1.0
    real = (ids != padding_idx).any(axis=2)[:, :, None]
    o = (s * (tok * (1 + L)).sum(axis=2) + pos) * real  # eq. 15.6; an empty sentence stays 0
    return o, SentencePositionCache(tok, L, e_cache, p_cache, s, real)


def sentence_position_backward(do, cache):
    """Returns dE, dL, dP (eq. 15.6's backward)."""
    do = do * cache.real
    dsum = cache.scale * do[:, :, None, :]  # (B, S, 1, D): every word of sentence s gets sqrt(D) do_s
    dE = embedding_backward(dsum * (1 + cache.L), cache.e_cache)  # eq. 15.6: dE[x_sj] += sqrt(D) (1 + L_j) do_s
    dL = (dsum * cache.tok).sum(axis=(0, 1))  # eq. 15.6: dL_j = sqrt(D) sum_b,s E[x_sj] do_s
    dP = embedding_backward(do, cache.p_cache)  # eq. 15.6: dP[s] = sum_b do_s
    return dE, dL, dP
