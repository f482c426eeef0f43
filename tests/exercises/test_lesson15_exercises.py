"""Lesson 15's output exercises, distinct-n and ROUGE-L: their cases are built to catch the
mistakes they catalogue, and the ROUGE-L reference agrees with the rouge-score package. (The
grading itself -- stub not graded, reference passes, each mistake named -- is tested for every
output exercise in test_output_exercises.py.)"""

import pytest

from minis2s import backend as B
from minis2s.exercises import output_mistakes as OM
from minis2s.exercises import references as R
from minis2s.exercises.outputs import DISTINCT_N, ROUGE_L


@pytest.mark.parametrize("seed", [0, 1])
def test_distinct_cases_hold_a_repeated_reply_an_empty_one_and_a_set_without_bigrams(seed):
    cases = DISTINCT_N.cases(B.rng(seed))
    assert all("" in c["replies"] for c in cases)
    assert all(sum(r.startswith("i don't know") for r in c["replies"]) == 2 for c in cases[:-1])  # generic, twice
    outs = [DISTINCT_N.run(R.distinct_n, c) for c in cases]
    assert outs[-1]["distinct-2"] == 0.0 and all(0 < o["distinct-2"] < 1 for o in outs[:-1])


@pytest.mark.parametrize("seed", [0, 1])
def test_each_distinct_mistake_is_wrong_on_a_case_with_bigrams(seed):
    cases = DISTINCT_N.cases(B.rng(seed))[:-1]
    right = [DISTINCT_N.run(R.distinct_n, c) for c in cases]
    for m in OM.for_exercise("distinct_n"):
        if m.name != "distinct_zero_division":  # that one is wrong only where there is no bigram
            assert any(DISTINCT_N.run(m.fn, c) != r for c, r in zip(cases, right)), m.name


def test_distinct_n_by_hand():
    replies = ["i don't know", "i don't know", "", "the dog"]
    assert R.distinct_n(replies, 1) == pytest.approx(5 / 8)  # i don't know the dog / 8 tokens
    assert R.distinct_n(replies, 2) == pytest.approx(3 / 5)  # (i don't) (don't know) (the dog) / 5
    assert R.distinct_n(["yes", "no", ""], 2) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rouge_cases_need_a_subsequence_longer_than_any_common_run(seed):
    pairs = [p for c in ROUGE_L.cases(B.rng(seed)) for p in c["pairs"]]
    longer = [OM._lcs(r.split(), h.split()) > OM._lcs(r.split(), h.split(), contiguous=True) for h, r in pairs]
    assert any(longer)
    assert any(len(h.split()) != len(r.split()) for h, r in pairs) and any(not h for h, _ in pairs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rouge_reference_agrees_with_rouge_score(seed):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    pairs = [p for c in ROUGE_L.cases(B.rng(seed)) for p in c["pairs"]]
    assert all(w.isalnum() and w.islower() for h, r in pairs for w in (h + " " + r).split())  # tokenized alike
    for h, r in pairs:
        theirs = scorer.score(r, h)["rougeL"]  # score(target, prediction)
        assert R.rouge_l(h, r) == pytest.approx((theirs.precision, theirs.recall, theirs.fmeasure), abs=1e-12)
