"""The exercises checked by their output: the grader passes the library's function, stops politely
on every stub, names every catalogued mistake, and says where any other wrong answer differs."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.exercises import Report, check, list_exercises, solution, stub, stubs
from minis2s.exercises import output_mistakes as OM
from minis2s.exercises import references as R
from minis2s.exercises.outputs import OUTPUT_EXERCISES
from minis2s.exercises.specs import EXERCISES

NAMES = list(OUTPUT_EXERCISES)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", NAMES)
def test_the_library_passes(name, seed):
    report = check(solution(name), seed=seed, verbose=False)
    assert report.passed, str(report)
    assert report.hints == [] and report.mistakes == []
    assert len(report.results) >= len(OUTPUT_EXERCISES[name].fields)
    assert str(report).splitlines()[-1].startswith(f"PASSED: all {len(report.results)} checks equal")


@pytest.mark.parametrize("name", NAMES)
def test_the_stub_is_not_graded_and_says_its_first_step(name, capsys):
    report = check(stub(name))  # the exercise is read from the stub's name
    out = capsys.readouterr().out
    assert not report.passed and report.exercise == name
    assert report.error == f"not implemented yet: {OUTPUT_EXERCISES[name].first_step}"
    assert "NOT GRADED" in out and "Traceback" not in out


@pytest.mark.parametrize("name", NAMES)
def test_every_exercise_has_two_to_four_catalogued_mistakes(name):
    assert 2 <= len(OM.for_exercise(name)) <= 4


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("m", OM.MISTAKES, ids=lambda m: m.name)
def test_each_catalogued_mistake_fails_with_its_hint(m, seed):
    report = check(m.fn, exercise=m.exercise, seed=seed, verbose=False)
    assert not report.passed, m.name
    assert report.mistakes == [m.name], str(report)
    text = " ".join(report.hints).lower()
    assert all(k in text for k in m.keywords), (m.keywords, text)


def test_mistake_names_and_hints_are_distinct():
    assert len({m.name for m in OM.MISTAKES}) == len(OM.MISTAKES)
    assert len({m.hint for m in OM.MISTAKES}) == len(OM.MISTAKES)


# --------------------------------------------------------------------------- other wrong answers


def _with(fn, change):
    """fn with ``change`` applied to what it returns, keeping fn's name (the exercise is read from it)."""
    def wrong(*args, **kwargs):
        return change(fn(*args, **kwargs))
    wrong.__name__ = fn.__name__
    return wrong


def _bump(a, index, by):
    a = np.array(a, copy=True)
    a[index] = a[index] + by
    return a


def _distinct_1_off(replies, n):  # distinct-1 a little off, distinct-2 right
    return R.distinct_n(replies, n) * (0.99 if n == 1 else 1.0)


_distinct_1_off.__name__ = "distinct_n"  # the exercise is read from the name

WRONG = {  # a wrong answer no mistake explains -> the field the report must name
    "stable_softmax": (_with(R.stable_softmax, lambda p: p ** 1.01), "softmax"),
    "numerical_gradient": (_with(R.numerical_gradient, lambda g: g[:-1] + [g[-1] + 0.5]), "gradients"),
    "greedy_decode": (_with(R.greedy_decode, lambda ids: _bump(ids, (1, 0), 1)), "ids"),
    "adam_step": (_with(R.adam_step, lambda out: (_bump(out[0], (0,) * out[0].ndim, 0.01), *out[1:])), "p"),
    "decoder_step_forward": (_with(R.decoder_step_forward, lambda out: (_bump(out[0], (0, 1), 0.1), *out[1:])),
                             "z"),
    "beam_search_step": (_with(R.beam_search_step, lambda out: (out[0], out[1], out[2] - 0.1, out[3])), "scores"),
    "corpus_bleu": (_with(R.corpus_bleu, lambda out: (out[0], [p + 1.0 for p in out[1]], out[2])), "precisions"),
    "token_accuracy": (_with(R.token_accuracy, lambda acc: acc + 0.01), "accuracy"),
    "bpe_merge_step": (_with(R.bpe_merge_step, lambda out: (out[0], out[1] + 1, out[2])), "count"),
    "top_p_filter": (_with(R.top_p_filter, lambda p: p ** 1.01), "probs"),
    "masked_perplexity": (_with(R.masked_perplexity, lambda ppl: ppl * 1.01), "perplexity"),
    "distinct_n": (_distinct_1_off, "distinct-1"),
    "rouge_l": (_with(R.rouge_l, lambda out: (out[0], out[1], out[2] + 0.01 if out[2] else 0.0)), "F1"),
}


def test_every_exercise_has_a_wrong_answer_here():
    assert set(WRONG) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_another_wrong_answer_gets_where_it_first_differs(name):
    fn, field = WRONG[name]
    report = check(fn, exercise=name, verbose=False)
    assert not report.passed and report.error is None and report.mistakes == []
    assert [r.name for r in report.results if not r.passed] == [field], str(report)
    assert any(h.startswith(f"{field} first differs in case ") and "yours" in h and "the library's" in h
               for h in report.hints), str(report)
    assert report.hints[-1].endswith(OUTPUT_EXERCISES[name].library)


