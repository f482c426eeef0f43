"""Evaluation metrics written out by hand (lesson 10): BLEU, perplexity and ROUGE-L.

Everything here runs on the host in plain Python; the inputs are already-tokenized strings
(tokens separated by whitespace) and Python numbers, never device arrays.

BLEU (Papineni et al., 2002), the numbering lesson 10 uses. For every sentence, hypothesis
``y^`` (lesson 10's y-hat) and references ``y^(1)..y^(K)``, and every order ``n = 1..N`` (N = ``max_order``, 4):

    count_clip(g) = min(count_y^(g), max_k count_y^(k)(g))                      (eq. 10.7)
    p_n = sum over sentences and n-grams g of count_clip(g)
          / sum over sentences and n-grams g of count_y^(g)                      (eq. 10.8)

the *modified* (clipped) n-gram precision: a hypothesis n-gram is credited at most as often
as it appears in one reference, so "the the the the" does not score on "the cat". Both sums
run over the whole corpus before dividing -- corpus BLEU is not the mean of sentence BLEUs.
Precision cannot see missing words, so short output is punished by the brevity penalty

    BP = 1 if |Y^| >= |Y| else exp(1 - |Y| / |Y^|)                             (eq. 10.9)

with ``|Y^|`` the total hypothesis length and ``|Y|`` the total *effective reference length*: per
sentence, the reference length closest to the hypothesis length (ties go to the shorter).
The score is the geometric mean of the precisions (uniform weights 1/N), times BP:

    BLEU = BP * exp( (1/N) * sum_n log p_n )                                     (eq. 10.10)

One order without a single match makes the product, and BLEU, zero. Smoothing replaces a
zero ``p_n`` (Chen & Cherry, 2014; the methods and defaults of sacrebleu)   (eq. 10.11):

``"none"``   keep the zero;
``"floor"``  p_n = smooth_value / total_n (smooth_value 0.1);
``"add-k"``  p_n = (m_n + k) / (total_n + k) for n >= 2 (k = smooth_value, 1);
``"exp"``    the i-th order without a match gets p_n = 1 / (2^i * total_n) (the NIST
             mteval-v13a method and sacrebleu's default).

With the same whitespace tokens the functions here reproduce
``sacrebleu.corpus_bleu(hyps, [refs], tokenize="none")`` and ``sacrebleu.sentence_bleu``:
score, precisions, BP and lengths (tests/test_metrics.py checks this). One difference:
with ``"add-k"`` sacrebleu reports the smoothed counts; ``BLEU.counts``/``totals`` here are
always the raw match statistics.

Perplexity is ``exp`` of the mean per-token negative log-likelihood (natural log): a model
that spreads its probability uniformly over V tokens has perplexity V.

ROUGE-L (Lin, 2004) scores a hypothesis by the longest common subsequence (LCS) with the
reference (eq. 10.13): P = LCS / |hyp|, R = LCS / |ref|, F1 = 2PR / (P + R) (eq. 10.14). It equals
``rouge_score.rouge_scorer.RougeScorer(["rougeL"])`` whenever both tokenizations agree, i.e.
on lower-case tokens made only of ``a-z`` and ``0-9``. rouge-score's default tokenizer
lower-cases, turns every other character into a space (``"don't"`` -> ``don t``,
``"café"`` -> ``caf``) and drops punctuation tokens; here tokens are taken as given, so
case and punctuation count.

distinct-n (Li et al., 2016) measures how varied a system's outputs are, without references:
the number of distinct n-grams over all outputs divided by the number of n-grams. A chatbot
that answers "i don't know" to everything scores near 0; one that never repeats a phrase, 1.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from . import backend as B

#: Smoothing methods and their default ``smooth_value`` (sacrebleu's ``BLEU.SMOOTH_DEFAULTS``).
SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}


# --------------------------------------------------------------------------- BLEU


@dataclass
class BLEU:
    """A BLEU score and its sufficient statistics.

    score: 0-100. precisions: per order, percent (after smoothing). bp: brevity penalty.
    sys_len / ref_len: total hypothesis / effective reference length. counts / totals: per
    order, clipped matches / hypothesis n-grams, summed over the corpus (raw, unsmoothed).
    """

    score: float
    precisions: list
    bp: float
    sys_len: int
    ref_len: int
    counts: list
    totals: list

    @property
    def ratio(self) -> float:
        """Hypothesis length over effective reference length (0 without references)."""
        return self.sys_len / self.ref_len if self.ref_len else 0.0

    def __str__(self) -> str:
        prec = "/".join(f"{p:.1f}" for p in self.precisions)
        return (f"BLEU = {self.score:.2f} {prec} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} "
                f"hyp_len = {self.sys_len:d} ref_len = {self.ref_len:d})")


def _ngrams(tokens: list, max_order: int) -> Counter:
    """All n-grams of orders 1..max_order as tuples, with their counts."""
    return Counter(tuple(tokens[i : i + n])
                   for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def _closest_ref_len(hyp_len: int, ref_lens: list) -> int:
    # Ties go to the shorter reference, as in sacrebleu and mteval-v13a.
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def _reference_streams(references, n_hyp: int, fn: str) -> list:
    """``references`` as a list of streams (each a list of str or None, one per sentence)."""
    if isinstance(references, str):
        raise TypeError(f"{fn}: references must be a list of strings or a list of reference "
                        "streams, got a single string")
    references = list(references)
    first = next((r for r in references if r is not None), None)
    if first is None or isinstance(first, str):
        streams = [references]
    else:
        streams = []
        for k, stream in enumerate(references):
            if isinstance(stream, str) or not hasattr(stream, "__len__"):
                raise TypeError(f"{fn}: references mixes strings and streams (entry {k} is "
                                f"{type(stream).__name__}); pass list[str] or list[list[str]]")
            streams.append(list(stream))
    for k, stream in enumerate(streams):
        if len(stream) != n_hyp:
            where = "references" if len(streams) == 1 else f"reference stream {k}"
            raise ValueError(f"{fn}: got {n_hyp} hypotheses but {len(stream)} lines in {where}; "
                             "they must have one line per sentence")
        for i, line in enumerate(stream):
            if line is not None and not isinstance(line, str):
                raise TypeError(f"{fn}: reference {i} (stream {k}) must be a string of "
                                f"whitespace-separated tokens, got {type(line).__name__}")
    return streams


def _bleu_from_stats(counts, totals, sys_len, ref_len, max_order, smooth, smooth_value,
                     effective_order) -> BLEU:
    """eq. 10.8-10.11 from the corpus statistics, step for step as sacrebleu's compute_bleu."""
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1.0 - ref_len / sys_len) if sys_len > 0 else 0.0  # eq. 10.9
    precisions = [0.0] * max_order
    if not any(counts):
        return BLEU(0.0, precisions, bp, sys_len, ref_len, counts, totals)

    matches, guesses = list(counts), list(totals)
    halvings, order = 1.0, max_order
    for n in range(1, max_order + 1):
        if smooth == "add-k" and n > 1:  # eq. 10.11, from bigrams on as in sacrebleu
            matches[n - 1] += smooth_value
            guesses[n - 1] += smooth_value
        if guesses[n - 1] == 0:
            break  # the hypotheses are all shorter than n: no n-grams to count
        if effective_order:
            order = n  # sentence BLEU: average only over orders the hypothesis has
        if matches[n - 1] == 0:
            if smooth == "exp":
                halvings *= 2.0
                precisions[n - 1] = 100.0 / (halvings * guesses[n - 1])  # eq. 10.11
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * smooth_value / guesses[n - 1]  # eq. 10.11
        else:
            precisions[n - 1] = 100.0 * matches[n - 1] / guesses[n - 1]  # eq. 10.8

    used = precisions[:order]
    if min(used) == 0.0:
        score = 0.0  # a zero factor in the geometric mean
    else:
        score = bp * math.exp(sum(math.log(p) for p in used) / order)  # eq. 10.10
    return BLEU(score, precisions, bp, sys_len, ref_len, counts, totals)


