"""BLEU, perplexity, ROUGE-L and distinct-n: hand-written, checked against sacrebleu, rouge-score and hand counts."""

import math
from pathlib import Path

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.metrics import (BLEU, SMOOTH_DEFAULTS, corpus_bleu, corpus_rouge_l, distinct_n, perplexity,
                             rouge_l, sentence_bleu)

MULTI30K = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "multi30k"
SMOOTHS = sorted(SMOOTH_DEFAULTS)
TOL = 1e-9  # far inside the 0.01 BLEU the task asks for: the arithmetic is the same


def _random_words(rng, n):
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return ["".join(rng.choice(list(letters), size=rng.integers(1, 4))) for _ in range(n)]


def _sentence(rng, vocab, max_len):
    return " ".join(rng.choice(vocab, size=rng.integers(0, max_len + 1)))


def _random_corpus(seed):
    """A corpus from a tiny vocabulary (so n-grams match), with empty hypotheses and
    references, one to three reference streams, and None holes in the extra streams."""
    rng = np.random.default_rng(seed)
    vocab = _random_words(rng, int(rng.integers(2, 9)))
    n = int(rng.integers(1, 12))
    hyps = [_sentence(rng, vocab, 12) for _ in range(n)]
    streams = [[_sentence(rng, vocab, 12) for _ in range(n)] for _ in range(rng.integers(1, 4))]
    for stream in streams[1:]:
        for i in range(n):
            if rng.random() < 0.2:
                stream[i] = None
    return hyps, streams


def _assert_matches(ours: BLEU, theirs, raw_counts_differ=False):
    assert abs(ours.score - theirs.score) <= TOL
    assert ours.precisions == pytest.approx(theirs.precisions, abs=TOL)
    assert ours.bp == pytest.approx(theirs.bp, abs=TOL)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)
    assert str(ours) == str(theirs)
    if not raw_counts_differ:
        assert (ours.counts, ours.totals) == (list(theirs.counts), list(theirs.totals))


# --------------------------------------------------------------------------- BLEU by hand


def test_clipping_counts_a_word_at_most_as_often_as_a_reference_holds_it():
    # Papineni et al.'s example: modified unigram precision 2/7, not 7/7.
    b = corpus_bleu(["the the the the the the the"], ["the cat is on the mat"], smooth="none")
    assert (b.counts[0], b.totals[0]) == (2, 7)
    assert b.precisions[0] == pytest.approx(100 * 2 / 7)
    assert b.score == 0.0  # no bigram matches and no smoothing


def test_clip_uses_the_best_single_reference_not_the_sum():
    b = corpus_bleu(["a a a"], [["a b c"], ["a a d"]], max_order=1, smooth="none")
    assert b.counts == [2]


def test_identical_corpus_scores_100():
    refs = ["a small dog runs", "two men play chess in the park"]
    b = corpus_bleu(refs, refs)
    assert b.score == pytest.approx(100.0)
    assert b.bp == 1.0 and b.precisions == pytest.approx([100.0] * 4)


def test_brevity_penalty_uses_closest_reference_and_ties_go_to_the_shorter():
    b = corpus_bleu(["a b c d e"], [["a b c d"], ["a b c d e f"]])
    assert b.ref_len == 4 and b.bp == 1.0
    b = corpus_bleu(["a b"], ["a b c d"], max_order=2)
    assert b.bp == pytest.approx(math.exp(1 - 4 / 2))  # eq. 10.9
    assert b.score == pytest.approx(math.exp(1 - 4 / 2) * 100.0)


def test_lowercase_compares_lowered_tokens():
    assert corpus_bleu(["The Cat"], ["the cat"], max_order=2).score == 0.0
    lowered = corpus_bleu(["The Cat"], ["the cat"], max_order=2, lowercase=True)
    assert lowered.score == pytest.approx(100.0)


# --------------------------------------------------------------------------- against sacrebleu


