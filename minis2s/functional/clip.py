"""Gradient clipping (lesson 03).

    eq. 3.11  ||g|| = sqrt(sum over every parameter array of sum g^2)      (the global norm)
    eq. 3.12  g <- g * min(1, max_norm / (||g|| + 1e-6))                   (by global norm)
    eq. 3.13  g <- clip(g, -c, c)                                          (by value)

Both run on the device: the scale is a 0-d array, never read back to the host, so clipping
costs no GPU synchronisation.
"""

from __future__ import annotations

from .. import backend as B


def global_norm(grads):
    """(eq. 3.11) as a 0-d array."""
    grads = list(grads)
    xp = B.get_array_module(*grads)
    total = None
    for g in grads:
        flat = g.reshape(-1)
        sq = xp.dot(flat, flat)
        total = sq if total is None else total + sq
    return xp.sqrt(total) if total is not None else xp.zeros(())


def clip_grad_norm(grads, max_norm: float):
    """Scale every array in place (eq. 3.12); returns the norm before clipping."""
    grads = list(grads)
    xp = B.get_array_module(*grads)
    norm = global_norm(grads)
    scale = xp.minimum(1.0, max_norm / (norm + 1e-6)).astype(grads[0].dtype) if grads else None
    for g in grads:
        g *= scale
    return norm


def clip_grad_value(grads, clip_value: float):
    """Clamp every array in place to [-clip_value, clip_value] (eq. 3.13); returns the norm before."""
    grads = list(grads)
    xp = B.get_array_module(*grads)
    norm = global_norm(grads)
    for g in grads:
        xp.clip(g, -clip_value, clip_value, out=g)
    return norm
