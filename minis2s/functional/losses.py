"""Softmax cross-entropy over padded batches, with label smoothing (lesson 02).

With p = softmax(a) over V classes (a: the logits), target y and smoothing eps, each real
token costs

    eq. 2.9   L_bt = -(1 - eps) log p_y - (eps / V) sum_k log p_k  =  -sum_k q_k log p_k,
              q = (1 - eps) onehot(y) + eps / V                    (PyTorch's definition)
    eq. 2.10  L = (1 / N) sum over real tokens of L_bt,   N = number of real tokens
    eq. 2.11  dL/da = (p - q) * M / N   per token, M = 1 on real tokens and 0 on padding

so padding contributes neither loss nor gradient, and the mean is over real tokens only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .. import backend as B
from ..shapes import ShapeError, expect
from .activations import log_softmax


class CrossEntropyCache(NamedTuple):
    """What :func:`softmax_cross_entropy_forward` saves, with the symbols of eq. 2.9-2.11.

    logits: (B, T, V) or (N, V), the raw scores z; logp: log p = log_softmax(z), same shape
    (eq. 2.7), from which the backward reads p = exp(logp); targets: y, (B, T) or (N,) ints,
    0 at padded positions (where they are never read); mask: M, 1.0 on real tokens and 0.0 on
    padding, in the logits' dtype; n: N, the number of real tokens but at least 1, the divisor
    of eq. 2.10 (0-d); eps: the label smoothing epsilon. nll_sum and n_tokens (0-d) are the
    summed unsmoothed -log p_y and the true count of real tokens, for perplexity
    (:func:`cross_entropy_stats`); the backward does not read them.
    """

    logits: Any
    logp: Any
    targets: Any
    mask: Any
    n: Any
    eps: float
    nll_sum: Any
    n_tokens: Any


def softmax_cross_entropy_forward(logits, targets, mask=None, ignore_index=None, label_smoothing=0.0,
                                  ids_checked=False):
    """Mean (label-smoothed) cross-entropy over the real tokens (eq. 2.9-2.10).

    logits: (B, T, V) or (N, V); targets: (B, T) / (N,) ints in [0, V); mask: (B, T) / (N,),
    1 on real tokens, or None when all are real; targets equal to ``ignore_index`` (e.g. -100)
    count as padding too and may lie outside [0, V); label_smoothing: eps in [0, 1).
    Equal to ``torch.nn.functional.cross_entropy(logits, targets, ignore_index=...,
    label_smoothing=eps, reduction="mean")`` with the masked targets set to ``ignore_index``.

    Returns (loss, CrossEntropyCache): loss is a 0-d array (no host synchronisation). With no real token
    the loss is 0 and so is the gradient. :func:`cross_entropy_stats` reads the summed NLL and
    the token count from the cache, for perplexity. Raises IndexError for a real target
    outside [0, V) (one small explicit synchronisation, see ``backend.check_token_ids``) unless
    ``ids_checked``: the caller has checked the targets on the host.
    """
    xp = B.get_array_module(logits)
    lead = ("B", "T") if logits.ndim == 3 else ("N",)
    if logits.ndim not in (2, 3):
        raise ShapeError(f"logits: expected shape (B, T, V) or (N, V), got {tuple(logits.shape)}")
    dims = expect("logits", logits, lead + ("V",))
    expect("targets", targets, lead, dims, kind="int")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    real = xp.ones(targets.shape, dtype=bool)
    if mask is not None:
        expect("mask", mask, lead, dims, kind="mask")
        real = real & (mask != 0)
    if ignore_index is not None:
        real = real & (targets != ignore_index)
    safe = xp.where(real, targets, 0)  # padding may hold any id (e.g. -100); it is never read
    if not ids_checked:
        B.check_token_ids(safe, dims["V"], "targets")
    logp = log_softmax(logits)  # eq. 2.7: max-shifted, so no exp overflows
    nll = -xp.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    per_token = nll
    if label_smoothing:
        per_token = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=-1)  # eq. 2.9
    m = real.astype(logits.dtype)
    n_tokens = m.sum()
    N = xp.maximum(n_tokens, 1.0)  # no real token: loss 0 / 1 = 0, not 0 / 0
    # where, not a product: whatever the padded logits hold (even inf), padding adds exactly 0
    loss = xp.asarray(xp.where(real, per_token, 0.0).sum() / N)  # eq. 2.10
    nll_sum = xp.asarray(xp.where(real, nll, 0.0).sum())
    cache = CrossEntropyCache(logits, logp, safe, m, N, label_smoothing, nll_sum, xp.asarray(n_tokens))
    return loss, cache


def softmax_cross_entropy_backward(dloss, cache):
    """dloss: a number or 0-d array. Returns dlogits, the shape of logits (eq. 2.11):

        da = M * (p - q) * dloss / N,   q = (1 - eps) onehot(y) + eps / V   (eq. 2.9)

    built in place in one buffer, term by term. The readout's gradient is the largest array of
    a training step; written as five temporaries of its size (one-hot, q, p - q, the product,
    the masked copy) this backward took 23-31 ms instead of 5.8 ms at Multi30k's 1040 x 5921,
    about 5% of a whole training step (benchmarks/speed.py train: 0.99-1.05x the PyTorch twin
    against 1.14-1.15x).
    """
    xp = B.get_array_module(cache.logp)
    V = cache.logp.shape[-1]
    eps = cache.eps
    dz = xp.exp(cache.logp)  # p (eq. 2.7 read backwards: p = exp(log p))
    dz -= eps / V  # p - eps / V: the smoothing part of q
    rows = dz.reshape(-1, V)
    rows[xp.arange(rows.shape[0]), cache.targets.reshape(-1)] -= 1.0 - eps  # p - q (eq. 2.11)
    dz *= dloss / cache.n  # (p - q) dloss / N
    # times m: copyto, not a product, so that a nan at padding (from inf logits) becomes 0 too
    xp.copyto(dz, 0.0, where=cache.mask[..., None] == 0)
    return dz


def cross_entropy_stats(cache):
    """(summed NLL of the real tokens, number of real tokens) as 0-d arrays on the device.

    The NLL is the unsmoothed -log p_y, so exp(nll_sum / n) is the perplexity even when
    training with label smoothing; read them back once per report, not once per step.
    """
    return cache.nll_sum, cache.n_tokens