@pytest.mark.parametrize("seed", range(50))
def test_corpus_bleu_matches_sacrebleu_on_random_corpora(seed):
    sacrebleu = pytest.importorskip("sacrebleu")
    from sacrebleu.metrics import BLEU as SacreBLEU

    hyps, streams = _random_corpus(seed)
    for smooth in SMOOTHS:
        for max_order in (4, 1 + seed % 5):
            for effective in (False, True):
                theirs = SacreBLEU(tokenize="none", smooth_method=smooth, force=True,
                                   max_ngram_order=max_order, effective_order=effective
                                   ).corpus_score(hyps, streams)
                ours = corpus_bleu(hyps, streams, max_order=max_order, smooth=smooth,
                                   effective_order=effective)
                _assert_matches(ours, theirs, raw_counts_differ=smooth == "add-k")
    # and the compat entry point the task names, single stream given as list[str]
    theirs = sacrebleu.corpus_bleu(hyps, [streams[0]], tokenize="none", force=True)
    _assert_matches(corpus_bleu(hyps, streams[0]), theirs)


@pytest.mark.parametrize("smooth,value", [("floor", 0.3), ("add-k", 2), ("add-k", 0.5)])
def test_explicit_smooth_values_match_sacrebleu(smooth, value):
    sacrebleu = pytest.importorskip("sacrebleu")
    for seed in range(10):
        hyps, streams = _random_corpus(100 + seed)
        theirs = sacrebleu.corpus_bleu(hyps, streams, smooth_method=smooth, smooth_value=value,
                                       tokenize="none", force=True)
        ours = corpus_bleu(hyps, streams, smooth=smooth, smooth_value=value)
        _assert_matches(ours, theirs, raw_counts_differ=smooth == "add-k")


def test_add_k_reports_raw_counts_where_sacrebleu_reports_smoothed_ones():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps, refs = ["a b c d x"], ["a b c d e"]
    theirs = sacrebleu.corpus_bleu(hyps, [refs], smooth_method="add-k", tokenize="none")
    ours = corpus_bleu(hyps, refs, smooth="add-k")
    assert ours.counts == [4, 3, 2, 1] and ours.totals == [5, 4, 3, 2]
    assert list(theirs.counts) == [4, 4, 3, 2] and list(theirs.totals) == [5, 5, 4, 3]
    assert ours.score == pytest.approx(theirs.score, abs=TOL)


def _multi30k(lang):
    path = MULTI30K / f"test_2016_flickr.lc.norm.tok.{lang}"
    if not path.exists():
        pytest.skip(f"Multi30k test set not found at {path}")
    return path.read_text(encoding="utf-8").splitlines()


def _corrupt(lines, seed):
    """Drop, replace and locally shuffle words, as a weak system would."""
    rng = np.random.default_rng(seed)
    vocab = sorted({w for line in lines for w in line.split()})
    out = []
    for line in lines:
        words = []
        for w in line.split():
            u = rng.random()
            if u < 0.1:
                continue
            words.append(vocab[rng.integers(len(vocab))] if u < 0.25 else w)
        if len(words) > 3 and rng.random() < 0.5:
            i = int(rng.integers(len(words) - 3))
            window = words[i : i + 3]
            rng.shuffle(window)
            words[i : i + 3] = window
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize("smooth", SMOOTHS)
def test_corpus_bleu_matches_sacrebleu_on_multi30k_corrupted(smooth):
    sacrebleu = pytest.importorskip("sacrebleu")
    refs = _multi30k("en")
    hyps = _corrupt(refs, seed=0)
    theirs = sacrebleu.corpus_bleu(hyps, [refs], smooth_method=smooth, tokenize="none", force=True)
    ours = corpus_bleu(hyps, refs, smooth=smooth)
    _assert_matches(ours, theirs, raw_counts_differ=smooth == "add-k")
    assert 20.0 < ours.score < 90.0  # a real, non-degenerate comparison


