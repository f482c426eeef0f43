"""Exercises checked by their output: forward passes and algorithms, graded against the library.

A backward pass can be graded by the gradient check alone (:mod:`.specs`); a numerical
gradient, a decoding loop, an optimizer step or BLEU cannot. These exercises are graded by
running the learner's function and the library's (:mod:`.references`) on the same seeded
inputs -- several *cases* -- and comparing what comes back, field by field: the ids of a
decoded batch, the parameter after each Adam step, the BLEU score and its precisions.

An :class:`OutputExercise` says how to draw the cases (``cases(rng)``), how to call a
function on one (``run(fn, case) -> {field: value}``, which may call it several times, as the
Adam exercise does over five steps), and how close is equal (``rtol``/``atol``; integer
fields must be equal). The catalogued mistakes and their hints are in :mod:`.output_mistakes`,
the grading in :mod:`.output_grader`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, ClassVar

from .. import backend as B
from . import references, stubs


@dataclass(frozen=True)
class OutputExercise:
    """One function to write, graded by comparing its output with the library's."""

    kind: ClassVar[str] = "output"

    name: str  # also the function's name, as in the stub
    lesson: str
    equations: str
    first_step: str  # the stub's NotImplementedError message
    library: str  # the library code the reference calls, as the report names it
    cases: Callable  # rng -> list of cases (dicts of inputs); drawn afresh for every function
    run: Callable  # (fn, case) -> {field: value}, in the order the report lists them
    fields: dict  # field -> what it is, with its shape (said when it differs)
    rtol: float = 1e-7
    atol: float = 1e-10
    strict: bool = False  # also run on the strict backend: no host synchronisation allowed

    @property
    def function_name(self) -> str:
        return self.name

    @property
    def solution(self) -> Callable:
        return getattr(references, self.name)

    @property
    def stub(self) -> Callable:
        return getattr(stubs, self.name)

    @property
    def title(self) -> str:
        return f"{self.name} (exercise {self.name!r}, lesson {self.lesson}, {self.equations})"


# --------------------------------------------------------------------------- lesson 00


def _softmax_cases(rng):
    """Rows of ordinary logits beside a row of +-1000 (exp overflows without the shift) and
    a row far below the others (a shift by the whole array's max underflows it to 0 / 0)."""
    cases = []
    for Bn, V in ((3, 5), (4, 3), (2, 6)):
        x = rng.standard_normal((Bn, V))
        x[1] = 1000.0 + 10.0 * x[1]
        x[-1] = x[-1] - 2000.0
        cases.append({"x": x[rng.permutation(Bn)]})
    return cases


STABLE_SOFTMAX = OutputExercise(
    name="stable_softmax",
    lesson="00",
    equations="eq. 2.5",
    first_step="take the array module first, xp = B.get_array_module(x), then subtract each row's max",
    library="minis2s.functional.activations.softmax",
    cases=_softmax_cases,
    run=lambda fn, case: {"softmax": fn(case["x"])},
    fields={"softmax": "(B, V), each row exp(x - max of the row) / its sum"},
    strict=True,
)


# --------------------------------------------------------------------------- lesson 01


def _ngrad_cases(rng):
    """x and the weights of f(x) = sum(w tanh(x)) + (sum x)^2 / 2, whose second term couples
    every coordinate: an entry left perturbed changes the gradient of the ones after it."""
    cases = []
    for shape, n in (((3, 4), 5), ((2, 3), 6), ((6,), 4)):
        x = rng.standard_normal(shape)
        size = x.size
        flat = sorted(rng.choice(size, size=n, replace=False).tolist())
        coords = [B.host.unravel_index(i, shape) for i in flat]
        coords = [tuple(int(c) for c in idx) for idx in coords]
        cases.append({"x": x, "w": rng.standard_normal(shape), "coords": coords, "eps": 1e-3})
    return cases


def _ngrad_run(fn, case):
    x, w = case["x"], case["w"]
    np = B.host

    def f():
        return float((w * np.tanh(x)).sum() + 0.5 * x.sum() ** 2)

    grads = fn(f, x, case["coords"], case["eps"])
    return {"gradients": grads, "x after the call": x}


NUMERICAL_GRADIENT = OutputExercise(
    name="numerical_gradient",
    lesson="01",
    equations="eq. 1.5",
    first_step="write eq. 1.5 for one coordinate first: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)",
    library="minis2s.gradcheck.numerical_gradient",
    cases=_ngrad_cases,
    run=_ngrad_run,
    fields={"gradients": "the list of centered differences, one per coordinate, in the order of coords",
            "x after the call": "x itself once the function returns: every entry restored"},
)