def test_a_constant_factor_is_named():
    report = check(_with(R.numerical_gradient, lambda g: [3.0 * x for x in g]), verbose=False)
    assert any("3 x the library's everywhere" in h for h in report.hints), str(report)


def test_a_wrong_shape_names_the_axis_and_the_count():
    report = check(_with(R.greedy_decode, lambda ids: np.concatenate([ids, ids[:, :1]], axis=1)), verbose=False)
    assert any("has shape" in h and "axis 1 has +1 entries" in h for h in report.hints), str(report)


def test_nan_is_named():
    report = check(_with(R.adam_step, lambda out: (_bump(out[0], (0,) * out[0].ndim, np.nan), *out[1:])),
                   verbose=False)
    assert any("nan or inf where the library's is finite" in h for h in report.hints), str(report)


@pytest.mark.parametrize("name", NAMES)
def test_a_broken_function_never_raises(name, capsys):
    def broken(*args, **kwargs):
        return None.shape  # AttributeError in the learner's own line

    broken.__name__ = name
    report = check(broken)
    out = capsys.readouterr().out
    assert isinstance(report, Report) and not report.passed
    assert "raised AttributeError" in report.error and "None.shape" in report.error
    assert "Traceback" not in out


@pytest.mark.parametrize("name", ["greedy_decode", "corpus_bleu"])
def test_returning_something_that_is_not_numbers_is_reported(name):
    def wrong(*args, **kwargs):
        return "text" if name == "greedy_decode" else ("a", "b", "c")

    wrong.__name__ = name
    report = check(wrong, verbose=False)
    assert not report.passed and any("not numbers" in h for h in report.hints), str(report)


def _unmerged_last_word(out):
    """The words of a merge step with the last one left as it was (its symbols unmerged)."""
    pair, n, merged = out
    (last, count), *_ = reversed(merged.items())
    return pair, n, {**{s: c for s, c in merged.items() if s != last}, tuple("".join(last)): count}


def test_a_text_field_that_differs_is_quoted_where_it_first_differs():
    report = check(_with(R.bpe_merge_step, _unmerged_last_word), verbose=False)
    assert [r.name for r in report.results if not r.passed] == ["words"], str(report)
    assert any(h.startswith("words first differs in case ") and "yours '" in h for h in report.hints), str(report)


def test_numbers_where_text_is_expected_are_reported():
    report = check(_with(R.bpe_merge_step, lambda out: ((1, 2), *out[1:])), verbose=False)
    assert not report.passed and any("pair is " in h and "not text" in h for h in report.hints), str(report)


def test_the_bpe_cases_each_catch_the_mistake_they_were_built_against():
    from minis2s.exercises.outputs import BPE_MERGE_STEP

    cases = BPE_MERGE_STEP.cases(B.rng(0))
    right = [BPE_MERGE_STEP.run(R.bpe_merge_step, c) for c in cases]
    assert [r["pair"] for r in right] == [["s", "t</w>"], ["e", "s"], ["a", "b"]]
    assert right[2]["words"][0] == "ab ab c</w>"  # twice in one word
    wrong_on = {m.name: [k for k, c in enumerate(cases) if BPE_MERGE_STEP.run(m.fn, c) != right[k]]
                for m in OM.for_exercise("bpe_merge_step")}
    assert wrong_on["bpe_tie_to_first_found"] == [0]  # the only case with a tie at the top
    assert 0 in wrong_on["bpe_unweighted_counts"] and 1 in wrong_on["bpe_merge_by_text"]


# --------------------------------------------------------------------------- the catalogue and dispatch


def test_check_reads_the_exercise_from_the_name_as_for_gradients():
    def my_greedy_decode(model, src, src_mask, sos_id, eos_id, max_len):
        return R.greedy_decode(model, src, src_mask, sos_id, eos_id, max_len)

    report = check(my_greedy_decode, verbose=False)
    assert report.exercise == "greedy_decode" and report.passed
    assert repr(report).startswith("<Report my_greedy_decode (greedy_decode): PASSED")
    assert check(stubs.affine_backward, verbose=False).exercise == "affine"  # gradients unchanged


def test_the_exercises_are_listed_in_lesson_order_with_both_kinds():
    names = list_exercises()
    lessons = [EXERCISES[n].lesson for n in names]
    assert lessons == sorted(lessons)
    assert {n for n in names if EXERCISES[n].kind == "output"} == set(NAMES)
    assert {OUTPUT_EXERCISES[n].lesson for n in NAMES} == {"00", "01", "06", "07", "08", "10", "11", "13", "14", "15"}
    assert all(stub(n) is getattr(stubs, n) and solution(n) is getattr(R, n) for n in NAMES)


