"""Solution of the ``additive_attention`` exercise (lesson 07, eq. 7.6-7.8)."""


def additive_attention_backward(dout, cache):
    """dout = (dcontext (B, Hv), dweights (B, S)).

    Returns dq (B, Hq), dkeys_proj (B, S, A), dvalues (B, S, Hv), dWq (A, Hq), dv (A,).
    """
    dcontext, dweights = dout
    q, values, Wq, v, t, w = cache.q, cache.values, cache.Wq, cache.v, cache.t, cache.weights
    # eq. 7.6: da_s = v_s . dc, plus dweights, the upstream gradient of the returned weights
    dw = (values @ dcontext[:, :, None])[..., 0] + dweights
    dvalues = w[:, :, None] * dcontext[:, None, :]  # eq. 7.6: dv_s = a_s dc
    de = w * (dw - (w * dw).sum(axis=1, keepdims=True))  # eq. 7.7; 0 at padding since a_s = 0 there
    du = de[:, :, None] * v * (1 - t * t)  # eq. 7.8: (B, S, A), tanh' = 1 - t^2
    dq_proj = du.sum(axis=1)  # q Wq^T is broadcast over the S positions, so its gradient sums over S
    dv = (de[:, :, None] * t).sum(axis=(0, 1))
    return dq_proj @ Wq, du, dvalues, dq_proj.T @ q, dv
