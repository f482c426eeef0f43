"""The bridge (eq. 9.5): torch parity, the gradient check, and the decoder's use of it; and the
per-step caches the LSTM and GRU sequence caches hand a step backward."""

import numpy as np
import pytest

from minis2s.functional import bridge as Fb
from minis2s.functional import gru, lstm
from minis2s.gradcheck import TOLERANCE, gradcheck
from minis2s.shapes import ShapeError


def _inputs(rng, Bn=3, Henc=6, H=4):
    return {"h": rng.standard_normal((Bn, Henc)), "W": 0.5 * rng.standard_normal((H, Henc)),
            "b": rng.standard_normal(H)}


def test_bridge_state_matches_torch_tanh_of_linear():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    inputs = _inputs(rng)
    ds0 = rng.standard_normal((3, 4))
    s0, cache = Fb.bridge_state_forward(**inputs)
    grads = Fb.bridge_state_backward(ds0, cache)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    ts0 = torch.tanh(torch.nn.functional.linear(t["h"], t["W"], t["b"]))
    ts0.backward(torch.tensor(ds0))
    np.testing.assert_allclose(s0, ts0.detach().numpy(), rtol=1e-12)
    for ours, k in zip(grads, ("h", "W", "b")):
        np.testing.assert_allclose(ours, t[k].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_bridge_state_passes_the_gradient_check():
    inputs = _inputs(np.random.default_rng(1))
    results = gradcheck(Fb.bridge_state_forward, Fb.bridge_state_backward, inputs, ("h", "W", "b"),
                        max_coords=None)
    assert all(r.rel_error <= TOLERANCE for r in results), results


def test_bridge_state_names_h_when_it_does_not_fit_the_weight():
    inputs = _inputs(np.random.default_rng(2))
    with pytest.raises(ShapeError, match=r"h: expected shape \(B, Henc\)"):
        Fb.bridge_state_forward(inputs["h"], inputs["W"][:, :-1], inputs["b"])


def _sequence(rng, G, c0=False, Bn=3, T=4, D=2, H=3):
    args = {"x": rng.standard_normal((Bn, T, D)), "h0": rng.standard_normal((Bn, H))}
    if c0:
        args["c0"] = rng.standard_normal((Bn, H))
    args.update(Wx=rng.standard_normal((G * H, D)), Wh=rng.standard_normal((G * H, H)),
                bx=rng.standard_normal(G * H), bh=rng.standard_normal(G * H))
    return args, np.array([4, 2, 0])


@pytest.mark.parametrize("t", [0, 1, 3])
def test_lstm_cache_step_is_the_step_forwards_cache(t):
    args, lengths = _sequence(np.random.default_rng(3), 4, c0=True)
    _, cache = lstm.lstm_forward(**args, lengths=lengths)
    h_prev = args["h0"] if t == 0 else cache.h[:, t - 1]
    c_prev = cache.gates[t].c_prev
    _, expected = lstm.lstm_step_forward(args["x"][:, t], h_prev, c_prev, args["Wx"], args["Wh"],
                                         args["bx"], args["bh"])
    step = cache.step(t)
    assert step._fields == expected._fields
    for ours, theirs in zip(step, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t", [0, 1, 3])
def test_gru_cache_step_is_the_step_forwards_cache(t):
    args, lengths = _sequence(np.random.default_rng(4), 3)
    _, cache = gru.gru_forward(**args, lengths=lengths)
    h_prev = args["h0"] if t == 0 else cache.h[:, t - 1]
    _, expected = gru.gru_step_forward(args["x"][:, t], h_prev, args["Wx"], args["Wh"], args["bx"],
                                       args["bh"])
    step = cache.step(t)
    assert step._fields == expected._fields
    for ours, theirs in zip(step, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
