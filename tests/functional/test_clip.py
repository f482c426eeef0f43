"""Gradient clipping: torch parity, in-place on the device, no host synchronisation."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional.clip import clip_grad_norm, clip_grad_value, global_norm

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def _host_grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * scale for s in SHAPES]


def _dev(grads, dtype="float64"):
    return [B.to_device(g.copy(), dtype) for g in grads]  # numpy would alias the host array


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0], ids=["clipped", "barely", "untouched"])
def test_clip_grad_norm_matches_torch(backend, max_norm):
    torch = pytest.importorskip("torch")
    host = _host_grads()
    grads = _dev(host)
    norm = clip_grad_norm(grads, max_norm)

    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in host]
    for p, g in zip(params, host):
        p.grad = torch.tensor(g, dtype=torch.float64)
    want_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    assert norm.shape == ()
    np.testing.assert_allclose(B.to_host(norm), want_norm.item(), rtol=1e-12)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(B.to_host(g), p.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_clipped_gradient_has_the_target_norm_and_the_same_direction(backend):
    host = _host_grads(scale=10.0)
    grads = _dev(host)
    before = B.to_float(clip_grad_norm(grads, 1.0))
    after = B.to_float(global_norm(grads))
    assert before > 10.0
    np.testing.assert_allclose(after, 1.0, rtol=1e-5)
    for g, h in zip(grads, host):
        np.testing.assert_allclose(B.to_host(g), h * (1.0 / (before + 1e-6)), rtol=1e-12)


def test_global_norm_is_the_norm_of_everything_concatenated(backend):
    host = _host_grads(1)
    want = np.linalg.norm(np.concatenate([g.ravel() for g in host]))
    np.testing.assert_allclose(B.to_host(global_norm(_dev(host))), want, rtol=1e-13)


def test_clip_grad_value_clamps_in_place_and_returns_the_norm_before(backend):
    host = _host_grads(2, scale=2.0)
    grads = _dev(host)
    originals = list(grads)
    norm = clip_grad_value(grads, 0.5)
    want = np.linalg.norm(np.concatenate([g.ravel() for g in host]))
    np.testing.assert_allclose(B.to_host(norm), want, rtol=1e-13)
    for g, o, h in zip(grads, originals, host):
        assert g is o
        np.testing.assert_array_equal(B.to_host(g), np.clip(h, -0.5, 0.5))


def test_dicts_and_generators_are_accepted(backend):
    host = _host_grads(3, scale=5.0)
    as_dict = dict(zip("abc", _dev(host)))
    as_list = _dev(host)
    n1 = clip_grad_norm(as_dict, 1.0)
    n2 = clip_grad_norm((g for g in as_list), 1.0)
    np.testing.assert_array_equal(B.to_host(n1), B.to_host(n2))
    for a, b in zip(as_dict.values(), as_list):
        np.testing.assert_array_equal(B.to_host(a), B.to_host(b))


def test_float32_gradients_stay_float32_in_place(backend):
    grads = _dev(_host_grads(4, scale=5.0), "float32")
    clip_grad_norm(grads, 1.0)
    clip_grad_value(grads, 0.1)
    assert all(g.dtype == np.float32 for g in grads)
    assert max(np.abs(B.to_host(g)).max() for g in grads) == np.float32(0.1)


def test_clipping_does_no_host_sync_on_the_strict_backend():
    with B.use("strict"):
        grads = _dev(_host_grads(5, scale=5.0))
        assert isinstance(grads[0], B.StrictArray)
        norm = clip_grad_norm(grads, 1.0)
        norm_v = clip_grad_value(grads, 0.1)
        assert isinstance(norm, B.StrictArray) and isinstance(norm_v, B.StrictArray)
        with pytest.raises(TypeError, match="implicit device->host"):
            float(norm)  # the strict backend does catch a sync: clipping above made none


def test_no_gradients_gives_norm_zero():
    assert B.to_float(global_norm([])) == 0.0
    assert B.to_float(clip_grad_norm({}, 1.0)) == 0.0
