"""Gradient-check cases for the Transformer's ops: layer norm, ReLU/GELU, multi-head attention,
the feed-forward block, token + position embeddings and the encoder and decoder layers.

Dropout cases draw their masks from a fresh seeded generator in every forward, so each of the
check's forwards drops the same entries. Padded cases give the padded positions random values:
they must change nothing and receive exactly nothing.
"""

from ..backend import DeviceRNG
from ..functional import activations as Fa
from ..functional import layernorm as Fl
from ..functional import multihead as Fm
from ..functional import positional as Fp
from ..functional import transformer as Ft
from . import Case, lengths_mask

D, HEADS, F_HIDDEN = 6, 2, 5
# Not bk: the key bias adds Q_t . bk to every score of query t alike, which the softmax ignores,
# so its gradient is 0 -- both sides of the check are rounding noise (~1e-17 against ~1e-10) and
# their relative error is ~1. tests/functional/test_transformer.py asserts that it is ~0 instead.
MHA_WRT = ("query", "key", "value", "Wq", "bq", "Wk", "Wv", "bv", "Wo", "bo")


def _rng_for(seed):
    return None if seed is None else DeviceRNG(seed)


def _without_bk(names, grads):
    return tuple(g for n, g in zip(names, grads) if not n.endswith("bk"))


# ----------------------------------------------------------------------------- layer norm, act


def _layernorm(shape):
    def make(rng):
        return {"x": rng.standard_normal(shape) * 2 + 1, "gamma": rng.standard_normal(shape[-1]),
                "beta": rng.standard_normal(shape[-1])}, {}
    return make


def _pointwise(rng):
    return {"x": rng.standard_normal((3, 4, 5)) * 2}, {}


# ----------------------------------------------------------------------------- multi-head attention


def _mha_forward(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, heads, key_mask=None,
                 query_mask=None, causal=False, p=0.0, seed=None):
    return Fm.multihead_attention_forward(query, key, value, Wq, bq, Wk, bk, Wv, bv, Wo, bo, heads,
                                          key_mask=key_mask, query_mask=query_mask, causal=causal,
                                          p=p, rng=_rng_for(seed))


def _mha_backward(dout, cache):
    return _without_bk(Fm.MHA_GRADS, Fm.multihead_attention_backward(dout, cache))


def _mha_params(rng, inputs):
    for n in ("Wq", "Wk", "Wv", "Wo"):
        inputs[n] = rng.standard_normal((D, D)) / D**0.5
        inputs["b" + n[1]] = rng.standard_normal(D) * 0.1
    return inputs


def _mha(T_lengths, T, S_lengths, S, causal=False, p=0.0, Bn=None):
    """T_lengths: query lengths (None: no query mask); S_lengths: key lengths (None: no key
    mask); Bn: the batch size when both are None."""
    def make(rng):
        n = Bn or len(S_lengths or T_lengths)
        inputs = {"query": rng.standard_normal((n, T, D)), "key": rng.standard_normal((n, S, D)),
                  "value": rng.standard_normal((n, S, D))}
        static = {"heads": HEADS, "causal": causal, "p": p, "seed": 5 if p else None}
        if S_lengths is not None:
            static["key_mask"] = lengths_mask(S_lengths, S)
        if T_lengths is not None:
            static["query_mask"] = lengths_mask(T_lengths, T)
        return _mha_params(rng, inputs), static
    return make


def _heads_forward(q, k, v, heads, key_mask=None, query_mask=None, causal=False, p=0.0, seed=None):
    return Fm.attention_heads_forward(q, k, v, heads, key_mask, query_mask, causal, p, _rng_for(seed))


def _heads(T_lengths, T, S_lengths, S, causal=False, p=0.0):
    """The heads alone (eq. 12.2-12.6), on projections q, k, v drawn directly."""
    def make(rng):
        n = len(S_lengths)
        inputs = {"q": rng.standard_normal((n, T, D)), "k": rng.standard_normal((n, S, D)),
                  "v": rng.standard_normal((n, S, D))}
        static = {"heads": HEADS, "key_mask": lengths_mask(S_lengths, S),
                  "query_mask": lengths_mask(T_lengths, T), "causal": causal, "p": p, "seed": 5 if p else None}
        return inputs, static
    return make


# ----------------------------------------------------------------------------- feed-forward, embeddings


