"""Gradient clipping (lesson 03).

    eq. 3.11  ||g|| = sqrt(sum over every parameter array of sum g^2)      (the global norm)
    eq. 3.12  g <- g * min(1, max_norm / (||g|| + 1e-6))                   (by global norm)
    eq. 3.13  g <- clip(g, -clip_value, clip_value)                    (by value)

Both run on the device: the norm and the scale are 0-d arrays, never read back to the host
(no ``float()``, no ``if`` on an array), so clipping costs no GPU synchronisation. Clipping by
norm keeps the direction of the whole gradient and only shortens it, which is why it is the
usual cure for the exploding gradients of backpropagation through time; eq. 3.12 is
``torch.nn.utils.clip_grad_norm_``.
"""

from __future__ import annotations

from .. import backend as B


def _arrays(grads) -> list:
    """An iterable of arrays, or a dict of them (its values)."""
    return list(grads.values() if isinstance(grads, dict) else grads)


def global_norm(grads):
    """(eq. 3.11) of an iterable (or dict) of arrays, as a 0-d array."""
    grads = _arrays(grads)
    xp = B.get_array_module(*grads)
    total = None
    for g in grads:
        flat = g.reshape(-1)
        sq = xp.dot(flat, flat)
        total = sq if total is None else total + sq
    return xp.zeros(()) if total is None else xp.asarray(xp.sqrt(total))


def clip_grad_norm(grads, max_norm: float):
    """Scale every array in place by min(1, max_norm / (norm + 1e-6)) (eq. 3.12).

    grads: an iterable (or dict) of arrays. Returns the global norm before clipping (0-d).
    """
    grads = _arrays(grads)
    xp = B.get_array_module(*grads)
    norm = global_norm(grads)
    scale = xp.minimum(1.0, max_norm / (norm + 1e-6))  # 1 when already short enough: no branch
    for g in grads:
        g *= scale.astype(g.dtype)
    return norm


def clip_grad_value(grads, clip_value: float):
    """Clamp every array in place to [-clip_value, clip_value] (eq. 3.13).

    grads: an iterable (or dict) of arrays. Returns the global norm before clipping (0-d).
    """
    grads = _arrays(grads)
    xp = B.get_array_module(*grads)
    norm = global_norm(grads)
    for g in grads:
        xp.clip(g, -clip_value, clip_value, out=g)
    return norm
