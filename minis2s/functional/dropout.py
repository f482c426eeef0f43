"""Inverted dropout (lesson 06).

    eq. 6.20  y = x * m / (1 - p),  m_k ~ Bernoulli(1 - p):  E[y] = x, so inference is the identity
    eq. 6.21  dx = dy * m / (1 - p)
"""

from __future__ import annotations


def dropout_forward(x, p: float, rng, train: bool = True):
    """x: any shape; p: drop probability; rng: a :class:`minis2s.backend.DeviceRNG`.
    Returns (y, cache). With ``p == 0`` or ``train=False`` this is the identity."""
    if not train or p == 0.0:
        return x, None
    if rng is None:
        raise ValueError("dropout_forward: training with p > 0 needs a DeviceRNG (rng=...)")
    scale = (rng.uniform(x.shape, x.dtype) >= p) * (1.0 / (1.0 - p))
    scale = scale.astype(x.dtype)
    return x * scale, scale


def dropout_backward(dy, cache):
    """Returns dx (eq. 6.21)."""
    return dy if cache is None else dy * cache
