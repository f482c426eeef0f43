"""The exercise forwards compute the library's functions, and the solutions pass on every backend."""

import inspect

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.exercises import forwards, list_exercises
from minis2s.exercises.specs import EXERCISES
from minis2s.gradcheck import TOLERANCE, gradcheck

NAMES = list_exercises()


def _device(d):
    return {k: B.to_device(v, "float64" if v.dtype.kind == "f" else None) for k, v in d.items()}


def _flat(out):
    return list(out) if isinstance(out, tuple) else [out]


def _assert_same_outputs(ex, inputs, static):
    ours, _ = ex.forward(**inputs, **static)
    theirs, _ = ex.library_forward(**inputs, **static)
    ours, theirs = _flat(ours), _flat(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(B.to_host(a), B.to_host(b), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_exercise_forward_equals_library_forward(name, backend):
    ex = EXERCISES[name]
    for seed in range(3):
        inputs, static = ex.make(B.rng(seed))
        _assert_same_outputs(ex, _device(inputs), _device(static))


def test_exercise_forwards_equal_library_on_fully_padded_rows(backend):
    ce = EXERCISES["softmax_cross_entropy"]
    inputs, static = ce.make(B.rng(0))
    static["mask"][1:] = 0  # all but one row is padding
    _assert_same_outputs(ce, _device(inputs), _device(static))
    static["mask"][:] = 0  # no real token at all: loss 0
    _assert_same_outputs(ce, _device(inputs), _device(static))
    _assert_same_outputs(ce, _device(inputs), {"targets": B.to_device(static["targets"])})  # no mask

    att = EXERCISES["additive_attention"]
    inputs, static = att.make(B.rng(0))
    static["mask"][0] = 0  # a row without any real source position: zero weights, zero context
    _assert_same_outputs(att, _device(inputs), _device(static))


def test_exercise_forward_equals_library_at_large_logits(backend):
    ce = EXERCISES["softmax_cross_entropy"]
    inputs, static = ce.stress(B.rng(0))
    assert np.abs(inputs["logits"]).max() > 900
    _assert_same_outputs(ce, _device(inputs), _device(static))
    loss, _ = ce.forward(**_device(inputs), **_device(static))
    assert np.isfinite(B.to_host(loss))


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes_gradcheck_on_every_backend(name, backend):
    ex = EXERCISES[name]
    inputs, static = ex.make(B.rng(1))
    results = gradcheck(ex.forward, ex.solution, _device(inputs), ex.wrt, static=_device(static),
                        op=name, max_coords=None, seed=1)
    assert [r.wrt for r in results] == list(ex.wrt)
    for r in results:
        assert r.rel_error <= TOLERANCE, f"{name} wrt {r.wrt}: {r.rel_error:.2e}"


@pytest.mark.parametrize("name", NAMES)
def test_exercise_cache_fields_are_documented_in_the_stub(name):
    ex = EXERCISES[name]
    inputs, static = ex.make(B.rng(0))
    _, cache = ex.forward(**inputs, **static)
    assert hasattr(cache, "_fields"), "the cache must be a NamedTuple with named fields"
    doc = inspect.getdoc(ex.stub)
    for f in cache._fields:
        assert f".{f}" in doc, f"{ex.backward_name}: cache field {f!r} is not documented in the stub"


@pytest.mark.parametrize("name", NAMES)
def test_stub_has_the_library_backward_signature(name):
    ex = EXERCISES[name]
    module = inspect.getmodule(ex.library_forward)
    library_backward = getattr(module, ex.backward_name)
    assert inspect.signature(ex.stub) == inspect.signature(library_backward)
    assert inspect.signature(ex.solution) == inspect.signature(library_backward)


def test_sigmoid_identity_matches_the_textbook_formula():
    a = np.linspace(-700, 700, 1401)
    np.testing.assert_allclose(forwards.sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-14, atol=0)
    assert forwards.sigmoid(np.array([-1e4]))[0] == 0.0  # no overflow warning, no nan