# --------------------------------------------------------------------------- lesson 06


@functools.cache
def _greedy_model():
    """A seeded model whose greedy output is neither constant nor empty: GRU, dot attention,
    12 tokens, weights N(0, 2^2) for varied argmaxes. Over the cases below (seed 0) rows end
    after 1 to 8 tokens and half never emit <eos> (id 2)."""
    from ..models.seq2seq import Seq2Seq, Seq2SeqConfig

    cfg = Seq2SeqConfig(src_vocab=12, tgt_vocab=12, emb=8, hidden=16, cell="gru", attention="dot")
    with B.use("numpy"):
        model = Seq2Seq(cfg, seed=5, dtype="float64")
    rng = B.rng(5)
    for p in model.params.values():
        p[...] = 2.0 * rng.standard_normal(p.shape)
    model.params["out.b"][:2] = -10.0
    model.params["out.b"][2] = 1.0
    return model


def _greedy_cases(rng):
    cases = []
    for Bn, S, max_len in ((4, 5, 8), (5, 6, 10), (3, 4, 7)):
        src = rng.integers(4, 12, size=(Bn, S))
        lengths = rng.integers(2, S + 1, size=Bn)
        lengths[0] = S
        mask = (B.host.arange(S)[None, :] < lengths[:, None]).astype("float64")
        cases.append({"src": src * (mask > 0), "src_mask": mask, "max_len": max_len})
    return cases


def _greedy_run(fn, case):
    ids = fn(_greedy_model(), case["src"], case["src_mask"], 1, 2, case["max_len"])
    return {"ids": ids}


GREEDY_DECODE = OutputExercise(
    name="greedy_decode",
    lesson="06",
    equations="eq. 6.10",
    first_step="write one step first: logp, states, _ = model.decode_step(memory, states, prev); "
               "the next prev is the argmax of logp (eq. 6.10)",
    library="minis2s.decode.greedy",
    cases=_greedy_cases,
    run=_greedy_run,
    fields={"ids": "(B, max_len) token ids: row b, column t is the token chosen at step t, and "
                   "<eos> (2) from the row's first <eos> on"},
)


# --------------------------------------------------------------------------- lesson 07


def _adam_cases(rng):
    cases = []
    for shape, lr, betas, eps in (((3, 4), 0.01, (0.9, 0.999), 1e-3), ((5,), 0.1, (0.8, 0.99), 1e-4),
                                  ((2, 2), 0.003, (0.5, 0.9), 1e-3)):
        scale = 0.05 * B.host.exp(rng.standard_normal(shape))  # coordinates of different scales
        grads = [scale * rng.standard_normal(shape) for _ in range(5)]
        cases.append({"p": rng.standard_normal(shape), "grads": grads, "lr": lr, "beta1": betas[0],
                      "beta2": betas[1], "eps": eps})
    return cases


def _adam_run(fn, case):
    np = B.host
    p = case["p"]
    m, v = np.zeros_like(p), np.zeros_like(p)
    ps, ms, vs = [], [], []
    for t, g in enumerate(case["grads"], start=1):
        p, m, v = fn(p, g, m, v, t, case["lr"], case["beta1"], case["beta2"], case["eps"])
        # copies: a function that updates in place and returns its arguments is allowed
        ps.append(np.array(p, dtype="float64"))
        ms.append(np.array(m, dtype="float64"))
        vs.append(np.array(v, dtype="float64"))
    return {"p": np.stack(ps), "m": np.stack(ms), "v": np.stack(vs)}


ADAM_STEP = OutputExercise(
    name="adam_step",
    lesson="07",
    equations="eq. 7.3-7.5",
    first_step="write eq. 7.3 and 7.4 first: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2",
    library="minis2s.optim.Adam",
    cases=_adam_cases,
    run=_adam_run,
    fields={"p": "the parameter after each of the 5 steps, (step, ...) with step 0 the result of t = 1",
            "m": "the first moment m after each step (eq. 7.3)",
            "v": "the second moment v (the lesson's nu) after each step (eq. 7.4)"},
    rtol=1e-6,
    atol=1e-12,
)


# --------------------------------------------------------------------------- lesson 08