def corpus_bleu(hypotheses, references, max_order: int = 4, smooth: str = "exp",
                smooth_value: float | None = None, lowercase: bool = False,
                effective_order: bool = False) -> BLEU:
    """Corpus BLEU of tokenized hypotheses against one or several references per sentence.

    hypotheses: list of N strings, tokens separated by whitespace.
    references: list of N strings (one reference each), or a list of reference *streams*
        ``[refs1, refs2, ...]``, each a list of N strings, as sacrebleu takes them; a stream
        may hold None where a sentence has fewer references.
    smooth: "none", "floor", "add-k" or "exp"; smooth_value: for floor (default 0.1) and
        add-k (default 1). lowercase: compare lower-cased tokens.
    effective_order: average only over the n-gram orders the hypotheses contain (what
        sentence BLEU needs; off for corpus BLEU, as in sacrebleu).

    Equals ``sacrebleu.corpus_bleu(hypotheses, streams, tokenize="none")``. An empty corpus
    or all-empty hypotheses give BLEU 0.
    """
    fn = "corpus_bleu"
    if isinstance(hypotheses, str):
        raise TypeError(f"{fn}: hypotheses must be a list of strings, got a single string")
    hypotheses = list(hypotheses)
    for i, h in enumerate(hypotheses):
        if not isinstance(h, str):
            raise TypeError(f"{fn}: hypothesis {i} must be a string of whitespace-separated "
                            f"tokens, got {type(h).__name__}")
    if smooth not in SMOOTH_DEFAULTS:
        raise ValueError(f"{fn}: smooth must be one of {sorted(SMOOTH_DEFAULTS)}, got {smooth!r}")
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"{fn}: max_order must be a positive int, got {max_order!r}")
    if smooth_value is None:
        smooth_value = SMOOTH_DEFAULTS[smooth]
    streams = _reference_streams(references, len(hypotheses), fn)
    case = str.lower if lowercase else (lambda s: s)

    counts, totals = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for i, hyp in enumerate(hypotheses):
        refs = [case(s[i]).split() for s in streams if s[i] is not None]
        if not refs:
            raise ValueError(f"{fn}: sentence {i} has no reference (None in every stream)")
        # eq. 10.7: the clip is the most times any single reference holds the n-gram
        max_ref = Counter()
        for ref in refs:
            max_ref |= _ngrams(ref, max_order)
        tokens = case(hyp).split()
        for gram, c in _ngrams(tokens, max_order).items():
            totals[len(gram) - 1] += c
            counts[len(gram) - 1] += min(c, max_ref[gram])
        sys_len += len(tokens)
        ref_len += _closest_ref_len(len(tokens), [len(r) for r in refs])
    return _bleu_from_stats(counts, totals, sys_len, ref_len, max_order, smooth, smooth_value,
                            effective_order)


