"""Attention kinds and masked softmax: torch parity, exact zeros at padding, bad input."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.functional import attention as F
from minis2s.shapes import ShapeError

Bn, S, Hq, Hk, Hv, A = 3, 5, 4, 3, 2, 6
LENGTHS = [5, 2, 1]


def _dev(a, dtype="float64"):
    return B.to_device(np.asarray(a), dtype)


def _mask(lengths, S):
    return (np.arange(S)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


def _inputs(kind, seed=0):
    """Host float64 arguments of one attention kind, in forward order, and the upstream grads."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((Bn, Hq))
    values = rng.standard_normal((Bn, S, Hv))
    mask = _mask(LENGTHS, S)
    if kind == "additive":
        args = [q, rng.standard_normal((Bn, S, A)), values, mask, rng.standard_normal((A, Hq)),
                rng.standard_normal(A)]
    elif kind == "general":
        args = [q, rng.standard_normal((Bn, S, Hk)), values, mask, rng.standard_normal((Hq, Hk))]
    else:
        args = [q, rng.standard_normal((Bn, S, Hq)), values, mask]
    return args, rng.standard_normal((Bn, Hv)), rng.standard_normal((Bn, S))


def _ours(kind, args, dcontext, dweights):
    dev = [_dev(a) for a in args]
    if kind == "additive":
        out, cache = F.additive_attention_forward(*dev)
        grads = F.additive_attention_backward((_dev(dcontext), _dev(dweights)), cache)
    elif kind == "general":
        out, cache = F.general_attention_forward(*dev)
        grads = F.general_attention_backward((_dev(dcontext), _dev(dweights)), cache)
    else:
        out, cache = F.dot_attention_forward(*dev, scaled=kind == "scaled_dot")
        grads = F.dot_attention_backward((_dev(dcontext), _dev(dweights)), cache)
    return [B.to_host(o) for o in out], [B.to_host(g) for g in grads]


def _torch(kind, args, dcontext, dweights):
    torch = pytest.importorskip("torch")
    t = [torch.tensor(a, dtype=torch.float64, requires_grad=i != 3) for i, a in enumerate(args)]
    q, keys, values, mask = t[:4]
    if kind == "additive":
        Wq, v = t[4:]
        scores = torch.tanh(keys + (q @ Wq.T)[:, None, :]) @ v
    elif kind == "general":
        scores = (keys @ (q @ t[4])[:, :, None])[..., 0]
    else:
        scores = (keys @ q[:, :, None])[..., 0]
        if kind == "scaled_dot":
            scores = scores / Hq**0.5
    weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
    context = (weights[:, None, :] @ values)[:, 0]
    ((context * torch.tensor(dcontext)).sum() + (weights * torch.tensor(dweights)).sum()).backward()
    grads = [a.grad.numpy() for i, a in enumerate(t) if i != 3]
    return [context.detach().numpy(), weights.detach().numpy()], grads


KINDS = ["additive", "dot", "scaled_dot", "general"]


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_and_every_gradient_match_torch(backend, kind):
    args, dcontext, dweights = _inputs(kind)
    outs, grads = _ours(kind, args, dcontext, dweights)
    want_outs, want_grads = _torch(kind, args, dcontext, dweights)
    for got, want in zip(outs, want_outs):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert len(grads) == len(want_grads)
    for i, (got, want) in enumerate(zip(grads, want_grads)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13, err_msg=f"gradient {i}")


@pytest.mark.parametrize("kind", KINDS)
def test_padded_positions_get_exactly_zero_weight_and_gradient(backend, kind):
    args, dcontext, dweights = _inputs(kind, seed=1)
    args[1][_mask(LENGTHS, S) == 0] = 1e6  # huge padded keys must not leak into anything
    (context, weights), grads = _ours(kind, args, dcontext, dweights)
    padded = _mask(LENGTHS, S) == 0
    assert (weights[padded] == 0.0).all()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-14)
    assert (grads[1][padded] == 0.0).all() and (grads[2][padded] == 0.0).all()  # keys, values
    assert all(np.isfinite(g).all() for g in grads)


