"""Solution of the ``gru_step`` exercise (lesson 05, eq. 5.5-5.8)."""

from ... import backend as B


def gru_step_backward(dh, cache):
    """dh: (B, H). Returns dx (B, D), dh_prev (B, H), dWx (3H, D), dWh (3H, H), dbx, dbh (3H,)."""
    h_prev, r, z, n = cache.h_prev, cache.r, cache.z, cache.n
    xp = B.get_array_module(h_prev)
    dn = dh * (1 - z)  # eq. 5.5: h = (1 - z) n + z h_prev
    dz = dh * (h_prev - n)
    dax_n = dn * (1 - n * n)  # eq. 5.6: tanh' = 1 - n^2
    dah_n = dax_n * r  # r scales h_prev Wh_n^T + bh_n
    dr = dax_n * cache.ah_n
    da_r = dr * r * (1 - r)  # eq. 5.7: sigmoid' = s (1 - s)
    da_z = dz * z * (1 - z)
    dax = xp.concatenate([da_r, da_z, dax_n], axis=1)  # blocks r, z, n
    dah = xp.concatenate([da_r, da_z, dah_n], axis=1)  # r and z see ax + ah, so both get the same
    dh_prev = dh * z + dah @ cache.Wh  # eq. 5.8: the direct path and the recurrent one
    return (dax @ cache.Wx, dh_prev, dax.T @ cache.x, dah.T @ h_prev,
            dax.sum(axis=0), dah.sum(axis=0))
