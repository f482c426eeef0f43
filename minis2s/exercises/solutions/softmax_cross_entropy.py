"""Solution of the ``softmax_cross_entropy`` exercise (lesson 02, eq. 2.5, 2.10-2.11)."""

from ... import backend as B


def softmax_cross_entropy_backward(dloss, cache):
    """dloss: 0-d upstream gradient of the loss. Returns dlogits (B, T, V)."""
    logits, targets, mask, n = cache.logits, cache.targets, cache.mask, cache.n
    xp = B.get_array_module(logits)
    e = xp.exp(logits - logits.max(axis=-1, keepdims=True))  # eq. 2.5: shift, then exp
    p = e / e.sum(axis=-1, keepdims=True)
    onehot = xp.arange(logits.shape[-1]) == targets[..., None]  # (B, T, V)
    return (p - onehot) * (mask * (dloss / n))[..., None]  # eq. 2.11
