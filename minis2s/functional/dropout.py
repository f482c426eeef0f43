"""Inverted dropout (lesson 07).

    eq. 7.11  y = x * M / (1 - p),  M_k ~ Bernoulli(1 - p):  E[y] = x, so inference is the identity
    eq. 7.12  dx = dy * M / (1 - p)

The mask is drawn on the device from a seeded :class:`minis2s.backend.DeviceRNG`, so a seed
fixes it (per backend) and no random numbers cross from the host in the training step.
"""

from __future__ import annotations

from .. import backend as B


def dropout_forward(x, p: float, rng, train: bool = True):
    """x: any shape; p: drop probability in [0, 1); rng: a :class:`minis2s.backend.DeviceRNG`.

    Returns (y, cache). With ``p == 0`` or ``train=False`` this is the identity (eq. 7.11: the
    1 / (1 - p) rescaling in training is what makes inference need no correction).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout_forward: p is a drop probability in [0, 1), got {p}")
    if not train or p == 0.0:
        return x, None
    if rng is None:
        raise ValueError("dropout_forward: training with p > 0 needs a DeviceRNG (rng=...)")
    keep = rng.keep_mask(x.shape, 1.0 - p)  # M, P(M_k = 1) = 1 - p
    scale = B.get_array_module(x).multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype)  # M / (1 - p), in x's dtype
    return x * scale, scale  # eq. 7.11


def dropout_backward(dy, cache):
    """Returns dx (eq. 7.12): the same mask and scale as the forward."""
    return dy if cache is None else dy * cache