def _decoder_cases(rng):
    from ..models.seq2seq import Seq2Seq, Seq2SeqConfig

    cases = []
    for k, (Bn, S, emb, hidden) in enumerate(((3, 4, 4, 5), (2, 6, 3, 4), (4, 3, 5, 6))):
        cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=9, emb=emb, hidden=hidden, cell="lstm",
                            attention="additive", attention_size=hidden + 1)
        with B.use("numpy"):
            model = Seq2Seq(cfg, seed=10 + k, dtype="float64")
        src = rng.integers(3, 9, size=(Bn, S))
        lengths = rng.integers(1, S + 1, size=Bn)
        lengths[0] = S
        mask = (B.host.arange(S)[None, :] < lengths[:, None]).astype("float64")
        memory, _ = model.encode(src * (mask > 0), mask)
        # a state away from the bridge's: s_{t-1} and c_{t-1} of some step t > 1
        states = [(0.8 * rng.standard_normal((Bn, hidden)), rng.standard_normal((Bn, hidden)))]
        cases.append({"params": model.params, "cfg": cfg, "memory": memory, "states": states,
                      "e": rng.standard_normal((Bn, emb))})
    return cases


def _decoder_run(fn, case):
    z, new_states, weights = fn(case["params"], case["cfg"], case["memory"], case["states"], case["e"])
    h, c = new_states[0]
    return {"z": z, "h_t": h, "c_t": c, "weights": weights}


DECODER_STEP_FORWARD = OutputExercise(
    name="decoder_step_forward",
    lesson="08",
    equations="eq. 8.1-8.5",
    first_step="write the context first: attention with the query s_{t-1} = states[0][0] (eq. 8.1-8.5)",
    library="minis2s.nn.decoder.step_forward",
    cases=_decoder_cases,
    run=_decoder_run,
    fields={"z": "zeta_t = [s_t; ctx_t; e_t], (B, H + Henc + D): columns 0:H are s_t, H:H+Henc the "
                 "context ctx_t, the last D the embedding e_t",
            "h_t": "the new state s_t = h_t, (B, H)",
            "c_t": "the LSTM's new cell state, (B, H)",
            "weights": "the attention weights alpha, (B, S), 0 at padding"},
)


# --------------------------------------------------------------------------- lesson 10


def _log_softmax(a):
    np = B.host
    a = a - a.max(axis=1, keepdims=True)
    return a - np.log(np.exp(a).sum(axis=1, keepdims=True))


def _beam_cases(rng):
    """Steps where <eos> is among the best k, one slot has several children, and a finished
    hypothesis of another length is already set aside (so eq. 10.6 decides between them)."""
    np = B.host
    cases = []
    for k, V, t, alpha in ((3, 6, 2, 0.6), (4, 7, 4, 1.0), (2, 5, 1, 0.6)):
        scores = -np.sort(rng.uniform(0.5, 3.0, size=k))
        logits = 2.0 * rng.standard_normal((k, V))
        logits[1:, 2] -= 3.0
        logits[0, 2] += 6.0  # <eos> (2) likely from the best slot only
        logits[0, 3:5] += 5.0  # and two more strong children of that slot
        finished = [(-2.9 / ((5 + t) / 6) ** alpha, -2.9, t)]
        cases.append({"scores": scores, "logp": _log_softmax(logits), "finished": finished, "t": t,
                      "alpha": alpha})
    return cases


def _beam_run(fn, case):
    parents, tokens, scores, finished = fn(case["scores"], case["logp"], list(case["finished"]),
                                           case["t"], 2, case["alpha"])
    return {"parents": parents, "tokens": tokens, "scores": scores, "finished": finished}


BEAM_SEARCH_STEP = OutputExercise(
    name="beam_search_step",
    lesson="10",
    equations="eq. 10.3-10.6",
    first_step="write eq. 10.3 first: cand[j, y] = scores[j] + logp[j, y], then take the best "
               "over all k V entries together",
    library="minis2s.decode._expand, best_n and _Beams.retire_and_keep",
    cases=_beam_cases,
    run=_beam_run,
    fields={"parents": "(k,) the slot each new live hypothesis extends, best first",
            "tokens": "(k,) the token each adds",
            "scores": "(k,) their log P (eq. 10.3), -inf for an empty slot or a done sentence",
            "finished": "the finished list: rows (score eq. 10.6, log P, length with <eos>)"},
)


_WORDS = ["a", "the", "cat", "dog", "sat", "on", "mat", "red", "big", "ran"]


