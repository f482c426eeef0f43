"""Padding semantics of the recurrent layers: padded steps change nothing and learn nothing."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import bidirectional as bi
from minis2s.functional import gru, lstm, rnn

CELLS = ["rnn", "lstm", "gru"]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
STATES = {"rnn": ("h0",), "lstm": ("h0", "c0"), "gru": ("h0",)}
SEQUENCE = {"rnn": (rnn.rnn_forward, rnn.rnn_backward),
            "lstm": (lstm.lstm_forward, lstm.lstm_backward),
            "gru": (gru.gru_forward, gru.gru_backward)}
STEP = {"rnn": (rnn.rnn_step_forward, rnn.rnn_step_backward),
        "lstm": (lstm.lstm_step_forward, lstm.lstm_step_backward),
        "gru": (gru.gru_step_forward, gru.gru_step_backward)}

Bn, T, D, H = 3, 5, 3, 4
LENGTHS = np.array([5, 2, 0])


def _arrays(cell, seed=0):
    """Host float64 inputs: x, initial states and parameters of one direction."""
    rng = np.random.default_rng(seed)
    G = GATES[cell]
    a = {"x": rng.standard_normal((Bn, T, D))}
    a.update({s: rng.standard_normal((Bn, H)) for s in STATES[cell]})
    a.update({"Wx": 0.5 * rng.standard_normal((G * H, D)), "Wh": 0.5 * rng.standard_normal((G * H, H)),
              "bx": 0.3 * rng.standard_normal(G * H), "bh": 0.3 * rng.standard_normal(G * H)})
    return a


def _dev(a):
    return {k: B.to_device(v, "float64") for k, v in a.items()}


def _run(cell, a, upstream, **masking):
    """Forward then backward; returns (outputs, gradients) as host arrays."""
    forward, backward = SEQUENCE[cell]
    d = _dev(a)
    args = [d["x"]] + [d[s] for s in STATES[cell]] + [d[n] for n in ("Wx", "Wh", "bx", "bh")]
    out, cache = forward(*args, **masking)
    grads = backward(tuple(B.to_device(u, "float64") for u in upstream), cache)
    return [B.to_host(o) for o in out], [B.to_host(g) for g in grads]


def _upstream(cell, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((Bn, T, H))] + [rng.standard_normal((Bn, H)) for _ in STATES[cell]]


def _pad_mask():
    return np.arange(T)[None, :] < LENGTHS[:, None]


@pytest.mark.parametrize("cell", CELLS)
def test_outputs_zero_at_padding_and_final_state_after_last_real_token(cell, backend):
    a = _arrays(cell)
    (hs, *final), _ = _run(cell, a, _upstream(cell), lengths=B.to_device(LENGTHS))
    assert np.all(hs[~_pad_mask()] == 0.0)
    assert np.all(hs[_pad_mask()] != 0.0)
    # row 1 (length 2) alone and unpadded gives the same states
    short = {k: (v[1:2, :2] if k == "x" else v[1:2] if k in STATES[cell] else v) for k, v in a.items()}
    (hs1, *final1), _ = _run(cell, short, [np.zeros((1, 2, H))] + [np.zeros((1, H))] * len(final))
    np.testing.assert_allclose(hs[1:2, :2], hs1, rtol=0, atol=1e-13)
    for f, f1, s in zip(final, final1, STATES[cell]):
        np.testing.assert_allclose(f[1:2], f1, rtol=0, atol=1e-13)
        np.testing.assert_array_equal(f[2], a[s][2])  # length 0 keeps the initial state exactly


@pytest.mark.parametrize("cell", CELLS)
def test_padding_values_change_nothing(cell, backend):
    a = _arrays(cell)
    b = dict(a, x=a["x"].copy())
    b["x"][~_pad_mask()] = 1e3 * np.random.default_rng(5).standard_normal((int((~_pad_mask()).sum()), D))
    up = _upstream(cell)
    outs_a, grads_a = _run(cell, a, up, lengths=B.to_device(LENGTHS))
    outs_b, grads_b = _run(cell, b, up, lengths=B.to_device(LENGTHS))
    for oa, ob in zip(outs_a, outs_b):
        np.testing.assert_array_equal(oa, ob)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_array_equal(ga, gb)


@pytest.mark.parametrize("cell", CELLS)
def test_padded_inputs_get_exactly_zero_gradient_and_empty_rows_pass_dh_last_to_dh0(cell, backend):
    a = _arrays(cell)
    up = _upstream(cell)
    _, (dx, *dstates_and_params) = _run(cell, a, up, lengths=B.to_device(LENGTHS))
    assert np.all(dx[~_pad_mask()] == 0.0)
    assert np.all(dx[_pad_mask()] != 0.0)
    for s, d, u in zip(STATES[cell], dstates_and_params, up[1:]):
        np.testing.assert_array_equal(d[2], u[2], err_msg=f"d{s} of the length-0 row")


@pytest.mark.parametrize("cell", CELLS)
def test_mask_forms_agree(cell, backend):
    a = _arrays(cell)
    up = _upstream(cell)
    by_lengths = _run(cell, a, up, lengths=B.to_device(LENGTHS))
    by_bool = _run(cell, a, up, mask=B.to_device(_pad_mask()))
    by_float = _run(cell, a, up, mask=B.to_device(_pad_mask().astype("float64")))
    for other in (by_bool, by_float):
        for x, y in zip(by_lengths[0] + by_lengths[1], other[0] + other[1]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cell", CELLS)
def test_full_mask_equals_no_mask(cell, backend):
    a = _arrays(cell)
    up = _upstream(cell)
    plain = _run(cell, a, up)
    masked = _run(cell, a, up, mask=B.to_device(np.ones((Bn, T))))
    for x, y in zip(plain[0] + plain[1], masked[0] + masked[1]):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_is_the_step_applied_over_time(cell, backend):
    a = _arrays(cell)
    d = _dev(a)
    params = [d[n] for n in ("Wx", "Wh", "bx", "bh")]
    (hs, *final), _ = SEQUENCE[cell][0](d["x"], *[d[s] for s in STATES[cell]], *params)
    state = tuple(d[s] for s in STATES[cell])
    for t in range(T):
        out, _ = STEP[cell][0](d["x"][:, t], *state, *params)
        state = out if cell == "lstm" else (out,)
        np.testing.assert_allclose(B.to_host(hs[:, t]), B.to_host(state[0]), rtol=0, atol=1e-14)
    for f, s in zip(final, state):
        np.testing.assert_allclose(B.to_host(f), B.to_host(s), rtol=0, atol=1e-14)


def test_reverse_padded_reverses_real_prefix_only_and_is_an_involution(backend):
    x = np.arange(3 * 4, dtype="float64").reshape(3, 4)[:, :, None] + 100
    lengths = B.to_device(np.array([4, 2, 0]))
    rev = bi.reverse_padded(B.to_device(x), lengths)
    np.testing.assert_array_equal(B.to_host(rev)[:, :, 0],
                                  [[103, 102, 101, 100], [105, 104, 106, 107], [108, 109, 110, 111]])
    np.testing.assert_array_equal(B.to_host(bi.reverse_padded(rev, lengths)), x)


def _direction(cell, a):
    return {k: v for k, v in _dev(a).items() if k != "x"}


@pytest.mark.parametrize("cell", CELLS)
def test_backward_direction_starts_at_each_rows_last_real_token(cell, backend):
    fwd, bwd = _arrays(cell, seed=0), _arrays(cell, seed=1)
    x = B.to_device(fwd["x"])
    lengths = B.to_device(LENGTHS)
    (hs, final_f, final_b), _ = bi.bidirectional_forward(cell, x, _direction(cell, fwd), _direction(cell, bwd),
                                                         lengths=lengths)
    hs = B.to_host(hs)
    assert np.all(hs[~_pad_mask()] == 0.0)
    params = [B.to_device(bwd[n]) for n in ("Wx", "Wh", "bx", "bh")]
    for b, L in enumerate(LENGTHS):
        if L == 0:
            for f, s in zip(final_b, STATES[cell]):
                np.testing.assert_array_equal(B.to_host(f)[b], bwd[s][b])
            continue
        # the backward cell's first step reads token L-1 from the initial state
        state = tuple(B.to_device(bwd[s][b : b + 1]) for s in STATES[cell])
        for t in reversed(range(L)):
            out, _ = STEP[cell][0](x[b : b + 1, t], *state, *params)
            state = out if cell == "lstm" else (out,)
            np.testing.assert_allclose(hs[b, t, H:], B.to_host(state[0])[0], rtol=0, atol=1e-13)
        for f, s in zip(final_b, state):
            np.testing.assert_allclose(B.to_host(f)[b], B.to_host(s)[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_padding_values_change_nothing(cell, backend):
    fwd, bwd = _arrays(cell, seed=0), _arrays(cell, seed=1)
    x2 = fwd["x"].copy()
    x2[~_pad_mask()] = 50.0
    rng = np.random.default_rng(3)
    dhs = B.to_device(rng.standard_normal((Bn, T, 2 * H)))
    results = []
    for x in (fwd["x"], x2):
        out, cache = bi.bidirectional_forward(cell, B.to_device(x), _direction(cell, fwd), _direction(cell, bwd),
                                              mask=B.to_device(_pad_mask()))
        dx, dfwd, dbwd = bi.bidirectional_backward((dhs, None, None), cache)
        assert np.all(B.to_host(dx)[~_pad_mask()] == 0.0)
        results.append([B.to_host(out[0]), B.to_host(dx)] + [B.to_host(g[k]) for g in (dfwd, dbwd) for k in sorted(g)])
    for r1, r2 in zip(*results):
        np.testing.assert_array_equal(r1, r2)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_in_float32_out(cell, backend):
    forward, backward = SEQUENCE[cell]
    a = {k: B.to_device(v, "float32") for k, v in _arrays(cell).items()}
    args = [a["x"]] + [a[s] for s in STATES[cell]] + [a[n] for n in ("Wx", "Wh", "bx", "bh")]
    out, cache = forward(*args, lengths=B.to_device(LENGTHS))
    grads = backward(tuple(B.to_device(u, "float32") for u in _upstream(cell)), cache)
    assert [o.dtype.name for o in out + grads] == ["float32"] * (len(out) + len(grads))