def test_the_numerical_gradient_reference_is_the_library_function():
    from minis2s import gradcheck

    assert solution("numerical_gradient") is gradcheck.numerical_gradient


# --------------------------------------------------------------------------- the cases are worth grading on


def _outputs(name, seed=0):
    ex = OUTPUT_EXERCISES[name]
    return [ex.run(ex.solution, case) for case in ex.cases(B.rng(seed))]


def test_greedy_cases_have_rows_that_stop_early_and_rows_that_never_stop():
    rows = [row for out in _outputs("greedy_decode") for row in out["ids"]]
    ends = [int(np.argmax(row == 2)) if (row == 2).any() else None for row in rows]
    assert any(e is None for e in ends) and len({e for e in ends if e is not None}) >= 3
    assert all(len(set(row.tolist()) - {2}) >= 1 for row in rows if row[0] != 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_beam_cases_retire_an_eos_give_one_slot_several_children_and_finish_a_sentence(seed):
    ex = OUTPUT_EXERCISES["beam_search_step"]
    pairs = list(zip(ex.cases(B.rng(seed)), _outputs("beam_search_step", seed)))
    live = [o for _, o in pairs if np.isfinite(o["scores"]).all()]
    assert any(len(o["finished"]) > len(c["finished"]) and np.isfinite(o["scores"]).all() for c, o in pairs)
    assert any(len(set(o["parents"].tolist())) < len(o["parents"]) for o in live)
    assert any(np.isneginf(o["scores"]).all() for _, o in pairs)  # k finished: the sentence is done


def test_bleu_cases_need_clipping_and_a_brevity_penalty_and_match_every_order():
    for out in _outputs("corpus_bleu"):
        assert 0 < out["BLEU"] < 100 and out["BP"] < 1 and min(out["precisions"]) > 0


def test_corpus_bleu_reference_agrees_with_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    ex = OUTPUT_EXERCISES["corpus_bleu"]
    for case in ex.cases(B.rng(2)):
        bleu, precisions, bp = R.corpus_bleu(case["hypotheses"], case["references"])
        theirs = sacrebleu.corpus_bleu(case["hypotheses"], [case["references"]], tokenize="none",
                                       smooth_method="none", force=True)
        assert bleu == pytest.approx(theirs.score, rel=1e-9)
        assert precisions == pytest.approx(theirs.precisions, rel=1e-9)
        assert bp == pytest.approx(theirs.bp, rel=1e-9)


def test_adam_reference_is_the_optimizer_over_several_steps():
    from minis2s.optim import Adam

    case = OUTPUT_EXERCISES["adam_step"].cases(B.rng(0))[0]
    p = case["p"].copy()
    opt = Adam({"p": p}, lr=case["lr"], betas=(case["beta1"], case["beta2"]), eps=case["eps"])
    for g in case["grads"]:
        opt.step({"p": g})
    out = OUTPUT_EXERCISES["adam_step"].run(R.adam_step, case)
    np.testing.assert_allclose(out["p"][-1], p, rtol=1e-12)


# --------------------------------------------------------------------------- lesson 11: no host sync


def _accuracy(read_back):
    def token_accuracy(logits, targets, mask):
        right = ((logits.argmax(axis=-1) == targets) * mask).sum()
        return read_back(right) / mask.sum()
    return token_accuracy


@pytest.mark.parametrize("read_back, named", [
    (float, "float()"),
    (lambda a: a.item(), ".item()"),
    (lambda a: B.to_host(a), "B.to_host"),
    (lambda a: np.asarray(a), "host numpy array"),
])
def test_a_host_sync_in_the_middle_fails_on_the_strict_backend_with_a_hint(read_back, named):
    report = check(_accuracy(read_back), verbose=False)
    results = {r.name: r.passed for r in report.results}
    assert results == {"accuracy": True, "no host sync (strict backend)": False}, str(report)
    assert not report.passed
    assert any(named in h for h in report.hints), str(report)


def test_returning_a_host_array_fails_on_the_strict_backend():
    report = check(_with(R.token_accuracy, lambda acc: acc.view(np.ndarray)), verbose=False)
    assert not report.passed and any("returned ndarray, not a device array" in h for h in report.hints), str(report)


def test_the_strict_run_leaves_the_backend_and_its_helpers_as_they_were():
    before = (B.get_backend(), B.to_host, B.to_float)
    check(_accuracy(B.to_host), verbose=False)
    assert (B.get_backend(), B.to_host, B.to_float) == before


def test_a_softmax_that_leaves_the_device_fails_on_the_strict_backend():
    def stable_softmax(x):
        x = np.asarray(x)  # a host copy: on a GPU, a transfer and a wait
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    report = check(stable_softmax, verbose=False)
    assert [r.passed for r in report.results] == [True, False], str(report)
    assert any("not a device array" in h for h in report.hints), str(report)