def _bleu_cases(rng):
    """Corpora with repeated words (clipping matters), short hypotheses (BP < 1) and matches
    of every order (so BLEU is not 0)."""
    cases = []
    for n in (4, 6, 3):
        hyps, refs = [], []
        for i in range(n):
            ref = [str(w) for w in rng.choice(_WORDS, size=int(rng.integers(7, 12)))]
            hyp = list(ref)
            for _ in range(2):  # substitutions
                hyp[int(rng.integers(len(hyp)))] = str(rng.choice(_WORDS))
            if i % 2 == 0:  # drop a word: shorter than the reference
                del hyp[int(rng.integers(len(hyp)))]
            else:  # repeat a word: more copies than the reference holds
                j = int(rng.integers(len(hyp)))
                hyp.insert(j, hyp[j])
            del hyp[-1]
            hyps.append(" ".join(hyp))
            refs.append(" ".join(ref))
        cases.append({"hypotheses": hyps, "references": refs})
    return cases


def _bleu_run(fn, case):
    bleu, precisions, bp = fn(list(case["hypotheses"]), list(case["references"]), 4)
    return {"BLEU": bleu, "precisions": precisions, "BP": bp}


CORPUS_BLEU = OutputExercise(
    name="corpus_bleu",
    lesson="10",
    equations="eq. 10.7-10.10",
    first_step="write eq. 10.7 first: count each n-gram of the hypothesis, clipped by its count "
               "in the reference, and sum over the whole corpus",
    library="minis2s.metrics.corpus_bleu (smooth='none')",
    cases=_bleu_cases,
    run=_bleu_run,
    fields={"BLEU": "the score in percent, 0-100 (eq. 10.10)",
            "precisions": "p_1..p_4 in percent (eq. 10.8)",
            "BP": "the brevity penalty (eq. 10.9)"},
    rtol=1e-9,
)


# --------------------------------------------------------------------------- lesson 11


def _accuracy_cases(rng):
    cases = []
    for Bn, T, V in ((3, 5, 6), (4, 3, 4), (2, 6, 5)):
        logits = rng.standard_normal((Bn, T, V))
        targets = logits.argmax(axis=-1)
        wrong = rng.random((Bn, T)) < 0.4
        targets = B.host.where(wrong, (targets + 1) % V, targets)
        lengths = rng.integers(1, T + 1, size=Bn)
        lengths[0] = T
        mask = (B.host.arange(T)[None, :] < lengths[:, None]).astype("float64")
        logits[mask == 0] = 0.0
        logits[mask == 0, 0] = 5.0  # padding "predicts" token 0, the padding id: right only if counted
        cases.append({"logits": logits, "targets": B.host.where(mask > 0, targets, 0), "mask": mask})
    return cases


def _accuracy_run(fn, case):
    return {"accuracy": fn(case["logits"], case["targets"], case["mask"])}


TOKEN_ACCURACY = OutputExercise(
    name="token_accuracy",
    lesson="11",
    equations="a masked mean on the device",
    first_step="write the argmax first: pred = logits.argmax(axis=-1), compared with targets where mask is 1",
    library="the reference minis2s.exercises.references.token_accuracy",
    cases=_accuracy_cases,
    run=_accuracy_run,
    fields={"accuracy": "a 0-d array: right predictions at real positions / number of real positions"},
    strict=True,
)


# --------------------------------------------------------------------------- lesson 13


def _words(text):
    """"a b c</w>:3, ..." -> {("a", "b", "c</w>"): 3, ...}: a case written as subword-nmt prints it."""
    return {tuple(w.split()): int(n) for w, n in (item.rsplit(":", 1) for item in text.split(", "))}


# Each case is built so that a catalogued mistake gives another answer: in the first two pairs
# tie at the top, the smaller one counted first, and more words hold a wrong winner than the
# right one; in the second the pair's text ("e s") also occurs across a symbol ("t re s</w>");
# in the third the pair occurs twice in one word.
_BPE_CASES = ("l o w</w>:5, l o w e r</w>:2, n e w e s t</w>:6, w i d e s t</w>:3",
              "n e s t</w>:5, b e s s</w>:4, t re s</w>:3",
              "a b a b c</w>:3, c a b</w>:2, a b</w>:1")


def _bpe_cases(rng):
    """The three cases above, their counts scaled by one random factor (the winner is the same
    at any scale), each with a word of letters no other word has, seen once."""
    cases = []
    for text in _BPE_CASES:
        k = int(rng.integers(1, 4))
        words = {symbols: k * n for symbols, n in _words(text).items()}
        words[tuple(str(c) for c in rng.choice(list("xyz"), size=3)) + ("q</w>",)] = 1
        cases.append({"words": words})
    return cases


