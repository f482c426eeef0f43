"""Softmax cross-entropy over padded batches, with label smoothing (lesson 02).

With p = softmax(z) over V classes, target y and smoothing eps, each real token costs

    eq. 2.9   l = -(1 - eps) log p_y - (eps / V) sum_k log p_k  =  -sum_k q_k log p_k,
              q = (1 - eps) onehot(y) + eps / V                    (PyTorch's definition)
    eq. 2.10  L = (1 / N) sum over real tokens of l,   N = number of real tokens
    eq. 2.11  dL/dz = (p - q) * m / N   per token, m = 1 on real tokens and 0 on padding

so padding contributes neither loss nor gradient, and the mean is over real tokens only.
"""

from __future__ import annotations

from .. import backend as B
from ..shapes import ShapeError, expect
from .activations import log_softmax


def softmax_cross_entropy_forward(logits, targets, mask=None, ignore_index=None, label_smoothing=0.0):
    """logits: (B, T, V) or (N, V); targets: (B, T) / (N,) ints; mask: (B, T) / (N,), 1 on real
    tokens; targets equal to ``ignore_index`` count as padding too.

    Returns (loss, cache): loss is a 0-d array (no host synchronisation), eq. 2.10. With no
    real token the loss is 0 and so is the gradient.
    """
    xp = B.get_array_module(logits)
    lead = ("B", "T") if logits.ndim == 3 else ("N",)
    if logits.ndim not in (2, 3):
        raise ShapeError(f"logits: expected shape (B, T, V) or (N, V), got {tuple(logits.shape)}")
    dims = expect("logits", logits, lead + ("V",))
    expect("targets", targets, lead, dims, kind="int")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    valid = xp.ones(targets.shape, dtype=logits.dtype)
    if mask is not None:
        expect("mask", mask, lead, dims, kind="mask")
        valid = valid * (mask != 0)
    if ignore_index is not None:
        valid = valid * (targets != ignore_index)
    safe = xp.where(valid > 0, targets, 0)
    B.check_token_ids(safe, dims["V"], "targets")
    logp = log_softmax(logits)
    nll = -xp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    per_token = nll
    if label_smoothing:
        per_token = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=-1)
    n = valid.sum()
    denom = xp.maximum(n, 1.0)
    loss = (per_token * valid).sum() / denom
    return loss, (logp, safe, valid, denom, label_smoothing, (nll * valid).sum(), n)


def softmax_cross_entropy_backward(dloss, cache):
    """Returns dlogits, the shape of logits (eq. 2.11)."""
    xp = B.get_array_module(cache[0])
    logp, safe, valid, denom, eps, _, _ = cache
    V = logp.shape[-1]
    dz = xp.exp(logp)  # p
    if eps:
        dz -= eps / V
    onehot_rows = dz.reshape(-1, V)
    onehot_rows[xp.arange(onehot_rows.shape[0]), safe.reshape(-1)] -= 1.0 - eps
    dz *= (valid * (dloss / denom))[..., None]
    return dz


def cross_entropy_stats(cache):
    """(summed NLL of the real tokens, number of real tokens) as 0-d arrays, for perplexity."""
    return cache[5], cache[6]
