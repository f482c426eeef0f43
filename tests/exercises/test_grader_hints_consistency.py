"""Hints that agree with the grader's own verdicts (issue 13): a shared term is blamed only when
it is not known to be right; exactly-zero time slices and gate blocks are named first; and the
generated sentences agree in number ("dbx and dbh are", never "is")."""

import re

import numpy as np
import pytest

from minis2s.exercises import check, mistakes, solution
from minis2s.exercises.mistakes import MISTAKES


def _hints(report):
    return " ".join(report.hints)


def _scaled(name, factors):
    """The reference backward of ``name`` with gradient k multiplied by factors[k]."""
    def backward(dout, cache):
        return tuple(g * c for g, c in zip(solution(name)(dout, cache), factors))
    return backward


def lstm_biases_halved(dout, cache):
    return _scaled("lstm_step", [1, 1, 1, 1, 1, 0.5, 0.5])(dout, cache)


def attention_query_mean_over_s(dout, cache):
    S = cache.values.shape[1]
    return _scaled("additive_attention", [1 / S, 1, 1, 1 / S, 1])(dout, cache)


def test_factor_hint_does_not_blame_a_preactivation_the_grader_found_right():
    report = check(lstm_biases_halved, exercise="lstm_step", verbose=False)
    passed = {r.name: r.passed for r in report.results}
    assert passed["dx"] and passed["dh_prev"] and not passed["dbx"] and not passed["dbh"]
    text = _hints(report)
    assert "dbx and dbh are off by a factor of 0.5" in text
    assert "share a term" not in text
    assert "dx and dh_prev are right, so your da = [da_i, da_f, da_g, da_o] (eq. 4.7-4.9) is right" in text
    assert "the bias gradients are sums of da over the batch rows" in text
    assert "dbx and dbh: each is the sum of da over the batch rows (eq. 4.10)" in text


def test_attention_mean_over_s_points_at_the_sum_not_at_dkeys_proj():
    report = check(attention_query_mean_over_s, exercise="additive_attention", verbose=False)
    passed = {r.name: r.passed for r in report.results}
    assert passed["dkeys_proj"] and not passed["dq"] and not passed["dWq"]
    text = _hints(report)
    assert "dq and dWq are off by a factor of 0.25 = 1 / (S, the source length)" in text
    assert "share a term" not in text
    assert "dkeys_proj is right" in text
    assert "summed (not averaged) over the S positions" in text


def test_factor_hint_names_the_shared_term_when_its_witnesses_fail_too():
    report = check(_scaled("rnn_step", [2] * 6), exercise="rnn_step", verbose=False)
    text = _hints(report)
    assert "are off by a factor of 2" in text
    assert "where these gradients share a term, da = dh * (1 - h^2) (eq. 3.4)" in text


def test_catalogued_off_by_one_bptt_loop():
    m = next(m for m in MISTAKES if m.name == "bptt_skips_first_step")
    report = check(m.backward, exercise="rnn_sequence", verbose=False)
    assert report.mistakes == ["bptt_skips_first_step"]
    assert report.hints[0].startswith("dx[:, 0] is zero: your loop does not reach t = 0")
    assert len(report.hints) == 1


def test_catalogued_zero_gate_block():
    m = next(m for m in MISTAKES if m.name == "lstm_g_block_left_zero")
    report = check(m.backward, exercise="lstm_step", verbose=False)
    assert report.mistakes == ["lstm_g_block_left_zero"]
    assert report.hints[0].startswith("the g block of da is zero")


@pytest.fixture
def no_catalogue(monkeypatch):
    """Grade without the catalogue: what the generic hints say about a mistake it lacks."""
    monkeypatch.setattr(mistakes, "for_exercise", lambda name: [])


def test_zero_time_slice_is_named_first_without_the_catalogue(no_catalogue):
    report = check(lambda dout, cache: mistakes._bptt(dout, cache, first=1), exercise="rnn_sequence",
                   verbose=False)
    assert report.mistakes == []
    assert report.hints[0].startswith("dx[:, 0] is zero: your loop does not reach t = 0")
    assert "dh0, dWx, dWh, dbx and dbh then miss that step too" in report.hints[0]
    assert len(report.hints) == 1  # not six generic lines


def test_zero_gate_block_is_named_without_the_catalogue(no_catalogue):
    report = check(lambda dout, cache: mistakes._lstm(dout, cache, g_zero=True), exercise="lstm_step",
                   verbose=False)
    text = _hints(report)
    assert report.hints[0].startswith("the g block of da is zero: the candidate (g) block "
                                      "(rows 2H:3H = 10:15) of dWx, dWh, dbx and dbh is exactly 0")
    assert "dx and dh_prev are made from da" in text
    assert "input-gate" not in text and "output-gate" not in text


def test_zero_gru_block_names_the_preactivation_it_belongs_to(no_catalogue):
    def gru_step_backward(dh, cache):  # the n block of dax left at zeros (dx is then wrong too)
        dx, dh_prev, dWx, dWh, dbx, dbh = solution("gru_step")(dh, cache)
        H = dh.shape[1]
        dWx, dbx = dWx.copy(), dbx.copy()
        dWx[2 * H:], dbx[2 * H:] = 0.0, 0.0
        return dx, dh_prev, dWx, dWh, dbx, dbh

    text = _hints(check(gru_step_backward, verbose=False))
    assert "the n block of dax is zero" in text and "of dWx and dbx is exactly 0" in text


# "X and Y is", not "the block of X and Y misses" (whose subject is the block)
_DISAGREE = re.compile(r"(?<!of )\b(d\w+|i|f|g|o|r|z|n) and (d\w+|i|f|g|o|r|z|n) "
                       r"(is|has|holds|contains|ignores|misses)\b")


def _reports():
    for m in MISTAKES:
        yield m.name, check(m.backward, exercise=m.exercise, verbose=False)
    yield "lstm_biases_halved", check(lstm_biases_halved, exercise="lstm_step", verbose=False)
    yield "attention_query_mean_over_s", check(attention_query_mean_over_s,
                                               exercise="additive_attention", verbose=False)

    def affine_backward(dy, cache):  # dW and db overwritten by the last row
        return dy @ cache.W, np.outer(dy[-1], cache.x[-1]), dy[-1] * 1.0
    yield "affine_rows", check(affine_backward, verbose=False)
    yield "affine_signs", check(_scaled("affine", [1, -1, -1]), exercise="affine", verbose=False)


def test_generated_hints_agree_in_number():
    bad = [(name, m.group(0)) for name, report in _reports() for h in report.hints
           for m in _DISAGREE.finditer(h)]
    assert bad == []