def _bpe_run(fn, case):
    words = case["words"]
    pair, n, merged = fn(dict(words))
    by_word = {"".join(symbols): (symbols, count) for symbols, count in merged.items()}
    found = [by_word.get("".join(symbols), (("(missing)",), 0)) for symbols in words]
    return {"pair": list(pair), "count": n, "words": [" ".join(symbols) for symbols, _ in found],
            "counts": [count for _, count in found]}


BPE_MERGE_STEP = OutputExercise(
    name="bpe_merge_step",
    lesson="13",
    equations="eq. 13.9-13.10",
    first_step="write eq. 13.9 first: count[(a, b)] += n for every adjacent (a, b) of every word, n its count",
    library="minis2s.data.bpe.merge_step",
    cases=_bpe_cases,
    run=_bpe_run,
    fields={"pair": "the merged pair (a, b), the most frequent (eq. 13.9)",
            "count": "how often the pair occurs, weighted by the words' counts (eq. 13.9)",
            "words": "each input word's symbols after the merge, in the input's order (eq. 13.10)",
            "counts": "each word's count, unchanged by the merge"},
)


# --------------------------------------------------------------------------- lesson 14


def _top_p_cases(rng):
    """Rows of random logits (shifted: scaled log-probabilities are not normalised), a row whose
    top token alone holds more than top_p, and a row whose nucleus ends on one of two tied
    tokens (p_(1) = top_p - d, p_(2) = p_(3) = 2d): the library keeps both, so three tokens."""
    np = B.host
    cases = []
    for Bn, V, top_p in ((4, 8, 0.9), (5, 6, 0.5), (3, 10, 0.75)):
        logits = 1.5 * rng.standard_normal((Bn, V)) + rng.uniform(-5.0, 5.0, size=(Bn, 1))
        d = (1.0 - top_p) / 4.0
        tied = np.full(V, d / (V - 3))  # the rest of the mass, each below 2d
        tied[:3] = (top_p - d, 2.0 * d, 2.0 * d)
        logits[1] = np.log(tied)[rng.permutation(V)] + 3.0
        logits[2] = 0.1 * rng.standard_normal(V)
        logits[2, int(rng.integers(V))] = 8.0  # this row's top token holds > 0.99
        cases.append({"scaled_logp": logits, "top_p": top_p})
    return cases


TOP_P_FILTER = OutputExercise(
    name="top_p_filter",
    lesson="14",
    equations="eq. 14.8",
    first_step="write the softmax first, p = exp(scaled_logp - row max) / its sum, then sort each row "
               "from the most likely down and take the cumulative sum",
    library="minis2s.decode.filtered_probs (top_p), renormalised",
    cases=_top_p_cases,
    run=lambda fn, case: {"probs": fn(case["scaled_logp"], case["top_p"])},
    fields={"probs": "(B, V), the nucleus's probabilities renormalised to sum to 1, 0 elsewhere"},
)


def _perplexity_cases(rng):
    """Batches of rows of different lengths (one full, one of a single token), losses around
    log 50 on real positions and larger ones on padding, as an unmasked readout leaves there."""
    np = B.host
    cases = []
    for Bn, T in ((4, 7), (3, 10), (5, 5)):
        lengths = rng.integers(2, T, size=Bn)
        lengths[0], lengths[-1] = T, 1
        mask = (np.arange(T)[None, :] < lengths[:, None]).astype("float64")
        nll = rng.gamma(4.0, 1.0, size=(Bn, T))
        nll = np.where(mask > 0, nll, nll + 5.0)
        cases.append({"token_nll": nll, "mask": mask})
    return cases


MASKED_PERPLEXITY = OutputExercise(
    name="masked_perplexity",
    lesson="14",
    equations="eq. 14.2-14.3",
    first_step="write the sum first: the total loss of the real tokens, (token_nll * mask).sum(), and "
               "their number, mask.sum()",
    library="minis2s.metrics.perplexity",
    cases=_perplexity_cases,
    run=lambda fn, case: {"perplexity": fn(case["token_nll"], case["mask"])},
    fields={"perplexity": "exp(sum of the real tokens' losses / number of real tokens), a number"},
    rtol=1e-9,
)


# --------------------------------------------------------------------------- lesson 15


_REPLY_WORDS = ["i", "don't", "know", "you", "do", "like", "it", "the", "dog", "yes", "no", "that", "is", "fun"]