@pytest.mark.parametrize("smooth", SMOOTHS)
def test_corpus_bleu_matches_sacrebleu_on_german_lines_as_nonsense(smooth):
    sacrebleu = pytest.importorskip("sacrebleu")
    refs, hyps = _multi30k("en"), _multi30k("de")
    theirs = sacrebleu.corpus_bleu(hyps, [refs], smooth_method=smooth, tokenize="none", force=True)
    ours = corpus_bleu(hyps, refs, smooth=smooth)
    _assert_matches(ours, theirs, raw_counts_differ=smooth == "add-k")
    assert ours.counts[0] > 0 and ours.score < 10.0


@pytest.mark.parametrize("seed", range(20))
def test_sentence_bleu_matches_sacrebleu(seed):
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = np.random.default_rng(1000 + seed)
    vocab = _random_words(rng, int(rng.integers(2, 7)))
    hyp = _sentence(rng, vocab, 8)
    refs = [_sentence(rng, vocab, 8) for _ in range(rng.integers(1, 4))]
    # defaults first: both default to exp smoothing with the effective order
    _assert_matches(sentence_bleu(hyp, refs), sacrebleu.sentence_bleu(hyp, refs, tokenize="none"))
    for smooth in SMOOTHS:
        for effective in (True, False):
            theirs = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth, tokenize="none",
                                             use_effective_order=effective)
            ours = sentence_bleu(hyp, refs, smooth=smooth, effective_order=effective)
            _assert_matches(ours, theirs, raw_counts_differ=smooth == "add-k")


def test_sentence_bleu_takes_a_single_reference_string():
    assert sentence_bleu("a b c", "a b c").score == pytest.approx(100.0)  # effective order 3
    assert sentence_bleu("a b c", "a b c", effective_order=False).score == 0.0


# --------------------------------------------------------------------------- BLEU edge cases


def test_empty_corpus_scores_zero():
    for refs in ([], [[]], [[], []]):
        b = corpus_bleu([], refs)
        assert b.score == 0.0 and b.sys_len == 0 and b.ref_len == 0
        assert str(b).startswith("BLEU = 0.00 0.0/0.0/0.0/0.0")


def test_all_empty_hypotheses_score_zero():
    for smooth in SMOOTHS:
        b = corpus_bleu(["", "  "], ["a b", "c d e"], smooth=smooth)
        assert b.score == 0.0 and b.bp == 0.0
        assert (b.sys_len, b.ref_len, b.totals) == (0, 5, [0, 0, 0, 0])


def test_length_mismatch_names_both_counts():
    with pytest.raises(ValueError, match=r"3 hypotheses but 2 lines in references"):
        corpus_bleu(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match=r"2 hypotheses but 1 lines in reference stream 1"):
        corpus_bleu(["a", "b"], [["a", "b"], ["a"]])
    with pytest.raises(ValueError, match=r"2 hypotheses but 3 references"):
        corpus_rouge_l(["a", "b"], ["a", "b", "c"])


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="single string"):
        corpus_bleu("a b c", ["a b c"])
    with pytest.raises(TypeError, match="hypothesis 1"):
        corpus_bleu(["a", ["b"]], ["a", "b"])
    with pytest.raises(ValueError, match="smooth must be one of"):
        corpus_bleu(["a"], ["a"], smooth="laplace")
    with pytest.raises(ValueError, match="max_order"):
        corpus_bleu(["a"], ["a"], max_order=0)
    with pytest.raises(ValueError, match="sentence 1 has no reference"):
        corpus_bleu(["a", "b"], [["a", None], ["a", None]])


# --------------------------------------------------------------------------- perplexity


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    for V in (2, 7, 1000):
        n = 37
        assert perplexity(n * math.log(V), n) == pytest.approx(V, rel=1e-12)


