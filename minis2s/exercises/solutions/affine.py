"""Solution of the ``affine`` exercise (lesson 02, eq. 2.2)."""


def affine_backward(dy, cache):
    """dy: (B, H). Returns dx (B, D), dW (H, D), db (H,)."""
    x, W = cache.x, cache.W
    dx = dy @ W  # eq. 2.2
    dW = dy.T @ x  # (H, B) @ (B, D): one product sums the rows' outer products
    db = dy.sum(axis=0)
    return dx, dW, db