def _reply(rng, lo, hi, words=_REPLY_WORDS):
    return " ".join(str(w) for w in rng.choice(words, size=int(rng.integers(lo, hi + 1))))


# without "don't": rouge-score's tokenizer splits it, and the tests compare with rouge-score
_PLAIN_WORDS = [w for w in _REPLY_WORDS if w.isalnum()]


def _distinct_cases(rng):
    """Replies of different lengths (a mean of per-reply ratios differs from the corpus ratio),
    a generic reply repeated (n-grams seen before), an empty reply and one of a single word
    (fewer tokens than n), each reply's first word also ending the reply before it (so
    n-grams that cross a boundary would be counted as new); and one set of one-word replies,
    which has no bigram at all."""
    cases = []
    for k in (5, 7):
        replies = [_reply(rng, 2, 7) for _ in range(k)]
        replies[1] = replies[3] = "i don't know"
        replies[2] = ""
        replies[-1] = str(rng.choice(_REPLY_WORDS))
        for i in range(1, len(replies)):
            if replies[i] and replies[i - 1]:
                replies[i - 1] += " " + replies[i].split()[0]
        cases.append({"replies": replies})
    cases.append({"replies": [str(w) for w in rng.choice(_REPLY_WORDS, size=4)] + [""]})
    return cases


def _distinct_run(fn, case):
    return {f"distinct-{n}": fn(list(case["replies"]), n) for n in (1, 2)}


DISTINCT_N = OutputExercise(
    name="distinct_n",
    lesson="15",
    equations="eq. 15.3",
    first_step="write the n-grams of one reply first: tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)",
    library="minis2s.metrics.distinct_n",
    cases=_distinct_cases,
    run=_distinct_run,
    fields={"distinct-1": "different unigrams / all unigrams, over all replies (eq. 15.3)",
            "distinct-2": "different bigrams / all bigrams, none crossing two replies; 0.0 without a bigram"},
    rtol=1e-12,
)


def _rouge_cases(rng):
    """Pairs of unequal lengths (precision differs from recall), with a common subsequence
    longer than any common run of adjacent tokens (a shuffled, padded copy of the reference),
    and one pair with an empty side."""
    cases = []
    for k in (4, 5):
        pairs = []
        for _ in range(k):
            ref = _reply(rng, 4, 9, _PLAIN_WORDS).split()
            hyp = [w for w in ref if rng.random() < 0.7]  # a subsequence of the reference...
            for _ in range(int(rng.integers(1, 4))):  # ...with words slipped in between
                hyp.insert(int(rng.integers(len(hyp) + 1)), str(rng.choice(_PLAIN_WORDS)))
            pairs.append((" ".join(hyp), " ".join(ref)))
        cases.append({"pairs": pairs})
    cases.append({"pairs": [("", _reply(rng, 2, 4, _PLAIN_WORDS)), (_reply(rng, 3, 5, _PLAIN_WORDS), _reply(rng, 6, 8, _PLAIN_WORDS))]})
    return cases


def _rouge_run(fn, case):
    scores = [fn(h, r) for h, r in case["pairs"]]
    return {field: [float(s[i]) for s in scores] for i, field in enumerate(("precision", "recall", "F1"))}


ROUGE_L = OutputExercise(
    name="rouge_l",
    lesson="15",
    equations="eq. 10.13-10.14",
    first_step="write eq. 10.13 first: L[i][j] = L[i-1][j-1] + 1 if a[i-1] == b[j-1] else max(L[i-1][j], L[i][j-1])",
    library="minis2s.metrics.rouge_l and metrics._lcs_length",
    cases=_rouge_cases,
    run=_rouge_run,
    fields={"precision": "per pair, LCS / hypothesis tokens (eq. 10.14)",
            "recall": "per pair, LCS / reference tokens (eq. 10.14)",
            "F1": "per pair, 2 P R / (P + R), 0 when either side is empty (eq. 10.14)"},
    rtol=1e-12,
)


OUTPUT_EXERCISES = {e.name: e for e in (STABLE_SOFTMAX, NUMERICAL_GRADIENT, GREEDY_DECODE, ADAM_STEP, DECODER_STEP_FORWARD,
                                        BEAM_SEARCH_STEP, CORPUS_BLEU, TOKEN_ACCURACY, BPE_MERGE_STEP,
                                        TOP_P_FILTER, MASKED_PERPLEXITY, DISTINCT_N, ROUGE_L)}
