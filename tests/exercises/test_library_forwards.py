"""The grader runs the library's own forwards: their named caches are what the stubs document,
and the reference solutions are the library's backwards, which pass on every backend."""

import inspect

import pytest

from minis2s import backend as B
from minis2s.exercises import list_exercises
from minis2s.exercises.specs import EXERCISES
from minis2s.gradcheck import TOLERANCE, gradcheck

NAMES = [n for n in list_exercises() if EXERCISES[n].kind == "gradient"]  # outputs: test_output_exercises.py


def _device(d):
    """Arrays to the device; plain numbers (a padding id, a smoothing eps) stay as they are."""
    return {k: B.to_device(v, "float64" if v.dtype.kind == "f" else None) if hasattr(v, "dtype") else v
            for k, v in d.items()}


def _library_backward(ex):
    """The backward of the exercise's forward: the stub's own name, or the one it is graded
    against (label_smoothed_cross_entropy_backward is softmax_cross_entropy_backward with eps > 0)."""
    return getattr(inspect.getmodule(ex.forward), ex.solution_name or ex.backward_name)


@pytest.mark.parametrize("name", NAMES)
def test_exercise_forward_is_the_library_forward(name):
    ex = EXERCISES[name]
    assert ex.forward.__module__.startswith("minis2s.functional.")
    backward = ex.solution_name or ex.backward_name
    assert ex.forward.__name__ == backward.removesuffix("_backward") + "_forward"


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
def test_reference_solution_is_the_library_backward(name):
    """One implementation of each backward: the grader's truth is the function the models run."""
    assert EXERCISES[name].solution is _library_backward(EXERCISES[name])


@pytest.mark.parametrize("name", NAMES)
def test_exercise_cache_fields_are_documented_in_the_stub(name):
    ex = EXERCISES[name]
    inputs, static = ex.make(B.rng(0))
    _, cache = ex.forward(**inputs, **static)
    assert hasattr(cache, "_fields"), "the cache must be a NamedTuple with named fields"
    doc = inspect.getdoc(ex.stub)
    assert type(cache).__name__ in doc, f"{ex.backward_name}: the stub does not name {type(cache).__name__}"
    for f in cache._fields:
        assert f".{f}" in doc, f"{ex.backward_name}: cache field {f!r} is not documented in the stub"


@pytest.mark.parametrize("name", NAMES)
def test_stub_has_the_library_backward_signature(name):
    ex = EXERCISES[name]
    library_backward = _library_backward(ex)
    assert inspect.signature(ex.stub) == inspect.signature(library_backward)
    assert inspect.signature(ex.solution) == inspect.signature(library_backward)