def test_weights_gradient_upstream_may_be_none(backend):
    args, dcontext, _ = _inputs("dot")
    out, cache = F.dot_attention_forward(*[_dev(a) for a in args])
    with_none = F.dot_attention_backward((_dev(dcontext), None), cache)
    with_zeros = F.dot_attention_backward((_dev(dcontext), _dev(np.zeros((Bn, S)))), cache)
    for a, b in zip(with_none, with_zeros):
        np.testing.assert_array_equal(B.to_host(a), B.to_host(b))


def test_masked_softmax_row_without_real_position_is_all_zero_not_nan(backend):
    scores = _dev([[1.0, 2.0, 3.0], [1000.0, -1000.0, 5.0]])
    mask = _dev([[1, 1, 0], [0, 0, 0]], "float32")
    w, cache = F.masked_softmax_forward(scores, mask)
    dscores = B.to_host(F.masked_softmax_backward(_dev(np.ones((2, 3))), cache))
    w = B.to_host(w)
    e = np.exp([1.0, 2.0])
    np.testing.assert_allclose(w[0, :2], e / e.sum(), rtol=1e-15)
    assert w[0, 2] == 0.0 and (w[1] == 0.0).all()
    assert (dscores[1] == 0.0).all() and dscores[0, 2] == 0.0


def test_masked_softmax_of_huge_equal_scores_is_one_half(backend):
    w, _ = F.masked_softmax_forward(_dev([[1000.0, 1000.0, 1e30]], "float32"), _dev([[True, True, False]], None))
    np.testing.assert_array_equal(B.to_host(w), [[0.5, 0.5, 0.0]])


def test_all_padded_row_gives_zero_context_for_every_kind(backend):
    for kind in KINDS:
        args, dcontext, dweights = _inputs(kind)
        args[3] = _mask([5, 0, 2], S)
        (context, weights), grads = _ours(kind, args, dcontext, dweights)
        assert (context[1] == 0.0).all() and (weights[1] == 0.0).all(), kind
        assert all(np.isfinite(g).all() for g in grads), kind


def test_float32_stays_float32(backend):
    args, dcontext, dweights = _inputs("additive")
    out, cache = F.additive_attention_forward(*[_dev(a, "float32") for a in args])
    grads = F.additive_attention_backward((_dev(dcontext, "float32"), None), cache)
    assert all(a.dtype == np.float32 for a in (*out, *grads))


def _drop_last(axis):
    return lambda a: np.delete(a, -1, axis=axis)


@pytest.mark.parametrize("kind, index, name, corrupt", [
    ("dot", 0, "q", lambda a: a[0]),
    ("dot", 1, "keys", _drop_last(0)),
    ("dot", 1, "keys", _drop_last(2)),
    ("dot", 2, "values", _drop_last(1)),
    ("dot", 3, "mask", _drop_last(1)),
    ("additive", 1, "keys_proj", lambda a: a[0]),
    ("additive", 4, "Wq", _drop_last(0)),
    ("additive", 4, "Wq", _drop_last(1)),
    ("additive", 5, "v", _drop_last(0)),
    ("general", 4, "W", _drop_last(1)),
], ids=lambda x: x if isinstance(x, str) else "")
def test_wrong_shapes_raise_naming_the_argument(kind, index, name, corrupt):
    args, _, _ = _inputs(kind)
    args[index] = corrupt(args[index])
    forward = {"dot": F.dot_attention_forward, "additive": F.additive_attention_forward,
               "general": F.general_attention_forward}[kind]
    with pytest.raises(ShapeError, match=f"^{name}:"):
        forward(*args)


def test_masked_softmax_checks_its_arguments():
    with pytest.raises(ShapeError, match="^mask:"):
        F.masked_softmax_forward(np.zeros((2, 3)), np.ones((2, 4)))
    with pytest.raises(ShapeError, match="^scores:"):
        F.masked_softmax_forward(np.zeros((2, 3, 1)), np.ones((2, 3)))


def test_mixed_float_dtypes_are_refused():
    args, _, _ = _inputs("general")
    args[4] = args[4].astype("float32")
    with pytest.raises(ShapeError, match="share one dtype"):
        F.general_attention_forward(*args)
