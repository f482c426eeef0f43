"""Lesson 12's exercises, the multi-head attention heads and layer norm backwards: the stubs are
not graded, the library's backwards pass, and each catalogued mistake (graded for every
exercise in test_grader_mistakes.py) is told apart from its neighbours here by what the grader
says without the catalogue."""

import pytest

from minis2s.exercises import check, solution, stub
from minis2s.exercises import mistakes as M
from minis2s.exercises.mistakes import for_exercise

LESSON12 = ("attention_heads", "layernorm")


@pytest.mark.parametrize("name", LESSON12)
def test_stub_is_not_graded_and_solution_passes(name):
    assert check(stub(name), verbose=False).error.startswith("not implemented yet: write eq. 12.")
    report = check(solution(name), verbose=False)
    assert report.passed and report.hints == []


def test_lesson12_mistakes_cover_the_brief():
    assert {m.name for m in for_exercise("attention_heads")} == {
        "heads_no_scale", "heads_mask_after_softmax", "heads_merged_wrong_order", "heads_softmax_without_sum"}
    assert {m.name for m in for_exercise("layernorm")} == {
        "layernorm_mean_over_batch", "layernorm_no_mean_term", "layernorm_no_variance_term",
        "layernorm_gain_not_summed_over_time"}


@pytest.fixture
def no_catalogue(monkeypatch):
    monkeypatch.setattr(M, "MISTAKES", [])


def test_missing_scale_is_named_as_a_factor_of_sqrt_d_without_the_catalogue(no_catalogue):
    report = check(M.heads_no_scale, exercise="attention_heads", verbose=False)
    text = " ".join(report.hints)
    passed = {r.name: r.passed for r in report.results}
    assert passed == {"dq": False, "dk": False, "dv": True}
    assert "off by a factor of 1.732 = sqrt(d), d = D / h the head size" in text, text


def test_gain_summed_over_the_batch_only_is_a_shape_error_the_catalogue_explains():
    report = check(M.layernorm_gain_not_summed_over_time, verbose=False)
    notes = {r.name: r.note for r in report.results}
    assert notes["dgamma"] == "shape (4, 5), expected (5,)" and notes["dx"] == ""
    assert "batch and time" in " ".join(report.hints)
