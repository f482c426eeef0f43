"""Solution of the ``lstm_step`` exercise (lesson 04, eq. 4.6-4.9)."""

from ... import backend as B


def lstm_step_backward(dout, cache):
    """dout = (dh, dc), each (B, H).

    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dWx (4H, D), dWh (4H, H), dbx, dbh (4H,).
    """
    dh, dc = dout
    i, f, g, o, tanh_c = cache.i, cache.f, cache.g, cache.o, cache.tanh_c
    xp = B.get_array_module(i)
    dc_total = dc + dh * o * (1 - tanh_c * tanh_c)  # eq. 4.6: c reaches the loss directly and via h
    di = dc_total * g  # eq. 4.7
    df = dc_total * cache.c_prev
    dg = dc_total * i
    do = dh * tanh_c
    da = xp.concatenate(
        [di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], axis=1
    )  # eq. 4.8: sigmoid' = s (1 - s), tanh' = 1 - g^2; blocks in the order i, f, g, o
    db = da.sum(axis=0)
    return (da @ cache.Wx, da @ cache.Wh, dc_total * f,  # eq. 4.9, 4.7
            da.T @ cache.x, da.T @ cache.h_prev, db, db.copy())
