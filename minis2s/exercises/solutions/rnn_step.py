"""Solution of the ``rnn_step`` exercise (lesson 03, eq. 3.4-3.5, 3.7)."""


def rnn_step_backward(dh, cache):
    """dh: (B, H). Returns dx (B, D), dh_prev (B, H), dWx (H, D), dWh (H, H), dbx, dbh (H,)."""
    x, h_prev, Wx, Wh, h = cache.x, cache.h_prev, cache.Wx, cache.Wh, cache.h
    da = dh * (1 - h * h)  # eq. 3.4: tanh' = 1 - tanh^2, from the output h
    dx = da @ Wx  # eq. 3.5
    dh_prev = da @ Wh
    dWx = da.T @ x  # eq. 3.7: the products sum over the batch rows
    dWh = da.T @ h_prev
    db = da.sum(axis=0)
    return dx, dh_prev, dWx, dWh, db, db.copy()  # bx and bh enter a the same way
