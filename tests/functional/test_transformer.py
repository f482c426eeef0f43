"""Transformer ops: exact zeros at padding, causality, padding invariance, positions, bad input."""

import math

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.backend import DeviceRNG
from minis2s.functional import layernorm as Fl
from minis2s.functional import multihead as Fm
from minis2s.functional import positional as Fp
from minis2s.functional import transformer as Ft
from minis2s.functional.transformer import MHA_PARAMS
from minis2s.shapes import ShapeError

Bn, T, S, D, HEADS, F = 3, 5, 4, 6, 2, 7
T_LENGTHS = [5, 3, 1]
S_LENGTHS = [4, 2, 3]


def _dev(a, dtype="float64"):
    return B.to_device(np.asarray(a), dtype)


def _host(a):
    return B.to_host(a)


def _mask(lengths, n):
    return (np.arange(n)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


def _mha_params(rng):
    return [_dev(rng.standard_normal((D, D) if n[0] == "W" else (D,))) for n in MHA_PARAMS]


def _layer_params(rng, names):
    shapes = {"ff_W1": (F, D), "ff_b1": (F,), "ff_W2": (D, F), "ff_b2": (D,)}
    return {n: _dev(rng.standard_normal(shapes.get(n, (D, D) if "_W" in n else (D,))) * 0.5) for n in names}


def _mha(query, key, value, params, **kw):
    (y, weights), cache = Fm.multihead_attention_forward(_dev(query), _dev(key), _dev(value), *params,
                                                         HEADS, **kw)
    return y, weights, cache


# ----------------------------------------------------------------------------- multi-head attention


def test_padded_queries_and_keys_get_exactly_zero_output_and_gradient(backend):
    rng = np.random.default_rng(0)
    qmask, kmask = _mask(T_LENGTHS, T), _mask(S_LENGTHS, S)
    query, key, value = (rng.standard_normal((Bn, T, D)), rng.standard_normal((Bn, S, D)),
                         rng.standard_normal((Bn, S, D)))
    key[kmask == 0] = 1e6  # huge padded keys and values must leak into nothing
    value[kmask == 0] = -1e6
    y, weights, cache = _mha(query, key, value, _mha_params(rng), key_mask=_dev(kmask), query_mask=_dev(qmask))
    grads = Fm.multihead_attention_backward((_dev(rng.standard_normal((Bn, T, D))),
                                             _dev(rng.standard_normal((Bn, HEADS, T, S)))), cache)
    y, weights = _host(y), _host(weights)
    dquery, dkey, dvalue = (_host(g) for g in grads[:3])
    assert (y[qmask == 0] == 0).all() and (dquery[qmask == 0] == 0).all()
    assert (weights.transpose(0, 2, 1, 3)[qmask == 0] == 0).all()  # a padded query attends to nothing
    assert (weights.transpose(0, 3, 1, 2)[kmask == 0] == 0).all()  # nothing attends to a padded key
    assert (dkey[kmask == 0] == 0).all() and (dvalue[kmask == 0] == 0).all()
    real_rows = weights.transpose(0, 2, 1, 3)[qmask == 1]  # (rows, heads, S)
    np.testing.assert_allclose(real_rows.sum(axis=-1), 1.0, rtol=1e-14)
    assert all(np.isfinite(_host(g)).all() for g in grads)


def test_causal_output_at_t_ignores_every_input_after_t(backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((Bn, T, D))
    params = _mha_params(rng)
    y, weights, _ = _mha(x, x, x, params, causal=True)
    for t in range(T - 1):
        later = x.copy()
        later[:, t + 1:] = rng.standard_normal((Bn, T - t - 1, D)) * 100
        y2, _, _ = _mha(later, later, later, params, causal=True)
        np.testing.assert_array_equal(_host(y2)[:, : t + 1], _host(y)[:, : t + 1])
    assert (np.triu(np.ones((T, T)), 1)[None, None] * _host(weights) == 0).all()


def test_key_bias_gradient_is_zero_because_softmax_ignores_a_common_shift(backend):
    rng = np.random.default_rng(2)
    query, kv = rng.standard_normal((Bn, T, D)), rng.standard_normal((Bn, S, D))
    params = _mha_params(rng)
    _, _, cache = _mha(query, kv, kv, params, key_mask=_dev(_mask(S_LENGTHS, S)))
    grads = Fm.multihead_attention_backward((_dev(rng.standard_normal((Bn, T, D))), None), cache)
    dbk, dbq = _host(grads[Fm.MHA_GRADS.index("bk")]), _host(grads[Fm.MHA_GRADS.index("bq")])
    assert np.abs(dbk).max() < 1e-12 * np.abs(dbq).max()


def test_all_padding_source_row_gives_zero_weights_not_nan(backend):
    rng = np.random.default_rng(3)
    query, kv = rng.standard_normal((2, T, D)), rng.standard_normal((2, S, D))
    params = _mha_params(rng)
    y, weights, cache = _mha(query, kv, kv, params, key_mask=_dev(_mask([S, 0], S)))
    grads = Fm.multihead_attention_backward((_dev(np.ones((2, T, D))), None), cache)
    assert (_host(weights)[1] == 0).all()
    np.testing.assert_allclose(_host(y)[1], np.broadcast_to(_host(params[-1]), (T, D)), rtol=1e-15)  # bo
    assert all(np.isfinite(_host(g)).all() for g in grads)


@pytest.mark.parametrize("kind", ["self", "cross"])
def test_shared_inputs_stacked_projection_equals_three_separate_ones(backend, kind):
    # key None (self-attention) or value None (key = value) runs one stacked GEMM; the result,
    # and the shared input's gradient (the sum of its slots' when passed separately), must not change
    rng = np.random.default_rng(4)
    query = _dev(rng.standard_normal((Bn, T, D)))
    kv = query if kind == "self" else _dev(rng.standard_normal((Bn, T, D)))
    params, mask = _mha_params(rng), _dev(_mask(T_LENGTHS, T))
    dy, dweights = _dev(rng.standard_normal((Bn, T, D))), _dev(rng.standard_normal((Bn, HEADS, T, T)))
    shared = (None, None) if kind == "self" else (kv, None)
    kw = {"key_mask": mask, "query_mask": mask, "causal": kind == "self"}
    (y1, w1), c1 = Fm.multihead_attention_forward(query, kv, kv, *params, HEADS, **kw)
    (y2, w2), c2 = Fm.multihead_attention_forward(query, *shared, *params, HEADS, **kw)
    g1 = [_host(g) for g in Fm.multihead_attention_backward((dy, dweights), c1)]
    g2 = Fm.multihead_attention_backward((dy, dweights), c2)
    np.testing.assert_allclose(_host(y2), _host(y1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_host(w2), _host(w1), rtol=1e-12, atol=1e-12)
    if kind == "self":
        assert g2[1] is None and g2[2] is None
        np.testing.assert_allclose(_host(g2[0]), g1[0] + g1[1] + g1[2], rtol=1e-12, atol=1e-12)
    else:
        assert g2[2] is None
        np.testing.assert_allclose(_host(g2[0]), g1[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_host(g2[1]), g1[1] + g1[2], rtol=1e-12, atol=1e-12)
    for name, a, b in zip(Fm.MHA_GRADS[3:], g1[3:], g2[3:]):
        assert b.shape == a.shape, name
        np.testing.assert_allclose(_host(b), a, rtol=1e-10, atol=1e-12, err_msg=name)


def test_weight_dropout_is_off_in_eval_and_seeded_in_training(backend):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((Bn, T, D))
    params = _mha_params(rng)
    y0, _, _ = _mha(x, x, x, params)
    y_eval, _, _ = _mha(x, x, x, params, p=0.5, rng=None, train=False)
    np.testing.assert_array_equal(_host(y_eval), _host(y0))
    y1, w1, _ = _mha(x, x, x, params, p=0.5, rng=DeviceRNG(7))
    y2, _, _ = _mha(x, x, x, params, p=0.5, rng=DeviceRNG(7))
    np.testing.assert_array_equal(_host(y1), _host(y2))
    assert not np.allclose(_host(y1), _host(y0))
    np.testing.assert_array_equal(_host(w1), _host(_mha(x, x, x, params)[1]))  # weights before dropout
    with pytest.raises(ValueError, match="DeviceRNG"):
        _mha(x, x, x, params, p=0.5, rng=None)


def test_heads_must_divide_d_model_one_line_error(backend):
    rng = np.random.default_rng(5)
    x = _dev(rng.standard_normal((Bn, T, D)))
    with pytest.raises(ShapeError, match=r"D=6 must split into 4 heads") as info:
        Fm.multihead_attention_forward(x, x, x, *_mha_params(rng), 4)
    assert "\n" not in str(info.value) and isinstance(info.value, ValueError)


def test_bad_shapes_name_the_argument(backend):
    rng = np.random.default_rng(6)
    x, kv = _dev(rng.standard_normal((Bn, T, D))), _dev(rng.standard_normal((Bn, S, D)))
    params = _mha_params(rng)
    with pytest.raises(ShapeError, match="causal: needs self-attention with T == S"):
        Fm.multihead_attention_forward(x, kv, kv, *params, HEADS, causal=True)
    with pytest.raises(ShapeError, match="Wk: expected shape"):
        Fm.multihead_attention_forward(x, kv, kv, params[0], params[1], _dev(np.ones((D, D + 1))),
                                       *params[3:], HEADS)
    with pytest.raises(ShapeError, match="key_mask"):
        Fm.multihead_attention_forward(x, kv, kv, *params, HEADS, key_mask=_dev(np.ones((Bn, T))))
    with pytest.raises(ShapeError, match="value"):
        Fm.multihead_attention_forward(x, kv, x, *params, HEADS)


def test_split_heads_is_a_view(backend):
    x = _dev(np.arange(2 * 3 * 4, dtype="float64").reshape(2, 3, 4))
    heads = Fm.split_heads(x, 2)
    if backend.__name__ == "cupy":  # to_host would copy
        shared = backend.shares_memory(heads, x)
    else:
        shared = np.shares_memory(_host(heads), _host(x))
    assert heads.shape == (2, 2, 3, 2) and shared
    np.testing.assert_array_equal(_host(Fm.merge_heads(heads)), _host(x))


# ----------------------------------------------------------------------------- layer norm


def test_layernorm_rows_have_zero_mean_and_unit_variance(backend):
    x = np.random.default_rng(7).standard_normal((Bn, T, D)) * 5 + 3
    y, _ = Fl.layernorm_forward(_dev(x), _dev(np.ones(D)), _dev(np.zeros(D)))
    y = _host(y)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-14)
    np.testing.assert_allclose(y.var(axis=-1), x.var(axis=-1) / (x.var(axis=-1) + Fl.EPS), rtol=1e-12)


def test_layernorm_feature_mismatch_raises(backend):
    with pytest.raises(ShapeError, match=r"x: expected shape \(\.\.\., 4\)"):
        Fl.layernorm_forward(_dev(np.ones((2, 3))), _dev(np.ones(4)), _dev(np.zeros(4)))


# ----------------------------------------------------------------------------- positions


def test_sinusoidal_table_follows_the_formula(backend):
    for d in (6, 7):
        pe = _host(Fp.sinusoidal_table(9, d, _dev(np.zeros(1))))
        assert pe.shape == (9, d) and np.abs(pe).max() <= 1.0
        t, i = 5, 2
        np.testing.assert_allclose(pe[t, 2 * i], math.sin(t / 10000 ** (2 * i / d)), rtol=1e-13)
        np.testing.assert_allclose(pe[t, 2 * i + 1], math.cos(t / 10000 ** (2 * i / d)), rtol=1e-13)
        np.testing.assert_array_equal(pe[0, 0::2], 0.0)
        np.testing.assert_array_equal(pe[0, 1::2], 1.0)


def test_token_position_embedding_scales_tokens_and_zeroes_padding(backend):
    rng = np.random.default_rng(8)
    ids = np.array([[3, 1, 2, 0], [2, 0, 0, 0]])
    E, P = rng.standard_normal((5, D)), rng.standard_normal((6, D))
    x, cache = Fp.token_position_forward(B.to_device(ids), _dev(E), _dev(P), padding_idx=0)
    x = _host(x)
    np.testing.assert_allclose(x[0, 1], math.sqrt(D) * E[1] + P[1], rtol=1e-14)
    assert (x[ids == 0] == 0).all()
    dE, dP = (_host(g) for g in Fp.token_position_backward(_dev(np.ones((2, 4, D))), cache))
    assert (dE[0] == 0).all() and (dP[4:] == 0).all()
    np.testing.assert_allclose(dE[2], 2 * math.sqrt(D), rtol=1e-14)  # id 2 read twice
    with pytest.raises(ShapeError, match="too few for T=4"):
        Fp.token_position_forward(B.to_device(ids), _dev(E), _dev(P[:3]))


def test_sentence_embedding_is_eq_15_6_by_hand_and_zeroes_empty_sentences(backend):
    rng = np.random.default_rng(9)
    ids = np.array([[[3, 1, 0], [2, 2, 4]], [[4, 0, 0], [0, 0, 0]]])  # (B=2, S=2, W=3), padding 0
    E, L, P = rng.standard_normal((5, D)), rng.standard_normal((3, D)), rng.standard_normal((4, D))
    E[0] = 0.0
    m, cache = Fp.sentence_position_forward(B.to_device(ids), _dev(E), _dev(L), _dev(P), padding_idx=0)
    m = _host(m)
    by_hand = math.sqrt(D) * ((1 + L[0]) * E[2] + (1 + L[1]) * E[2] + (1 + L[2]) * E[4]) + P[1]
    np.testing.assert_allclose(m[0, 1], by_hand, rtol=1e-13)
    np.testing.assert_allclose(m[1, 0], math.sqrt(D) * (1 + L[0]) * E[4] + P[0], rtol=1e-13)
    assert (m[1, 1] == 0).all()  # a sentence of padding only: the zero vector, position included
    dE, dL, dP = (_host(g) for g in Fp.sentence_position_backward(_dev(np.ones((2, 2, D))), cache))
    assert (dE[0] == 0).all() and (dP[2:] == 0).all()
    np.testing.assert_allclose(dP[1], 1.0)  # only the first row's second sentence is real
    np.testing.assert_allclose(dE[2], math.sqrt(D) * ((1 + L[0]) + (1 + L[1])), rtol=1e-13)  # read twice
    with pytest.raises(ShapeError, match="too few for S=2"):
        Fp.sentence_position_forward(B.to_device(ids), _dev(E), _dev(L), _dev(P[:1]))


# ----------------------------------------------------------------------------- layers


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_encoder_layer_padding_changes_nothing_and_gets_nothing(backend, norm_first):
    rng = np.random.default_rng(9)
    params = _layer_params(rng, Ft.ENCODER_PARAMS)
    x = rng.standard_normal((Bn, T, D))
    real = _mask(T_LENGTHS, T)
    x[real == 0] = 1e3
    y, cache = Ft.encoder_layer_forward(_dev(x), params, HEADS, mask=_dev(real), norm_first=norm_first)
    dx, _ = Ft.encoder_layer_backward(_dev(rng.standard_normal((Bn, T, D))), cache)
    y, dx = _host(y), _host(dx)
    assert (y[real == 0] == 0).all() and (dx[real == 0] == 0).all()
    for b, n in enumerate(T_LENGTHS):  # each sequence alone, unpadded, gives the same real rows
        alone, _ = Ft.encoder_layer_forward(_dev(x[b:b + 1, :n]), params, HEADS, norm_first=norm_first)
        np.testing.assert_allclose(_host(alone)[0], y[b, :n], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_is_causal_and_ignores_source_padding(backend, norm_first):
    rng = np.random.default_rng(10)
    params = _layer_params(rng, Ft.DECODER_PARAMS)
    x, memory = rng.standard_normal((Bn, T, D)), rng.standard_normal((Bn, S, D))
    src = _mask(S_LENGTHS, S)

    def run(x, memory):
        y, _ = Ft.decoder_layer_forward(_dev(x), _dev(memory), params, HEADS, memory_mask=_dev(src),
                                        norm_first=norm_first)
        return _host(y)

    y = run(x, memory)
    later = x.copy()
    later[:, 2:] += 50
    np.testing.assert_array_equal(run(later, memory)[:, :2], y[:, :2])
    noisy = memory.copy()
    noisy[src == 0] = -1e4
    np.testing.assert_array_equal(run(x, noisy), y)


def test_layer_bad_arguments_raise_clear_errors(backend):
    rng = np.random.default_rng(11)
    params = _layer_params(rng, Ft.ENCODER_PARAMS)
    x = _dev(rng.standard_normal((Bn, T, D)))
    with pytest.raises(ValueError, match="activation: expected one of relu, gelu"):
        Ft.encoder_layer_forward(x, params, HEADS, activation="swish")
    with pytest.raises(ValueError, match="params: missing ln2_g"):
        Ft.encoder_layer_forward(x, {k: v for k, v in params.items() if k != "ln2_g"}, HEADS)
    with pytest.raises(ShapeError, match="mask"):
        Ft.encoder_layer_forward(x, params, HEADS, mask=_dev(np.ones((Bn, T + 1))))
    dparams = _layer_params(rng, Ft.DECODER_PARAMS)
    with pytest.raises(ShapeError, match="memory"):
        Ft.decoder_layer_forward(x, _dev(np.ones((Bn, S, D + 2))), dparams, HEADS)
