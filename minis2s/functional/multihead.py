"""Multi-head scaled dot-product attention over padded sequences (lesson 12).

Every query position attends to every key position at once; self-attention (query = key =
value = x), causal self-attention (position t sees s <= t only) and cross-attention (keys and
values from the encoder's memory) are this one op with different inputs. Rows are vectors
(x W^T), weights in PyTorch's (out, in) layout, as in lesson 02:

    eq. 12.1  Q = x_q Wq^T + bq,  K = x_k Wk^T + bk,  V = x_v Wv^T + bv      (eq. 2.1, each (B, ., D)),
              each split into h heads of size d = D / h: Q_j (B, h, T, d), K_j, V_j (B, h, S, d)
    eq. 12.2  l_ts = Q_t . K_s / sqrt(d)  where M_ts, the mask: key s is real (and s <= t if causal)
    eq. 12.3  alpha_ts = masked softmax of l_t over s                         (eq. 8.4; [alpha: weights])
    eq. 12.4  alpha~ = dropout(alpha) (eq. 7.11),  C_j = alpha~ V_j,  C = heads of C_j side by side,
              y = C Wo^T + bo,  then y_t = 0 at a padded query position t
    eq. 12.5  backward of 12.4:  dalpha~ = dC_j V_j^T,  dV_j = alpha~^T dC_j,  dalpha from (eq. 7.12)
    eq. 12.6  backward of 12.2-12.3:  dl = (eq. 8.7) of dalpha,  dQ_j = dl K_j / sqrt(d),
              dK_j = dl^T Q_j / sqrt(d);  then (eq. 2.2) through each projection of (eq. 12.1)

Padded keys get exactly zero weight, so they receive exactly zero gradient; a query row with
no real key (a padded query, or an all-padding source) gets all-zero weights. A padded query
position's output is set to exactly 0 and its upstream gradient is ignored, as the recurrent
layers do, so it receives exactly zero gradient too.

The key bias bk adds Q_t . bk to every score of query t alike, and a softmax ignores a shift
common to its row, so dbk = 0; the backward returns the sum of (eq. 2.2), which is 0 up to
rounding (torch's in_proj_bias gradient is the same).

:func:`attention_heads_forward` / :func:`attention_heads_backward` are the part between the
projections (eq. 12.2-12.6): split, scaled scores, masked softmax, weighted sum, merge.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import ShapeError, expect, same_dtype
from .attention import _masked_softmax, masked_softmax_backward
from .dropout import dropout_backward, dropout_forward
from .linear import affine_backward, affine_forward

#: what :func:`multihead_attention_backward` returns, in order
MHA_GRADS = ("query", "key", "value", "Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")


class AttentionHeadsCache(NamedTuple):
    """What :func:`attention_heads_forward` saves (eq. 12.5, 12.6).

    Q: (B, h, T, d), K, V: (B, h, S, d), the heads (views of the projections q, k, v);
    weights: (B, h, T, S), alpha (eq. 12.3), exactly 0 where the mask M is False;
    drop: the dropout cache of alpha~ (None when off); scale: 1 / sqrt(d).
    """

    Q: Any
    K: Any
    V: Any
    weights: Any
    drop: Any
    scale: float


class MultiheadAttentionCache(NamedTuple):
    """What :func:`multihead_attention_forward` saves (eq. 12.5, 12.6).

    q_cache, k_cache, v_cache, o_cache: the (eq. 12.1) and output affine maps' caches; where
    inputs are shared, the first of them holds the stacked map's cache and the others are None
    (self-attention: q_cache; key = value: k_cache); heads: the :class:`AttentionHeadsCache` of
    the heads between them; qmask: (B, T, 1) bool, True at real query positions, or None.
    """

    q_cache: Any
    k_cache: Any
    v_cache: Any
    o_cache: Any
    heads: Any
    qmask: Any


def split_heads(x, heads: int):
    """(B, T, D) -> (B, h, T, D / h), a view: heads are slices of the feature axis."""
    Bn, T, D = x.shape
    return x.reshape(Bn, T, heads, D // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    """(B, h, T, d) -> (B, T, h d), the heads side by side (one copy: the axes are reordered)."""
    Bn, h, T, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(Bn, T, h * d)


def attention_mask(key_mask, T: int, causal: bool, like):
    """The boolean mask M of (eq. 12.2), True where query t may attend to key s.

    key_mask: (B, S), 1 (or True) on real keys, or None (every key real); causal: also require
    s <= t (needs T == S). Returns (B, 1, T, S), (1, 1, T, S) or None (nothing masked); the
    1-axes broadcast over the heads (and the batch).
    """
    xp = B.get_array_module(like)
    mask = None
    if key_mask is not None:
        mask = (xp.asarray(key_mask) != 0)[:, None, None, :]
    if causal:
        tril = xp.tril(xp.ones((T, T), dtype=bool))[None, None]
        mask = tril if mask is None else mask & tril
    return mask


def _check_heads(q, k, v, heads, key_mask, query_mask, causal, names=("q", "k", "v")):
    dims = expect(names[0], q, ("B", "T", "D"))
    expect(names[1], k, ("B", "S", "D"), dims)
    expect(names[2], v, ("B", "S", "D"), dims)
    if key_mask is not None:
        expect("key_mask", key_mask, ("B", "S"), dims, kind="mask")
    if query_mask is not None:
        expect("query_mask", query_mask, ("B", "T"), dims, kind="mask")
    if not isinstance(heads, int) or heads < 1 or dims["D"] % heads:
        raise ShapeError(f"heads: d_model D={dims['D']} must split into {heads} heads of equal size; "
                         f"choose heads dividing {dims['D']}")
    if causal and dims["T"] != dims["S"]:
        raise ShapeError(f"causal: needs self-attention with T == S, got T={dims['T']}, S={dims['S']}")
    return dims


def _check(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, heads, key_mask, query_mask, causal):
    key = query if key is None else key
    value = key if value is None else value
    dims = _check_heads(query, key, value, heads, key_mask, query_mask, causal, ("query", "key", "value"))
    for name, W, b in (("Wq", Wq, bq), ("Wk", Wk, bk), ("Wv", Wv, bv), ("Wo", Wo, bo)):
        expect(name, W, ("D", "D"), dims)
        expect("b" + name[1], b, ("D",), dims)
    same_dtype(query=query, key=key, value=value, Wq=Wq, bq=bq, Wk=Wk, bk=bk, Wv=Wv, bv=bv, Wo=Wo, bo=bo)
    return dims


def attention_heads_forward(q, k, v, heads: int, key_mask=None, query_mask=None, causal: bool = False,
                            p: float = 0.0, rng=None, train: bool = True):
    """The heads of multi-head attention, between the projections (eq. 12.2-12.4).

    q: (B, T, D), k, v: (B, S, D), the projections Q, K, V of (eq. 12.1) before the split;
    heads: h, dividing D; key_mask, query_mask, causal, p, rng, train: as
    :func:`multihead_attention_forward`. Returns ((C (B, T, D), the heads' contexts side by
    side, weights (B, h, T, S)), AttentionHeadsCache). A padded query sees no key: its weights
    and its row of C are 0.
    """
    xp = B.get_array_module(q)
    Q, K, V = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
    scale = Q.shape[-1] ** -0.5
    scores = (Q @ K.transpose(0, 1, 3, 2)) * scale  # eq. 12.2: (B, h, T, S)
    mask = attention_mask(key_mask, q.shape[1], causal, q)
    if query_mask is not None:
        hide = (xp.asarray(query_mask) != 0)[:, None, :, None]  # (B, 1, T, 1): a padded query sees no key
        mask = hide if mask is None else mask & hide
    if mask is None:
        mask = xp.ones((1, 1, 1, 1), dtype=bool)
    weights = _masked_softmax(scores, mask)  # eq. 12.3: the mask acts before the softmax
    dropped, drop = dropout_forward(weights, p, rng, train)  # eq. 12.4: alpha~
    C = merge_heads(dropped @ V)  # eq. 12.4
    return (C, weights), AttentionHeadsCache(Q, K, V, weights, drop, scale)


def attention_heads_backward(dout, cache):
    """dout = (dC (B, T, D), dweights (B, h, T, S) or None). Returns dq, dk, dv (eq. 12.5, 12.6)."""
    dC, dweights = dout
    c = cache
    dC = split_heads(dC, c.Q.shape[1])  # (B, h, T, d): the same view as the forward's merge
    dropped = c.weights if c.drop is None else c.weights * c.drop
    ddropped = dC @ c.V.transpose(0, 1, 3, 2)  # eq. 12.5: dalpha~ = dC V^T
    dV = dropped.transpose(0, 1, 3, 2) @ dC  # eq. 12.5: dV = alpha~^T dC
    dweights_all = dropout_backward(ddropped, c.drop)  # eq. 7.12
    if dweights is not None:
        dweights_all = dweights_all + dweights
    dl = masked_softmax_backward(dweights_all, c.weights) * c.scale  # eq. 12.6 (eq. 8.7)
    dQ = dl @ c.K  # eq. 12.6
    dK = dl.transpose(0, 1, 3, 2) @ c.Q  # eq. 12.6
    return merge_heads(dQ), merge_heads(dK), merge_heads(dV)


def multihead_attention_forward(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, heads: int,
                                key_mask=None, query_mask=None, causal: bool = False,
                                p: float = 0.0, rng=None, train: bool = True):
    """Multi-head attention (eq. 12.1-12.6), torch's ``nn.MultiheadAttention(batch_first=True)``.

    query: (B, T, D); key, value: (B, S, D), or None for an input that is shared: key None is
    self-attention (key = value = query), value None reads key as the value too (cross-attention
    over a memory); Wq, Wk, Wv, Wo: (D, D); bq, bk, bv, bo: (D,);
    heads: h, dividing D; key_mask: (B, S), 1 on real keys (the opposite sense of torch's
    ``key_padding_mask``), or None; query_mask: (B, T), 1 on real queries, or None; causal:
    query t sees only the keys s <= t (self-attention, T == S); p, rng, train: dropout
    on the weights, as :func:`~minis2s.functional.dropout.dropout_forward`.
    Returns ((y (B, T, D), weights (B, h, T, S)), MultiheadAttentionCache). The weights are
    alpha before dropout (torch returns them after it; with p = 0 they agree).

    A shared input's projections run as one GEMM with their weights stacked, as torch's
    ``in_proj_weight``: (3D, D) for self-attention, (2D, D) for key = value; its backward then
    has one GEMM for the input's gradient and one for the stacked weights', and no sum of three
    (or two) input gradients: 45 of the Transformer step's 147 GEMM calls fewer. With two BLAS
    threads (benchmarks/speed.py transformer) the whole training step took 0.86x and 0.92x the
    time (two runs, medians of 16 interleaved pairs, a shared machine at load 3+ on 2 cores;
    less on a quiet one); with one thread the attention alone gains nothing (self-attention
    1.07x, cross 0.99x): what pays is fewer multi-threaded calls, each of which waits for its
    slowest thread.
    """
    _check(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, heads, key_mask, query_mask, causal)
    xp = B.get_array_module(query)
    D = query.shape[-1]
    k_cache = v_cache = None
    if key is None:  # self-attention: [Q K V] = x [Wq; Wk; Wv]^T + [bq bk bv]        (eq. 12.1)
        qkv, q_cache = affine_forward(query, xp.concatenate([Wq, Wk, Wv]), xp.concatenate([bq, bk, bv]))
        q, k, v = qkv[..., :D], qkv[..., D : 2 * D], qkv[..., 2 * D :]  # views, no copies
    else:
        q, q_cache = affine_forward(query, Wq, bq)  # eq. 12.1
        if value is None:  # key = value: [K V] = memory [Wk; Wv]^T + [bk bv]
            kv, k_cache = affine_forward(key, xp.concatenate([Wk, Wv]), xp.concatenate([bk, bv]))
            k, v = kv[..., :D], kv[..., D:]
        else:
            k, k_cache = affine_forward(key, Wk, bk)
            v, v_cache = affine_forward(value, Wv, bv)
    (C, weights), heads_cache = attention_heads_forward(q, k, v, heads, key_mask, query_mask, causal,
                                                        p, rng, train)  # eq. 12.2-12.4
    y, o_cache = affine_forward(C, Wo, bo)  # eq. 12.4
    qmask = None
    if query_mask is not None:
        qmask = (xp.asarray(query_mask) != 0)[:, :, None]  # (B, T, 1)
        y = y * qmask  # a padded query position outputs exactly 0
    cache = MultiheadAttentionCache(q_cache, k_cache, v_cache, o_cache, heads_cache, qmask)
    return (y, weights), cache


def multihead_attention_backward(dout, cache):
    """dout = (dy (B, T, D), dweights (B, h, T, S) or None).
    Returns dquery, dkey, dvalue, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo (eq. 12.5, 12.8).
    A shared input gets its whole gradient in its first slot and None in the others: called as
    self-attention (key None), dquery is dx and dkey, dvalue are None; with value None, dkey is
    the memory's. (Called with the same array three times, self-attention's dx is dquery + dkey
    + dvalue.)"""
    dy, dweights = dout
    c = cache
    xp = B.get_array_module(dy)
    if c.qmask is not None:
        dy = dy * c.qmask  # y_t = 0 at padding: its upstream gradient reaches nothing
    dC, dWo, dbo = affine_backward(dy, c.o_cache)  # eq. 12.4 (eq. 2.2)
    dq, dk, dv = attention_heads_backward((dC, dweights), c.heads)  # eq. 12.5, 12.6
    D = dq.shape[-1]
    dkey = dvalue = None
    if c.k_cache is None:  # self-attention: the stacked map's backward   (eq. 12.1 through eq. 2.2)
        dquery, dW, db = affine_backward(xp.concatenate([dq, dk, dv], axis=-1), c.q_cache)
        (dWq, dWk, dWv), (dbq, dbk, dbv) = (dW[:D], dW[D : 2 * D], dW[2 * D :]), (db[:D], db[D : 2 * D], db[2 * D :])
        return dquery, dkey, dvalue, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo
    dquery, dWq, dbq = affine_backward(dq, c.q_cache)  # eq. 12.1 (eq. 2.2)
    if c.v_cache is None:  # key = value: the stacked map's backward
        dkey, dW, db = affine_backward(xp.concatenate([dk, dv], axis=-1), c.k_cache)
        (dWk, dWv), (dbk, dbv) = (dW[:D], dW[D:]), (db[:D], db[D:])
    else:
        dkey, dWk, dbk = affine_backward(dk, c.k_cache)
        dvalue, dWv, dbv = affine_backward(dv, c.v_cache)
    return dquery, dkey, dvalue, dWq, dbq, dWk, dbk, dWv, dbv, dWo, dbo
