"""Pointwise nonlinearities and (log-)softmax: values, stability at extreme inputs, torch parity."""

import warnings

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import activations as F


def _dev(a, dtype="float64"):
    return B.to_device(np.asarray(a), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_is_finite_and_silent_at_plus_minus_1000(backend, dtype):
    x = _dev([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype)
    # underflow to 0 is the right answer at -1000; overflow or 0/0 would be a bug
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = B.to_host(F.sigmoid(x))
    assert y.dtype == np.dtype(dtype)
    e30 = np.exp(-30.0)
    want = np.array([0.0, e30 / (1.0 + e30), 0.5, 1.0 / (1.0 + e30), 1.0])
    np.testing.assert_allclose(y, want.astype(dtype), rtol=1e-6, atol=0)
    assert y[0] == 0.0 and y[2] == 0.5 and y[4] == 1.0


def test_sigmoid_matches_the_definition_with_full_relative_precision(backend):
    x = np.linspace(-30, 30, 121)
    got = B.to_host(F.sigmoid(_dev(x)))
    np.testing.assert_allclose(got, 1.0 / (1.0 + np.exp(-x)), rtol=1e-15, atol=0)


def test_softmax_of_two_equal_huge_scores_is_one_half_each(backend):
    p = B.to_host(F.softmax(_dev([1000.0, 1000.0], "float32")))
    np.testing.assert_array_equal(p, [0.5, 0.5])


def test_log_softmax_is_finite_where_softmax_underflows(backend):
    x = _dev([[0.0, -2000.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = B.to_host(F.log_softmax(x))
    np.testing.assert_allclose(y, [[-1000.0, -3000.0, 0.0]], rtol=1e-15)


def test_softmax_along_another_axis_sums_to_one_there(backend):
    x = _dev(np.random.default_rng(0).standard_normal((3, 4, 5)))
    p = B.to_host(F.softmax(x, axis=1))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.exp(B.to_host(F.log_softmax(x, axis=1))), p, rtol=1e-13)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "softmax", "log_softmax"])
def test_forward_and_backward_match_torch(backend, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((2, 3, 5)) * 3, rng.standard_normal((2, 3, 5))
    y, cache = getattr(F, f"{name}_forward")(_dev(x))
    dx = getattr(F, f"{name}_backward")(_dev(dy), cache)

    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    yt = {"tanh": torch.tanh, "sigmoid": torch.sigmoid,
          "softmax": lambda t: torch.softmax(t, -1), "log_softmax": lambda t: torch.log_softmax(t, -1)}[name](xt)
    yt.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(B.to_host(y), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(B.to_host(dx), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_float32_stays_float32(backend):
    x = _dev([[0.5, -1.0, 2.0]], "float32")
    for name in ("tanh", "sigmoid", "softmax", "log_softmax"):
        y, cache = getattr(F, f"{name}_forward")(x)
        dx = getattr(F, f"{name}_backward")(y, cache)
        assert y.dtype == dx.dtype == np.float32, name