def _ffn_forward(u, W1, b1, W2, b2, activation, p=0.0, seed=None):
    return Ft.feedforward_forward(u, W1, b1, W2, b2, activation, p, _rng_for(seed))


def _ffn(activation, p=0.0, shape=(2, 3, D)):
    def make(rng):
        return {"u": rng.standard_normal(shape), "W1": rng.standard_normal((F_HIDDEN, D)),
                "b1": rng.standard_normal(F_HIDDEN), "W2": rng.standard_normal((D, F_HIDDEN)),
                "b2": rng.standard_normal(D)}, {"activation": activation, "p": p, "seed": 7 if p else None}
    return make


def _token_position(rng):
    ids = rng.integers(1, 7, size=(3, 4))
    ids[1, 2:] = 0  # padding: no gradient to E's row 0 or to P from these positions
    ids[2, 1:] = 0
    return {"E": rng.standard_normal((7, D)), "P": rng.standard_normal((5, D))}, {"ids": ids, "padding_idx": 0}


def _sentence_position(rng):
    ids = rng.integers(1, 7, size=(3, 4, 3))
    ids[0, :, 2] = 0  # short sentences: padded word slots
    ids[1, 2:] = 0  # padded sentences: no gradient from them to E, L or P
    ids[2, 1:] = 0
    return ({"E": rng.standard_normal((7, D)), "L": 0.5 * rng.standard_normal((3, D)),
             "P": rng.standard_normal((5, D))}, {"ids": ids, "padding_idx": 0})


# ----------------------------------------------------------------------------- layers


def _layer_params(rng, names, d_hidden=F_HIDDEN):
    shapes = {"W1": (d_hidden, D), "b1": (d_hidden,), "W2": (D, d_hidden), "b2": (D,)}
    params = {}
    for n in names:
        base = n.split("_", 1)[1]
        if n.startswith("ln"):
            params[n] = (1.0 if base == "g" else 0.0) + 0.3 * rng.standard_normal(D)
        elif base in shapes:
            params[n] = rng.standard_normal(shapes[base]) / shapes[base][-1] ** 0.5
        else:
            params[n] = rng.standard_normal((D, D) if base[0] == "W" else D) / D**0.5
    return params


def _encoder_forward(x, heads, mask=None, norm_first=False, activation="relu", p=0.0, seed=None, **params):
    return Ft.encoder_layer_forward(x, params, heads, mask, norm_first, activation, p, _rng_for(seed))


def _encoder_backward(dy, cache):
    dx, grads = Ft.encoder_layer_backward(dy, cache)
    return (dx, *_without_bk(grads, grads.values()))


def _decoder_forward(x, memory, heads, mask=None, memory_mask=None, norm_first=False, activation="relu",
                     p=0.0, seed=None, **params):
    return Ft.decoder_layer_forward(x, memory, params, heads, mask, memory_mask, norm_first, activation,
                                    p, _rng_for(seed))


def _decoder_backward(dy, cache):
    dx, dmemory, grads = Ft.decoder_layer_backward(dy, cache)
    return (dx, dmemory, *_without_bk(grads, grads.values()))


def _encoder(lengths, T, norm_first, activation="relu", p=0.0):
    def make(rng):
        inputs = {"x": rng.standard_normal((len(lengths), T, D)), **_layer_params(rng, Ft.ENCODER_PARAMS)}
        return inputs, {"heads": HEADS, "mask": lengths_mask(lengths, T), "norm_first": norm_first,
                        "activation": activation, "p": p, "seed": 11 if p else None}
    return make


def _decoder(lengths, T, src_lengths, S, norm_first, activation="relu", p=0.0):
    def make(rng):
        Bn = len(lengths)
        inputs = {"x": rng.standard_normal((Bn, T, D)), "memory": rng.standard_normal((Bn, S, D)),
                  **_layer_params(rng, Ft.DECODER_PARAMS)}
        return inputs, {"heads": HEADS, "mask": lengths_mask(lengths, T),
                        "memory_mask": lengths_mask(src_lengths, S), "norm_first": norm_first,
                        "activation": activation, "p": p, "seed": 13 if p else None}
    return make


