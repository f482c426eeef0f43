"""Inverted dropout: seeded masks, the expectation kept, identity at inference."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional.dropout import dropout_backward, dropout_forward


def _ones(shape, dtype="float32"):
    return B.to_device(np.ones(shape), dtype)


def test_same_seed_gives_the_same_mask_and_another_seed_another(backend):
    x = _ones((8, 50))
    y1, _ = dropout_forward(x, 0.3, B.DeviceRNG(7))
    y2, _ = dropout_forward(x, 0.3, B.DeviceRNG(7))
    y3, _ = dropout_forward(x, 0.3, B.DeviceRNG(8))
    np.testing.assert_array_equal(B.to_host(y1), B.to_host(y2))
    assert (B.to_host(y1) != B.to_host(y3)).any()


def test_kept_units_are_scaled_so_the_mean_is_kept(backend):
    x = B.to_device(np.random.default_rng(0).uniform(0.5, 1.5, size=(400, 500)), "float32")
    y, _ = dropout_forward(x, 0.25, B.DeviceRNG(1))
    yh, xh = B.to_host(y), B.to_host(x)
    assert y.dtype == np.float32
    kept = yh != 0
    assert abs(kept.mean() - 0.75) < 0.005  # 200,000 Bernoulli draws: sd ~ 0.001
    np.testing.assert_allclose(yh[kept], xh[kept] / 0.75, rtol=1e-6)
    assert abs(yh.mean() - xh.mean()) < 0.01 * xh.mean()


def test_backward_uses_the_forward_mask(backend):
    x = _ones((5, 7), "float64")
    y, cache = dropout_forward(x, 0.5, B.DeviceRNG(3))
    dy = B.to_device(np.random.default_rng(2).standard_normal((5, 7)), "float64")
    dx = B.to_host(dropout_backward(dy, cache))
    np.testing.assert_array_equal(dx, B.to_host(dy) * B.to_host(y))  # y = 1 * mask / (1 - p)


@pytest.mark.parametrize("p, train", [(0.0, True), (0.5, False)])
def test_p_zero_or_inference_is_the_identity(backend, p, train):
    x = B.to_device(np.arange(6.0).reshape(2, 3), "float32")
    y, cache = dropout_forward(x, p, B.DeviceRNG(0), train=train)
    assert y is x
    dy = _ones((2, 3))
    assert dropout_backward(dy, cache) is dy


def test_inference_needs_no_generator(backend):
    x = _ones((2, 3))
    assert dropout_forward(x, 0.5, None, train=False)[0] is x
    with pytest.raises(ValueError, match="DeviceRNG"):
        dropout_forward(x, 0.5, None, train=True)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_probability_outside_0_1_raises(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        dropout_forward(np.ones(3), p, None)
