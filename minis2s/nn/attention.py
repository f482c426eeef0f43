"""One interface over the attention kinds, for the decoder (lesson 08).

Keys are prepared once per batch (:func:`keys_forward`): additive attention projects the
encoder outputs with ``Wk`` (Bahdanau's ``U_a h_j``), dot attention projects them only when the
encoder and decoder sizes differ, general attention uses them as they are. Each decoder step
then calls :func:`step_forward` with its query.
"""

from __future__ import annotations

from .. import backend as B
from ..functional import attention as F

KINDS = ("none", "additive", "dot", "scaled_dot", "general")


def init_params(kind: str, H: int, Henc: int, A: int, generator) -> dict:
    """H: decoder size (query), Henc: encoder output size (keys and values), A: additive size."""
    if kind == "additive":
        return {
            "attn.Wk": B.uniform_init(generator, (A, Henc), Henc**-0.5),
            "attn.Wq": B.uniform_init(generator, (A, H), H**-0.5),
            "attn.v": B.uniform_init(generator, (A,), A**-0.5),
        }
    if kind in ("dot", "scaled_dot") and Henc != H:
        return {"attn.Wk": B.uniform_init(generator, (H, Henc), Henc**-0.5)}
    if kind == "general":
        return {"attn.W": B.uniform_init(generator, (H, Henc), Henc**-0.5)}
    return {}


def keys_forward(params: dict, enc_out):
    """enc_out: (B, S, Henc) -> keys (B, S, A or H or Henc), once per batch."""
    if "attn.Wk" in params:
        Wk = params["attn.Wk"]
        Bn, S, Henc = enc_out.shape
        return (enc_out.reshape(Bn * S, Henc) @ Wk.T).reshape(Bn, S, Wk.shape[0]), enc_out
    return enc_out, None


def keys_backward(params: dict, dkeys, cache) -> tuple:
    """Returns (denc_out contribution, dparams)."""
    if "attn.Wk" not in params:
        return dkeys, {}
    enc_out = cache
    Wk = params["attn.Wk"]
    dWk = dkeys.reshape(-1, Wk.shape[0]).T @ enc_out.reshape(-1, Wk.shape[1])
    Bn, S, K = dkeys.shape
    return (dkeys.reshape(Bn * S, K) @ Wk).reshape(Bn, S, Wk.shape[1]), {"attn.Wk": dWk}


def step_forward(kind: str, params: dict, q, keys, values, mask):
    """q: (B, H), keys: (B, S, K), values: (B, S, Henc), mask: (B, S).
    Returns ((context (B, Henc), weights (B, S)), cache)."""
    if kind == "additive":
        out, cache = F.additive_attention_forward(q, keys, values, mask, params["attn.Wq"], params["attn.v"])
    elif kind in ("dot", "scaled_dot"):
        out, cache = F.dot_attention_forward(q, keys, values, mask, scaled=kind == "scaled_dot")
    elif kind == "general":
        out, cache = F.general_attention_forward(q, keys, values, mask, params["attn.W"])
    else:
        raise ValueError(f"unknown attention kind {kind!r}")
    return out, cache


def step_backward(kind: str, dcontext, cache):
    """Returns (dq, dkeys, dvalues, dparams)."""
    if kind == "additive":
        dq, dk, dv_, dWq, dv = F.additive_attention_backward((dcontext, None), cache)
        return dq, dk, dv_, {"attn.Wq": dWq, "attn.v": dv}
    if kind in ("dot", "scaled_dot"):
        dq, dk, dv_ = F.dot_attention_backward((dcontext, None), cache)
        return dq, dk, dv_, {}
    dq, dk, dv_, dW = F.general_attention_backward((dcontext, None), cache)
    return dq, dk, dv_, {"attn.W": dW}
