"""Softmax cross-entropy: torch parity, padding semantics, statistics, bad input."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional.losses import (cross_entropy_stats, softmax_cross_entropy_backward,
                                       softmax_cross_entropy_forward)
from minis2s.shapes import ShapeError


def _dev(a, dtype="float64"):
    return B.to_device(np.asarray(a), dtype)


def _ids(a):
    return B.to_device(np.asarray(a, dtype=np.int64))


def _torch_ce(logits, targets, ignore_index=-100, label_smoothing=0.0, dloss=1.0):
    torch = pytest.importorskip("torch")
    V = logits.shape[-1]
    z = torch.tensor(logits.reshape(-1, V), dtype=torch.float64, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(z, torch.tensor(targets.reshape(-1)), ignore_index=ignore_index,
                                             label_smoothing=label_smoothing, reduction="mean")
    loss.backward(torch.tensor(dloss, dtype=torch.float64))
    return loss.item(), z.grad.numpy().reshape(logits.shape)


@pytest.mark.parametrize("shape", [(3, 4, 7), (9, 7)], ids=["3-D", "2-D"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_matches_torch_with_ignore_index_and_label_smoothing(backend, shape, label_smoothing):
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(shape) * 3
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    targets.reshape(-1)[[1, 4, 5]] = -100
    loss, cache = softmax_cross_entropy_forward(_dev(logits), _ids(targets), ignore_index=-100,
                                                label_smoothing=label_smoothing)
    dlogits = softmax_cross_entropy_backward(_dev(0.7), cache)

    want_loss, want_grad = _torch_ce(logits, targets, -100, label_smoothing, dloss=0.7)
    assert loss.shape == ()
    np.testing.assert_allclose(B.to_host(loss), want_loss, rtol=1e-10, atol=0)
    np.testing.assert_allclose(B.to_host(dlogits), want_grad, rtol=1e-10, atol=1e-13)


def test_a_mask_means_the_same_as_ignore_index(backend):
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((3, 5, 6))
    targets = rng.integers(0, 6, size=(3, 5))
    mask = (np.arange(5)[None, :] < np.array([5, 2, 3])[:, None]).astype("float64")
    targets[mask == 0] = 99  # whatever padding holds is never read, not even range-checked
    loss, cache = softmax_cross_entropy_forward(_dev(logits), _ids(targets), mask=_dev(mask),
                                                label_smoothing=0.2)
    dlogits = softmax_cross_entropy_backward(1.0, cache)

    want_loss, want_grad = _torch_ce(logits, np.where(mask == 1, targets, -100), label_smoothing=0.2)
    np.testing.assert_allclose(B.to_host(loss), want_loss, rtol=1e-10)
    np.testing.assert_allclose(B.to_host(dlogits), want_grad, rtol=1e-10, atol=1e-13)
    assert (B.to_host(dlogits)[mask == 0] == 0.0).all()


def test_stats_give_the_unsmoothed_nll_sum_and_token_count(backend):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((2, 3, 4))
    targets = np.array([[1, 2, 3], [0, -100, -100]])
    _, cache = softmax_cross_entropy_forward(_dev(logits), _ids(targets), ignore_index=-100,
                                             label_smoothing=0.3)
    nll_sum, n = cross_entropy_stats(cache)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -sum(logp[b, t, targets[b, t]] for b, t in [(0, 0), (0, 1), (0, 2), (1, 0)])
    assert nll_sum.shape == n.shape == ()
    np.testing.assert_allclose(B.to_host(nll_sum), want, rtol=1e-12)
    assert B.to_float(n) == 4.0


def test_no_real_token_gives_zero_loss_and_zero_gradient(backend):
    logits = _dev(np.random.default_rng(3).standard_normal((2, 3, 5)))
    loss, cache = softmax_cross_entropy_forward(logits, _ids(np.zeros((2, 3))), mask=_dev(np.zeros((2, 3))),
                                                label_smoothing=0.1)
    dlogits = B.to_host(softmax_cross_entropy_backward(1.0, cache))
    assert B.to_float(loss) == 0.0
    assert np.isfinite(dlogits).all() and (dlogits == 0.0).all()


def test_padding_with_inf_logits_adds_nothing(backend):
    logits = np.zeros((2, 3))
    logits[1] = [np.inf, 0.0, -np.inf]
    with np.errstate(invalid="ignore"):  # inf - inf in the padded row, on purpose
        loss, cache = softmax_cross_entropy_forward(_dev(logits), _ids([1, 0]), mask=_dev([1.0, 0.0]))
        dlogits = B.to_host(softmax_cross_entropy_backward(1.0, cache))
    np.testing.assert_allclose(B.to_host(loss), np.log(3.0), rtol=1e-15)
    np.testing.assert_array_equal(dlogits[1], 0.0)


def test_huge_logits_are_stable_in_float32(backend):
    logits = _dev([[1000.0, 1000.0, -1000.0]], "float32")
    loss, cache = softmax_cross_entropy_forward(logits, _ids([0]))
    dlogits = B.to_host(softmax_cross_entropy_backward(1.0, cache))
    assert loss.dtype == dlogits.dtype == np.float32
    np.testing.assert_allclose(B.to_host(loss), np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(dlogits, [[-0.5, 0.5, 0.0]], atol=1e-7)


def test_out_of_vocabulary_target_raises_index_error(backend):
    logits = _dev(np.zeros((2, 3, 5)))
    with pytest.raises(IndexError, match="targets: token id 5"):
        softmax_cross_entropy_forward(logits, _ids([[0, 1, 5], [0, 0, 0]]))
    with pytest.raises(IndexError, match="token id -100"):  # -100 is real unless it is ignore_index
        softmax_cross_entropy_forward(logits, _ids([[0, 1, -100], [0, 0, 0]]))


@pytest.mark.parametrize("logits_shape, targets_shape, mask_shape, name", [
    ((2, 3, 5), (2, 4), None, "targets"),
    ((2, 3, 5), (2, 3), (3, 2), "mask"),
    ((6, 5), (2, 3), None, "targets"),
    ((5,), (5,), None, "logits"),
    ((1, 2, 3, 5), (1, 2, 3), None, "logits"),
])
def test_wrong_shapes_raise_naming_the_argument(logits_shape, targets_shape, mask_shape, name):
    mask = None if mask_shape is None else np.ones(mask_shape)
    with pytest.raises(ShapeError, match=f"^{name}:"):
        softmax_cross_entropy_forward(np.zeros(logits_shape), np.zeros(targets_shape, dtype=int), mask=mask)


def test_float_targets_are_refused():
    with pytest.raises(ShapeError, match="^targets: expected dtype"):
        softmax_cross_entropy_forward(np.zeros((2, 5)), np.zeros(2))


@pytest.mark.parametrize("eps", [-0.1, 1.0])
def test_label_smoothing_outside_0_1_raises(eps):
    with pytest.raises(ValueError, match="label_smoothing"):
        softmax_cross_entropy_forward(np.zeros((2, 5)), np.zeros(2, dtype=int), label_smoothing=eps)
