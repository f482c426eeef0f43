"""The grader passes every reference solution, stops politely on every stub, and names every
catalogued mistake with its own hint."""

import pytest

from minis2s.exercises import check, list_exercises, solution, stub, stubs
from minis2s.exercises.mistakes import MISTAKES, for_exercise
from minis2s.exercises.specs import EXERCISES
from minis2s.gradcheck import TOLERANCE

NAMES = [n for n in list_exercises() if EXERCISES[n].kind == "gradient"]  # outputs: test_output_exercises.py


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_grader_passes_every_reference_solution(name, seed):
    report = check(solution(name), exercise=name, seed=seed, verbose=False)
    assert report.passed, str(report)
    assert report.hints == [] and report.mistakes == []
    assert len(report.results) >= len(EXERCISES[name].grads)
    assert max(r.rel_error for r in report.results) <= TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_grader_stub_says_not_implemented_with_the_equation(name, capsys):
    report = check(stub(name), verbose=True)  # the exercise is read from the stub's name
    out = capsys.readouterr().out
    assert not report.passed
    assert report.exercise == name
    assert report.error.startswith("not implemented yet: write eq. ")
    assert EXERCISES[name].first_step in report.error
    assert "Traceback" not in out and "not implemented yet" in out


@pytest.mark.parametrize("name", NAMES)
def test_grader_stub_message_is_the_first_step(name):
    with pytest.raises(NotImplementedError) as info:
        getattr(stubs, EXERCISES[name].backward_name)(None, None)
    assert str(info.value) == EXERCISES[name].first_step


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("m", MISTAKES, ids=lambda m: m.name)
def test_grader_names_each_catalogued_mistake(m, seed):
    report = check(m.backward, exercise=m.exercise, seed=seed, verbose=False)
    assert not report.passed
    assert report.mistakes == [m.name], str(report)
    text = " ".join(report.hints).lower()
    for word in m.keywords:
        assert word in text, f"{m.name}: {word!r} missing from the hints:\n{report}"


def test_grader_overflow_mistake_passes_ordinary_logits_and_fails_large_ones():
    m = next(m for m in MISTAKES if m.name == "ce_no_max_shift")
    report = check(m.backward, exercise="softmax_cross_entropy", verbose=False)
    ordinary, large = report.results
    assert ordinary.passed and not large.passed
    assert "overflow: subtract the row max before exp" in report.hints[0]


@pytest.mark.parametrize("name", NAMES)
def test_grader_exercise_has_catalogued_mistakes(name):
    assert len(for_exercise(name)) >= 3
    assert len({m.hint for m in for_exercise(name)}) == len(for_exercise(name))
