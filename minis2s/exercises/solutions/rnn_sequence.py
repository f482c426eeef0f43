"""Solution of the ``rnn_sequence`` exercise (lesson 03, eq. 3.3, 3.6-3.8): BPTT over padding."""

from ... import backend as B
from .rnn_step import rnn_step_backward


def rnn_backward(dout, cache):
    """dout = (dhs (B, T, H), dh_last (B, H)).

    Returns dx (B, T, D), dh0 (B, H), dWx (H, D), dWh (H, H), dbx (H,), dbh (H,).
    """
    dhs, dh_last = dout
    xp = B.get_array_module(dhs)
    T = dhs.shape[1]
    dh = dh_last  # the gradient of the final state starts the loop
    dx = [None] * T
    dWx = dWh = dbx = dbh = 0.0
    for t in reversed(range(T)):  # from the last step to the first: dh_{t-1} needs step t
        m = cache.mask[:, t]  # (B, 1), True on real tokens
        dh = dh + m * dhs[:, t]  # eq. 3.6: the output's gradient joins the carried one
        # eq. 3.8: a padded step's tanh gets no gradient, and it passes dh on unchanged
        dx[t], dh_prev, dWx_t, dWh_t, dbx_t, dbh_t = rnn_step_backward(m * dh, cache.step(t))
        dh = xp.where(m, dh_prev, dh)
        dWx, dWh = dWx + dWx_t, dWh + dWh_t  # eq. 3.7: the weights are shared, so sum over time
        dbx, dbh = dbx + dbx_t, dbh + dbh_t
    return xp.stack(dx, axis=1), dh, dWx, dWh, dbx, dbh