LAYERNORM = (Fl.layernorm_forward, Fl.layernorm_backward)
MHA = (_mha_forward, _mha_backward)
FFN = (_ffn_forward, Ft.feedforward_backward)
FFN_WRT = ("u", "W1", "b1", "W2", "b2")
ENCODER = (_encoder_forward, _encoder_backward)
DECODER = (_decoder_forward, _decoder_backward)
ENCODER_WRT = ("x", *_without_bk(Ft.ENCODER_PARAMS, Ft.ENCODER_PARAMS))
DECODER_WRT = ("x", "memory", *_without_bk(Ft.DECODER_PARAMS, Ft.DECODER_PARAMS))

CASES = [
    Case("layernorm 3-D", *LAYERNORM, _layernorm((2, 3, 5)), wrt=("x", "gamma", "beta")),
    Case("layernorm B=1 T=1", *LAYERNORM, _layernorm((1, 1, 4)), wrt=("x", "gamma", "beta")),
    Case("relu", Fa.relu_forward, Fa.relu_backward, _pointwise, wrt=("x",)),
    Case("gelu (tanh)", Fa.gelu_forward, Fa.gelu_backward, _pointwise, wrt=("x",)),
    Case("multihead self-attention padded", *MHA, _mha([4, 2, 3], 4, [4, 2, 3], 4), wrt=MHA_WRT),
    Case("multihead causal self-attention padded", *MHA, _mha([4, 2, 3], 4, [4, 2, 3], 4, causal=True),
         wrt=MHA_WRT),
    Case("multihead cross-attention padded", *MHA, _mha([3, 1], 3, [5, 2], 5), wrt=MHA_WRT),
    Case("multihead attention no masks", *MHA, _mha(None, 3, None, 4, Bn=2), wrt=MHA_WRT),
    Case("multihead attention all-padding source row", *MHA, _mha([3, 2], 3, [4, 0], 4), wrt=MHA_WRT),
    Case("multihead attention dropout p=0.3", *MHA, _mha([4, 2], 4, [4, 3], 4, causal=True, p=0.3),
         wrt=MHA_WRT),
    Case("multihead attention B=1 T=1 S=1", *MHA, _mha([1], 1, [1], 1), wrt=MHA_WRT),
    Case("attention heads causal padded", _heads_forward, Fm.attention_heads_backward,
         _heads([4, 2, 3], 4, [4, 2, 3], 4, causal=True), wrt=("q", "k", "v")),
    Case("attention heads cross dropout p=0.3", _heads_forward, Fm.attention_heads_backward,
         _heads([3, 1], 3, [5, 2], 5, p=0.3), wrt=("q", "k", "v")),
    Case("feedforward relu", *FFN, _ffn("relu"), wrt=FFN_WRT),
    Case("feedforward gelu dropout p=0.3", *FFN, _ffn("gelu", p=0.3), wrt=FFN_WRT),
    Case("token+position embedding padded", Fp.token_position_forward, Fp.token_position_backward,
         _token_position, wrt=("E", "P")),
    Case("sentence+position embedding padded", Fp.sentence_position_forward, Fp.sentence_position_backward,
         _sentence_position, wrt=("E", "L", "P")),
    Case("encoder layer post-norm padded", *ENCODER, _encoder([4, 2, 3], 4, False), wrt=ENCODER_WRT),
    Case("encoder layer pre-norm padded", *ENCODER, _encoder([4, 2, 3], 4, True), wrt=ENCODER_WRT),
    Case("encoder layer pre-norm gelu dropout", *ENCODER, _encoder([3, 2], 3, True, "gelu", p=0.2),
         wrt=ENCODER_WRT),
    Case("encoder layer post-norm B=1 T=1", *ENCODER, _encoder([1], 1, False), wrt=ENCODER_WRT),
    Case("decoder layer post-norm padded", *DECODER, _decoder([3, 2], 3, [4, 2], 4, False), wrt=DECODER_WRT),
    Case("decoder layer pre-norm padded", *DECODER, _decoder([3, 2], 3, [4, 2], 4, True), wrt=DECODER_WRT),
    Case("decoder layer post-norm gelu dropout", *DECODER, _decoder([3, 1], 3, [2, 4], 4, False, "gelu", p=0.2),
         wrt=DECODER_WRT),
    Case("decoder layer pre-norm B=1 T=1 S=1", *DECODER, _decoder([1], 1, [1], 1, True), wrt=DECODER_WRT),
]