def sentence_bleu(hypothesis: str, references, max_order: int = 4, smooth: str = "exp",
                  smooth_value: float | None = None, lowercase: bool = False,
                  effective_order: bool = True) -> BLEU:
    """BLEU of one tokenized hypothesis against one reference (a string) or several (a list).

    Defaults as ``sacrebleu.sentence_bleu``: exp smoothing and the effective order, so that a
    hypothesis shorter than ``max_order`` tokens is not zeroed by orders it cannot have.
    BLEU is a corpus metric; averaging sentence BLEUs does not give corpus BLEU.
    """
    if not isinstance(hypothesis, str):
        raise TypeError("sentence_bleu: hypothesis must be a string, "
                        f"got {type(hypothesis).__name__}")
    if isinstance(references, str):
        references = [references]
    return corpus_bleu([hypothesis], [[r] for r in references], max_order=max_order,
                       smooth=smooth, smooth_value=smooth_value, lowercase=lowercase,
                       effective_order=effective_order)


# --------------------------------------------------------------------------- perplexity


def perplexity(total_nll, n_tokens: int) -> float:
    """exp(total_nll / n_tokens): the exponentiated mean negative log-likelihood per token (eq. 10.12).

    total_nll: the summed natural-log NLL over ``n_tokens`` target tokens (a Python float or
    a 0-d array, fetched from the device explicitly). Returns inf when the mean NLL is too
    large for a float, rather than raising.
    """
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int):
        raise TypeError(f"perplexity: n_tokens must be an int, got {type(n_tokens).__name__}")
    if n_tokens <= 0:
        raise ValueError(f"perplexity: n_tokens must be positive, got {n_tokens} "
                         "(perplexity of no tokens is undefined)")
    nll = B.to_float(total_nll) if B.is_array(total_nll) else float(total_nll)
    if math.isnan(nll):
        raise ValueError("perplexity: total_nll is NaN")
    try:
        return math.exp(nll / n_tokens)
    except OverflowError:
        return math.inf


# --------------------------------------------------------------------------- ROUGE-L


def _lcs_length(a: list, b: list) -> int:
    """Length of the longest common subsequence, by dynamic programming over prefixes:
    L[i][j] = L[i-1][j-1] + 1 if a[i-1] == b[j-1] else max(L[i-1][j], L[i][j-1])  (eq. 10.13).
    Only the previous row is kept, so memory is O(len(b))."""
    prev = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
        prev = row
    return prev[-1]


def rouge_l(hypothesis: str, reference: str) -> tuple:
    """(precision, recall, F1) of the LCS of whitespace tokens; all 0 if either side is empty.

    Equals rouge-score's rougeL on lower-case alphanumeric tokens (see the module docstring).
    """
    for name, s in (("hypothesis", hypothesis), ("reference", reference)):
        if not isinstance(s, str):
            raise TypeError(f"rouge_l: {name} must be a string, got {type(s).__name__}")
    hyp, ref = hypothesis.split(), reference.split()
    if not hyp or not ref:
        return 0.0, 0.0, 0.0
    lcs = _lcs_length(ref, hyp)
    precision, recall = lcs / len(hyp), lcs / len(ref)  # eq. 10.14
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def corpus_rouge_l(hypotheses, references) -> float:
    """Mean ROUGE-L F1 over sentence pairs (0.0 for an empty corpus)."""
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("corpus_rouge_l: hypotheses and references must be lists of strings")
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"corpus_rouge_l: got {len(hypotheses)} hypotheses but "
                         f"{len(references)} references; they must have one line per sentence")
    if not hypotheses:
        return 0.0
    return sum(rouge_l(h, r)[2] for h, r in zip(hypotheses, references)) / len(hypotheses)


# --------------------------------------------------------------------------- distinct-n


def distinct_n(hypotheses, n: int) -> float:
    """Distinct n-grams / all n-grams, over every hypothesis (token lists or whitespace-
    separated strings); n-grams do not cross hypotheses. 0.0 when there is no n-gram at all."""
    if n < 1:
        raise ValueError(f"distinct_n: n must be at least 1, got {n}")
    if isinstance(hypotheses, str):
        raise TypeError("distinct_n: hypotheses must be a list of outputs, not one string")
    seen, total = set(), 0
    for h in hypotheses:
        tokens = h.split() if isinstance(h, str) else list(h)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        seen.update(grams)  # eq. 15.3: the union over all outputs, one set for the corpus
        total += len(grams)  # eq. 15.3: every n-gram, repeats included
    return len(seen) / total if total else 0.0