def test_perplexity_of_a_certain_model_is_one_and_equals_exp_mean_nll():
    assert perplexity(0.0, 5) == 1.0
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(20, 9))
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    targets = rng.integers(9, size=20)
    nll = -logp[np.arange(20), targets]
    assert perplexity(nll.sum(), 20) == pytest.approx(math.exp(nll.mean()), rel=1e-12)
    assert perplexity(1e6, 1) == math.inf


def test_perplexity_takes_a_device_scalar(backend):
    total = B.to_device(np.array([1.0, 2.0, 3.0])).sum()  # explicit fetch, no implicit sync
    assert perplexity(total, 3) == pytest.approx(math.exp(2.0))


def test_perplexity_rejects_no_tokens():
    with pytest.raises(ValueError, match="n_tokens must be positive, got 0"):
        perplexity(0.0, 0)
    with pytest.raises(ValueError, match="NaN"):
        perplexity(float("nan"), 3)


# --------------------------------------------------------------------------- ROUGE-L


def test_rouge_l_by_hand():
    # LCS of "a b c d" and "a c e d" is "a c d": P = 3/4, R = 3/4
    p, r, f = rouge_l("a c e d", "a b c d")
    assert (p, r, f) == pytest.approx((0.75, 0.75, 0.75))
    p, r, f = rouge_l("a b", "a x b y z")  # P = 2/2, R = 2/5
    assert (p, r) == pytest.approx((1.0, 0.4)) and f == pytest.approx(2 * 0.4 / 1.4)
    assert rouge_l("", "a") == (0.0, 0.0, 0.0) and rouge_l("a", "") == (0.0, 0.0, 0.0)


def test_rouge_l_matches_rouge_score_on_random_token_sequences():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    rng = np.random.default_rng(0)
    hyps, refs = [], []
    for _ in range(300):
        vocab = _random_words(rng, int(rng.integers(1, 10)))
        hyp, ref = _sentence(rng, vocab, 15), _sentence(rng, vocab, 15)
        theirs = scorer.score(ref, hyp)["rougeL"]  # rouge-score takes (target, prediction)
        ours = rouge_l(hyp, ref)
        assert ours == pytest.approx((theirs.precision, theirs.recall, theirs.fmeasure), abs=1e-9)
        hyps.append(hyp)
        refs.append(ref)
    mean = sum(scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)) / len(hyps)
    assert corpus_rouge_l(hyps, refs) == pytest.approx(mean, abs=1e-9)
    assert 0.0 < mean < 1.0


def test_rouge_l_keeps_case_and_punctuation_unlike_rouge_scores_tokenizer():
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    assert scorer.score("the cat .", "The cat")["rougeL"].fmeasure == 1.0
    p, r = 1 / 2, 1 / 3  # only "cat" is shared once case and "." count
    assert rouge_l("The cat", "the cat .")[2] == pytest.approx(2 * p * r / (p + r))


def test_corpus_rouge_l_of_empty_corpus_is_zero():
    assert corpus_rouge_l([], []) == 0.0


# --------------------------------------------------------------------------- distinct-n


def test_distinct_n_by_hand():
    hyps = ["i do not know", "i do not know", "i like the park"]
    # unigrams: 12 in all; distinct: i do not know like the park = 7
    assert distinct_n(hyps, 1) == pytest.approx(7 / 12)
    # bigrams: 3 per output, 9 in all; distinct: (i do) (do not) (not know) (i like) (like the) (the park) = 6
    assert distinct_n(hyps, 2) == pytest.approx(6 / 9)
    # token lists count the same as strings, and n-grams do not cross outputs
    assert distinct_n([["a", "b"], ["b", "a"]], 2) == 1.0
    assert distinct_n(["a b", "a b"], 2) == 0.5


def test_distinct_n_edge_cases():
    assert distinct_n([], 1) == 0.0 and distinct_n(["a"], 2) == 0.0 and distinct_n(["", "a a a a"], 1) == 0.25
    with pytest.raises(ValueError, match="at least 1"):
        distinct_n(["a"], 0)
    with pytest.raises(TypeError, match="not one string"):
        distinct_n("a b c", 1)
