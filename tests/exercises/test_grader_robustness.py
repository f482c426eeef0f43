"""The grader never raises on a broken learner function, and keeps its own state clean."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.exercises import Report, check, forward, list_exercises, solution, stub
from minis2s.exercises import grader as grader_module
from minis2s.exercises.specs import EXERCISES

NAMES = [n for n in list_exercises() if EXERCISES[n].kind == "gradient"]  # outputs: test_output_exercises.py


def _raises(dout, cache):
    return cache.no_such_field


def _divides_by_zero(dout, cache):
    return 1 / 0


def _wrong_signature(dout):
    return dout


def _n_of(value):
    """A function returning ``value`` in place of each of the exercise's n gradients."""
    return lambda n: (lambda dout, cache: (value,) * n if n > 1 else value)


BROKEN = {  # kind -> (number of gradients -> a broken backward)
    "raises AttributeError": lambda n: _raises,
    "raises ZeroDivisionError": lambda n: _divides_by_zero,
    "wrong signature": lambda n: _wrong_signature,
    "returns None": lambda n: (lambda dout, cache: None),
    "returns a number": lambda n: (lambda dout, cache: 3.0),
    "returns a dict": lambda n: (lambda dout, cache: {"dx": 0}),
    "returns too many": lambda n: (lambda dout, cache: (np.zeros(1),) * (n + 1)),
    "returns a generator": lambda n: (lambda dout, cache: (x for x in range(n))),
    "returns strings": _n_of("grad"),
    "returns Nones": _n_of(None),
    "returns 0-d arrays": _n_of(np.float64(1.0)),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", list(BROKEN))
def test_grader_never_raises_on_a_broken_function(name, kind, capsys):
    report = check(BROKEN[kind](len(EXERCISES[name].grads)), exercise=name)
    out = capsys.readouterr().out
    assert isinstance(report, Report) and not report.passed
    assert report.error or report.hints
    assert "Traceback" not in out
    if kind.startswith("raises"):
        assert kind.split()[1] in report.error and f"exercise {name!r}" in report.error


@pytest.mark.parametrize("name", NAMES)
def test_grader_handles_nan_and_wrong_shapes(name):
    right = solution(name)

    def nan_everywhere(dout, cache):
        grads = right(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        out = tuple(np.full(g.shape, np.nan) for g in grads)
        return out if len(out) > 1 else out[0]

    def all_flattened(dout, cache):
        grads = right(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        out = tuple(g.reshape(-1)[:-1] for g in grads)
        return out if len(out) > 1 else out[0]

    report = check(nan_everywhere, exercise=name, verbose=False)
    assert not report.passed and "nan or inf" in " ".join(report.hints)
    report = check(all_flattened, exercise=name, verbose=False)
    assert not report.passed and all(not r.passed for r in report.results)
    assert all("expected" in r.note for r in report.results if r.rel_error is None)


def test_grader_reports_the_learners_line_for_an_exception():
    def lstm_step_backward(dout, cache):
        dh, dc = dout
        return dh @ cache.Wx.T  # shapes do not fit

    report = check(lstm_step_backward, verbose=False)
    assert "raised ValueError" in report.error
    assert "return dh @ cache.Wx.T" in report.error


def test_grader_names_a_wrong_number_of_returns():
    def gru_step_backward(dh, cache):
        return solution("gru_step")(dh, cache)[:5]

    report = check(gru_step_backward, verbose=False)
    assert "returned 5 values, expected 6: dx, dh_prev, dWx, dWh, dbx and dbh" in report.error


def test_grader_in_place_edits_of_dout_and_cache_do_not_leak():
    def lstm_step_backward(dout, cache):
        grads = solution("lstm_step")(dout, cache)
        dout[0][...] = 0  # a learner scribbling on its arguments after the fact
        cache.x[...] = 7
        cache.i[...] = 0
        return grads

    assert check(lstm_step_backward, verbose=False).passed


def test_grader_accepts_nested_lists_as_arrays():
    def affine_backward(dy, cache):
        return [g.tolist() for g in solution("affine")(dy, cache)]

    assert check(affine_backward, verbose=False).passed


def test_grader_infers_the_exercise_from_the_function_name():
    def my_gru_step_backward(dh, cache):
        return solution("gru_step")(dh, cache)

    report = check(my_gru_step_backward, verbose=False)
    assert report.exercise == "gru_step" and report.passed

    def backward(dh, cache):
        return None

    report = check(backward, verbose=False)
    assert report.exercise == "?" and "cannot tell which exercise" in report.error


def test_grader_rejects_an_unknown_exercise_name():
    with pytest.raises(ValueError, match="unknown exercise 'lstm'.*lstm_step"):
        check(solution("lstm_step"), exercise="lstm")


def test_grader_survives_its_own_failure(monkeypatch):
    def boom(self):
        raise RuntimeError("internal")

    monkeypatch.setattr(grader_module._Grading, "run", boom)
    report = check(solution("affine"), verbose=False)
    assert not report.passed and "the grader itself failed (RuntimeError: internal)" in report.error


def test_report_prints_a_table_and_a_one_line_repr():
    report = check(solution("rnn_step"), verbose=False)
    text = str(report)
    assert text.splitlines()[0].startswith("rnn_step_backward (exercise 'rnn_step', lesson 03")
    assert all(f"  {g} " in text for g in EXERCISES["rnn_step"].grads)
    assert text.splitlines()[-1].startswith("PASSED: all 6 checks within 1e-07")
    assert repr(report).startswith("<Report rnn_step_backward (rnn_step): PASSED")
    assert report._repr_html_().startswith("<pre>")


def test_accessors_for_notebooks():
    gradients = [n for n in list_exercises() if EXERCISES[n].kind == "gradient"]
    assert gradients == ["affine", "embedding", "softmax_cross_entropy", "label_smoothed_cross_entropy",
                         "rnn_step", "rnn_sequence", "lstm_step", "lstm_sequence", "gru_step",
                         "gru_sequence", "additive_attention", "bridge_state", "attention_heads",
                         "layernorm", "sentence_embedding"]
    assert stub("lstm_step").__name__ == "lstm_step_backward"
    assert stub("lstm_step_backward") is stub("lstm_step")
    assert solution("gru_step").__module__ == "minis2s.functional.gru"
    assert forward("affine").__module__ == "minis2s.functional.linear"


def test_grader_runs_on_host_numpy_whatever_the_selected_backend():
    with B.use("strict"), B.precision("float32"):
        report = check(solution("lstm_step"), verbose=False)
    assert report.passed and max(r.rel_error for r in report.results) <= 1e-7
