"""Affine maps and embeddings (lesson 02, eq. 2.1-2.4).

Weights use PyTorch's layout ``W: (H, D)`` -- output features first -- so ``nn.Linear`` and
``nn.Embedding`` weights load unchanged.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import expect, same_dtype


def affine_forward(x, W, b):
    """y = x W^T + b                                                     (eq. 2.1)

    x: (B, D) or time-distributed (B, T, D); W: (H, D); b: (H,). Returns y: (B, H) or
    (B, T, H). A 3-D input is one GEMM over all B*T rows, not a loop over time.
    """
    dims = expect("W", W, ("H", "D"))
    expect("b", b, ("H",), dims)
    if x.ndim not in (2, 3):
        expect("x", x, ("B", "D"), dims)  # raises with the expected shape
    expect("x", x, ("B", "D") if x.ndim == 2 else ("B", "T", "D"), dims)
    same_dtype(x=x, W=W, b=b)
    # one 2-D GEMM over all B*T rows: a 3-D matmul would run T-row products per batch entry
    y = (x.reshape(-1, dims["D"]) @ W.T + b).reshape(*x.shape[:-1], dims["H"])
    return y, (x, W)


def affine_backward(dy, cache):
    """Returns dx, dW, db.                                               (eq. 2.2)

    dx = dy W,  dW = sum over rows of dy^T x,  db = sum over rows of dy.
    """
    x, W = cache
    H, D = W.shape
    dy2 = dy.reshape(-1, H)
    x2 = x.reshape(-1, D)
    dx = (dy2 @ W).reshape(x.shape)
    dW = dy2.T @ x2
    db = dy2.sum(axis=0)
    return dx, dW, db


def embedding_forward(ids, E, padding_idx: int | None = None):
    """out[b, t] = E[ids[b, t]]                                          (eq. 2.3)

    ids: (B, T) or (B,) integer; E: (V, D). Returns (B, T, D) or (B, D). Positions holding
    ``padding_idx`` embed to the zero vector, so the padding row is a true constant: it
    receives no gradient (as in ``torch.nn.Embedding``, whose padding row starts at zero).
    Ids outside [0, V) raise on every backend (CuPy would wrap them silently).
    """
    dims = expect("E", E, ("V", "D"))
    expect("ids", ids, ("B",) if ids.ndim == 1 else ("B", "T"), kind="int")
    B.check_token_ids(ids, dims["V"], "ids")
    out = E[ids]
    if padding_idx is not None:
        out *= (ids != padding_idx)[..., None]
    return out, (ids, E.shape, E.dtype, padding_idx)


def embedding_backward(dout, cache):
    """Returns dE: (V, D). Rows of repeated ids add up; the padding row stays zero. (eq. 2.4)"""
    ids, shape, dtype, padding_idx = cache
    xp = B.get_array_module(dout)
    dE = xp.zeros(shape, dtype=dtype)
    B.scatter_add(dE, ids.reshape(-1), dout.reshape(-1, shape[1]))
    if padding_idx is not None:
        dE[padding_idx] = 0  # padded positions read a constant zero vector
    return dE
