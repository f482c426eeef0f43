"""Typical wrong versions of the output exercises, and the hint that names each one.

As in :mod:`.mistakes`, every entry is a complete function a learner might plausibly write:
the right one with one typical mistake, with the stub's signature. The grader
(:mod:`.output_grader`) runs each on the same cases as the learner's function; when the
learner's output equals a mistake's on every case (a mistake that raises matches the same
exception), that mistake's hint is given. The tests grade every entry and assert that its
hint comes back (``keywords``).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from .. import backend as B
from ..data.bpe import merge_pair
from ..functional import cells as C
from ..nn import attention as attn
from ..nn import cells


@dataclass(frozen=True)
class OutputMistake:
    exercise: str
    name: str
    hint: str
    keywords: tuple  # words the hint must contain, lower case (the tests check them)
    fn: Callable


MISTAKES: list[OutputMistake] = []


def mistake(exercise: str, hint: str, keywords):
    """Decorator: register a wrong function under its name."""

    def register(fn):
        MISTAKES.append(OutputMistake(exercise, fn.__name__, hint, tuple(keywords), fn))
        return fn

    return register


def for_exercise(name: str) -> list[OutputMistake]:
    return [m for m in MISTAKES if m.exercise == name]


# --------------------------------------------------------------------------- stable_softmax


@mistake("stable_softmax", "exp overflows: a row of logits near 1000 gives inf / inf = nan; subtract "
         "each row's max first, exp(x - x.max(axis=-1, keepdims=True)) (eq. 2.5)", ("overflow", "max"))
def softmax_no_shift(x):
    xp = B.get_array_module(x)
    e = xp.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


@mistake("stable_softmax", "the shift is the max of the whole array, not of each row: a row far "
         "below the largest one underflows to exp(-2000) = 0 and gives 0 / 0; use "
         "x.max(axis=-1, keepdims=True)", ("each row", "keepdims"))
def softmax_global_shift(x):
    xp = B.get_array_module(x)
    e = xp.exp(x - x.max())
    return e / e.sum(axis=-1, keepdims=True)


@mistake("stable_softmax", "the columns sum to 1, not the rows: normalise over the last axis, "
         "axis=-1 (one distribution per row)", ("rows", "axis=-1"))
def softmax_wrong_axis(x):
    xp = B.get_array_module(x)
    e = xp.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


# --------------------------------------------------------------------------- numerical_gradient


@mistake("numerical_gradient", "one-sided differences: (f(x + eps) - f(x)) / eps has an error of "
         "order eps; eq. 1.5 perturbs both ways, (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), "
         "whose error is of order eps^2", ("one-sided", "both ways"))
def ngrad_one_sided(f, x, coords, eps=1e-6):
    grads = []
    for idx in coords:
        old = float(x[idx])
        base = f()
        x[idx] = old + eps
        grads.append((f() - base) / eps)
        x[idx] = old
    return grads


@mistake("numerical_gradient", "the perturbed entry is not restored: after f(x - eps e_i), set "
         "x[idx] back to its old value before the next coordinate -- otherwise every later "
         "difference is taken at a shifted x, and x is left changed", ("restored", "old value"))
def ngrad_not_restored(f, x, coords, eps=1e-6):
    grads = []
    for idx in coords:
        old = float(x[idx])
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        grads.append((plus - minus) / (2 * eps))
    return grads


@mistake("numerical_gradient", "your differences are twice the library's: the two evaluations "
         "are 2 eps apart, so divide by 2 eps, not eps (eq. 1.5)", ("2 eps", "twice"))
def ngrad_divided_by_eps(f, x, coords, eps=1e-6):
    grads = []
    for idx in coords:
        old = float(x[idx])
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        grads.append((plus - minus) / eps)
    return grads


# --------------------------------------------------------------------------- greedy_decode


def _greedy(model, src, src_mask, sos_id, eos_id, steps, *, stop=True, feed=True):
    xp = model.xp
    memory, states = model.encode(src, src_mask)
    prev = xp.full((src.shape[0],), sos_id, dtype=src.dtype)
    done = xp.zeros((src.shape[0],), dtype=bool)
    out = []
    for _ in range(steps):
        logp, states, _ = model.decode_step(memory, states, prev)
        choice = logp.argmax(axis=-1).astype(src.dtype)
        if stop:
            choice = xp.where(done, eos_id, choice)
        done |= choice == eos_id
        out.append(choice)
        if feed:
            prev = choice
    return xp.stack(out, axis=1)


@mistake("greedy_decode", "a row goes on after its <eos>: once a row has chosen <eos>, every "
         "later column of it must be eos_id (keep a done mask, done |= choice == eos_id, and "
         "choose xp.where(done, eos_id, argmax))", ("<eos>", "done"))
def greedy_does_not_stop_rows(model, src, src_mask, sos_id, eos_id, max_len):
    return _greedy(model, src, src_mask, sos_id, eos_id, max_len, stop=False)


@mistake("greedy_decode", "the prediction is never fed back: at step t + 1 feed the token just "
         "chosen, prev = argmax of logp (eq. 6.10) -- not <sos> again, not the token fed before",
         ("fed back", "prev"))
def greedy_never_feeds_prediction(model, src, src_mask, sos_id, eos_id, max_len):
    return _greedy(model, src, src_mask, sos_id, eos_id, max_len, feed=False)


@mistake("greedy_decode", "one column short: the loop runs max_len - 1 steps; <sos> is fed, not "
         "returned, so all max_len steps produce a column (for t in range(max_len))",
         ("max_len", "column"))
def greedy_one_step_short(model, src, src_mask, sos_id, eos_id, max_len):
    return _greedy(model, src, src_mask, sos_id, eos_id, max_len - 1)


# --------------------------------------------------------------------------- adam_step


def _adam(p, g, m, v, t, lr, beta1, beta2, eps, *, correct=True, t0=False, eps_inside=False, square=True):
    xp = B.get_array_module(p)
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * (g * g if square else g)
    n = t - 1 if t0 else t
    m_hat = m / (1 - beta1**n) if correct else m
    v_hat = v / (1 - beta2**n) if correct else v
    denom = xp.sqrt(v_hat + eps) if eps_inside else xp.sqrt(v_hat) + eps
    return p - lr * m_hat / denom, m, v


@mistake("adam_step", "no bias correction: m and v (the lesson's nu) start at 0, so early on they are too small by "
         "the factors 1 - beta1^t and 1 - beta2^t; divide by them (eq. 7.5)",
         ("bias correction", "1 - beta1^t"))
def adam_no_bias_correction(p, g, m, v, t, lr, beta1, beta2, eps):
    return _adam(p, g, m, v, t, lr, beta1, beta2, eps, correct=False)


@mistake("adam_step", "the bias correction counts from 0: t is 1 on the first step, so the first "
         "correction is 1 - beta1^1, not 1 - beta1^0 = 0 (your first step divides by zero)",
         ("t is 1", "first step"))
def adam_t_from_zero(p, g, m, v, t, lr, beta1, beta2, eps):
    return _adam(p, g, m, v, t, lr, beta1, beta2, eps, t0=True)


@mistake("adam_step", "eps is inside the square root: eq. 7.5 adds it after, "
         "sqrt(v / (1 - beta2^t)) + eps", ("eps", "square root"))
def adam_eps_inside_sqrt(p, g, m, v, t, lr, beta1, beta2, eps):
    return _adam(p, g, m, v, t, lr, beta1, beta2, eps, eps_inside=True)


@mistake("adam_step", "v averages g, not g^2: eq. 7.4 is v = beta2 v + (1 - beta2) g^2, the "
         "second moment nu (its square root is the gradient's scale)", ("g^2", "second moment"))
def adam_v_with_g(p, g, m, v, t, lr, beta1, beta2, eps):
    return _adam(p, g, m, v, t, lr, beta1, beta2, eps, square=False)


# --------------------------------------------------------------------------- decoder_step_forward


def _decoder_step(params, cfg, memory, states, e, *, query="s_prev", feed=True, order=("s", "c", "e")):
    xp = B.get_array_module(e)
    s_prev, c_prev = states[0]
    q = c_prev if query == "c_prev" else s_prev
    (ctx, w), _ = attn.step_forward(cfg.attention, params, q, memory.keys, memory.values, memory.mask)
    x = xp.concatenate([e, ctx], axis=1) if feed else e
    (h, c), _ = C.step_forward(cfg.cell, x, states[0], cells.weights(params, "dec.l0."))
    if query == "s_t":  # attend again with the new state, for the readout and the weights
        (ctx, w), _ = attn.step_forward(cfg.attention, params, h, memory.keys, memory.values, memory.mask)
    parts = {"s": h, "c": ctx, "e": e}
    return xp.concatenate([parts[p] for p in order], axis=1), [(h, c)], w


@mistake("decoder_step_forward", "your attention weights are those of the query s_t, the state after "
         "the step: the query is s_{t-1} = states[0][0], the state before it (eq. 8.1), and the "
         "context it gives is used both in the cell's input and in zeta_t", ("s_{t-1}", "query"))
def decoder_query_s_t(params, cfg, memory, states, e):
    return _decoder_step(params, cfg, memory, states, e, query="s_t")


@mistake("decoder_step_forward", "the query is the LSTM's cell state c_{t-1}: the query is the "
         "hidden state s_{t-1} = h_{t-1}, states[0][0], not states[0][1]", ("cell state", "h_{t-1}"))
def decoder_query_cell_state(params, cfg, memory, states, e):
    return _decoder_step(params, cfg, memory, states, e, query="c_prev")


@mistake("decoder_step_forward", "the context is missing from the cell's input: with input "
         "feeding the cell reads x = [e_t; ctx_t], (B, D + Henc), which is what its Wx expects",
         ("input feeding", "[e_t; ctx_t]"))
def decoder_context_not_fed(params, cfg, memory, states, e):
    return _decoder_step(params, cfg, memory, states, e, feed=False)


@mistake("decoder_step_forward", "z is concatenated in the wrong order: the readout reads "
         "zeta_t = [s_t; ctx_t; e_t], state first, then the context, then the embedding",
         ("order", "[s_t; ctx_t; e_t]"))
def decoder_z_order(params, cfg, memory, states, e):
    return _decoder_step(params, cfg, memory, states, e, order=("s", "e", "c"))


# --------------------------------------------------------------------------- beam_search_step


def _lp(length, alpha):
    return ((5.0 + length) / 6.0) ** alpha


def _beam_step(scores, logp, finished, t, eos_id, alpha, *, per_slot=False, penalty=True, retire=True):
    np = B.host
    k, V = logp.shape
    cand = (np.asarray(scores)[:, None] + logp).reshape(-1)
    order = sorted(range(k * V), key=lambda i: (-cand[i], i))
    if per_slot:  # each live slot keeps only its own best token
        order = sorted((j * V + int(logp[j].argmax()) for j in range(k) if np.isfinite(scores[j])),
                       key=lambda i: (-cand[i], i))
    parents, tokens, new = np.zeros(k, dtype=np.int64), np.full(k, eos_id, dtype=np.int64), np.full(k, -np.inf)
    finished = list(finished)
    j = 0
    for r, i in enumerate(order):
        if not np.isfinite(cand[i]):
            break
        if i % V == eos_id and retire:
            if r < k:
                n = t + 1
                finished.append((cand[i] / (_lp(n, alpha) if penalty else 1.0), cand[i], n))
            continue
        parents[j], tokens[j], new[j] = i // V, i % V, cand[i]
        j += 1
        if j == k:
            break
    if len(finished) >= k:
        new[:] = -np.inf
    return parents, tokens, new, finished


@mistake("beam_search_step", "each slot is extended by its own best token: the k best are taken "
         "over all k V extensions together (eq. 10.4), so one slot can have several children "
         "and another none", ("all k v", "children"))
def beam_top_k_per_slot(scores, logp, finished, t, eos_id, alpha):
    return _beam_step(scores, logp, finished, t, eos_id, alpha, per_slot=True)


@mistake("beam_search_step", "no length penalty: a finished hypothesis is scored by eq. 10.6, "
         "log P / lp with lp = ((5 + length) / 6)^alpha (eq. 10.5), so that longer ones are not "
         "always beaten by short ones", ("length penalty", "10.5"))
def beam_no_length_penalty(scores, logp, finished, t, eos_id, alpha):
    return _beam_step(scores, logp, finished, t, eos_id, alpha, penalty=False)


@mistake("beam_search_step", "an <eos> extension is kept alive as a live hypothesis: among the k "
         "best, one that ends in <eos> is set aside in finished and takes no live slot; the next "
         "best extension takes its place", ("<eos>", "set aside"))
def beam_keeps_eos_alive(scores, logp, finished, t, eos_id, alpha):
    return _beam_step(scores, logp, finished, t, eos_id, alpha, retire=False)


# --------------------------------------------------------------------------- corpus_bleu


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _stats(hyps, refs, max_n, *, clip=True):
    matches, totals, c, r = [0] * max_n, [0] * max_n, 0, 0
    for hyp, ref in zip(hyps, refs):
        h, rf = hyp.split(), ref.split()
        c, r = c + len(h), r + len(rf)
        for n in range(1, max_n + 1):
            hc, rc = _ngrams(h, n), _ngrams(rf, n)
            matches[n - 1] += sum(min(k, rc[g]) if clip else k * (g in rc) for g, k in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    return matches, totals, c, r


def _bleu(matches, totals, c, r, *, swap=False):
    precisions = [100.0 * m / t if t else 0.0 for m, t in zip(matches, totals)]
    if c < r:
        bp = math.exp(1 - c / r) if swap else math.exp(1 - r / c)
    else:
        bp = 1.0
    if min(matches) == 0:
        return 0.0, precisions, bp
    log_mean = sum(math.log(m / t) for m, t in zip(matches, totals)) / len(matches)
    return 100.0 * bp * math.exp(log_mean), precisions, bp


@mistake("corpus_bleu", "your score is the mean of sentence BLEUs: sum the clipped matches and "
         "the n-gram counts over the whole corpus first, then divide (eq. 10.8), and take BP "
         "from the total lengths (eq. 10.9)", ("mean of sentence", "whole corpus"))
def bleu_mean_of_sentences(hypotheses, references, max_n=4):
    scores = [_bleu(*_stats([h], [r], max_n)) for h, r in zip(hypotheses, references)]
    corpus = _bleu(*_stats(hypotheses, references, max_n))
    return sum(s[0] for s in scores) / len(scores), corpus[1], corpus[2]


@mistake("corpus_bleu", "the n-gram counts are not clipped: a hypothesis n-gram is credited at "
         "most as often as it occurs in the reference, min(count_y^, count_y) (eq. 10.7)",
         ("clipped", "min(count_y^, count_y)"))
def bleu_unclipped(hypotheses, references, max_n=4):
    return _bleu(*_stats(hypotheses, references, max_n, clip=False))


@mistake("corpus_bleu", "the brevity penalty has r and c swapped: with c the hypothesis length "
         "and r the reference length, BP = exp(1 - r / c) when c < r, which is below 1 (eq. 10.9)",
         ("brevity penalty", "exp(1 - r / c)"))
def bleu_bp_swapped(hypotheses, references, max_n=4):
    return _bleu(*_stats(hypotheses, references, max_n), swap=True)


# --------------------------------------------------------------------------- token_accuracy


@mistake("token_accuracy", "padding is counted: only positions with mask 1 are tokens; multiply "
         "the matches by the mask and divide by mask.sum(), not by B T", ("mask", "padding"))
def accuracy_counts_padding(logits, targets, mask):
    return (logits.argmax(axis=-1) == targets).mean()


@mistake("token_accuracy", "the matches are not restricted to real tokens: a padded position "
         "whose argmax equals its target (0) counts as right; multiply by the mask before summing",
         ("multiply by the mask", "padded"))
def accuracy_unmasked_matches(logits, targets, mask):
    return (logits.argmax(axis=-1) == targets).sum() / mask.sum()


# --------------------------------------------------------------------------- bpe_merge_step


def _bpe_step(words, *, weighted=True, first_found=False, by_text=False):
    count = {}
    for symbols, n in words.items():
        for a, b in itertools.pairwise(symbols):
            count[(a, b)] = count.get((a, b), 0) + (n if weighted else 1)
    if first_found:
        best = max(count, key=count.get)  # the first pair counted among the most frequent
    else:
        best = max(count, key=lambda pair: (count[pair], pair))
    if by_text:
        merged = {tuple(" ".join(s).replace(" ".join(best), "".join(best)).split()): n for s, n in words.items()}
    else:
        merged = {merge_pair(s, best): n for s, n in words.items()}
    return best, count[best], merged


@mistake("bpe_merge_step", "the pairs are counted once per word: a pair in a word that occurs n "
         "times occurs n times in the corpus, so add the word's count n, not 1 (eq. 13.9)",
         ("word's count", "not 1"))
def bpe_unweighted_counts(words):
    return _bpe_step(words, weighted=False)


@mistake("bpe_merge_step", "a tie went to the pair counted first: max(count, key=count.get) keeps "
         "dictionary order; the rule (and subword-nmt) takes the larger pair, "
         "max(count, key=lambda p: (count[p], p))", ("tie", "larger pair"))
def bpe_tie_to_first_found(words):
    return _bpe_step(words, first_found=True)


@mistake("bpe_merge_step", "the merge replaced text, not symbols: 'e s' also occurs inside "
         "'t re s</w>', across the symbol 're', which must stay whole; merge two adjacent symbols "
         "equal to the pair, walking the tuple left to right (eq. 13.10)",
         ("symbols", "adjacent"))
def bpe_merge_by_text(words):
    return _bpe_step(words, by_text=True)


# --------------------------------------------------------------------------- top_p_filter


def _nucleus(scaled_logp, top_p, *, before=True, descending=True, by_position=False, renormalise=True):
    """The learner's usual route: softmax, sort, cumulative sum, keep, scatter back."""
    xp = B.get_array_module(scaled_logp)
    e = xp.exp(scaled_logp - scaled_logp.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    order = xp.argsort(-p if descending else p, axis=1)
    sorted_p = xp.take_along_axis(p, order, axis=1)
    cum = xp.cumsum(sorted_p, axis=1)
    if before:  # keep a token while the mass before it is below top_p
        keep_sorted = cum - sorted_p < top_p
    else:  # keep a token while the mass up to it stays within top_p, and the top one always
        keep_sorted = cum <= top_p
        keep_sorted[:, 0] = True
    if by_position:  # exactly the n tokens argsort put first
        keep = xp.zeros_like(keep_sorted)
        xp.put_along_axis(keep, order, keep_sorted, axis=1)
    else:  # every token at least as likely as the last one kept
        n = keep_sorted.sum(axis=1, keepdims=True)
        keep = p >= xp.take_along_axis(sorted_p, n - 1, axis=1)
    p = xp.where(keep, p, 0.0)
    return p / p.sum(axis=1, keepdims=True) if renormalise else p


@mistake("top_p_filter", "the nucleus stopped one token early: keeping the tokens whose cumulative "
         "mass stays <= top_p leaves out the token that brings the mass to top_p; keep a token while "
         "the mass before it is still below top_p (eq. 14.8)", ("one token early", "before it"))
def top_p_stops_one_early(scaled_logp, top_p):
    return _nucleus(scaled_logp, top_p, before=False)


@mistake("top_p_filter", "the rows do not sum to 1: the probabilities outside the nucleus were set "
         "to 0 but the kept ones were not renormalised; divide by the kept mass, "
         "p / p.sum(axis=1, keepdims=True)", ("renormalised", "sum to 1"))
def top_p_not_renormalised(scaled_logp, top_p):
    return _nucleus(scaled_logp, top_p, renormalise=False)


@mistake("top_p_filter", "the cumulative sum ran from the least likely token up (argsort and sort are "
         "ascending): the nucleus must hold the most likely tokens; sort descending, e.g. "
         "xp.argsort(-p, axis=1)", ("ascending", "most likely"))
def top_p_sorted_ascending(scaled_logp, top_p):
    return _nucleus(scaled_logp, top_p, descending=False)


@mistake("top_p_filter", "a token tied with the last one of the nucleus was dropped: keeping the first "
         "n positions of argsort picks one of two equal probabilities arbitrarily; keep every token with "
         "p >= p_(n), the smallest probability kept, as the library does", ("tied", "p >= p_(n)"))
def top_p_drops_ties(scaled_logp, top_p):
    return _nucleus(scaled_logp, top_p, by_position=True)


# --------------------------------------------------------------------------- masked_perplexity


@mistake("masked_perplexity", "the mean ran over all B T positions: the padding is masked out of the sum "
         "but still counted in the number of tokens, which lowers the loss; divide by mask.sum(), the "
         "real tokens only (eq. 14.2)", ("mask.sum()", "real tokens"))
def perplexity_over_all_positions(token_nll, mask):
    return math.exp(float((token_nll * mask).sum()) / mask.size)


@mistake("masked_perplexity", "the padded positions' losses were summed in: a readout computes a loss "
         "at every position, padding included; multiply by the mask before summing",
         ("multiply by the mask", "padded"))
def perplexity_unmasked_sum(token_nll, mask):
    return math.exp(float(token_nll.sum()) / float(mask.sum()))


@mistake("masked_perplexity", "the rows' mean losses were averaged: that gives a one-token sentence "
         "the weight of a long one; perplexity is over tokens, so sum every real token's loss and divide "
         "once by the number of real tokens (eq. 14.3)", ("weight", "divide once"))
def perplexity_mean_of_row_means(token_nll, mask):
    rows = (token_nll * mask).sum(axis=1) / mask.sum(axis=1)
    return math.exp(float(rows.mean()))


# --------------------------------------------------------------------------- distinct_n


def _reply_ngrams(reply, n):
    tokens = reply.split()
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


@mistake("distinct_n", "your score is the mean of per-reply ratios: distinct-n is one ratio for the "
         "whole set, the different n-grams of ALL replies over all their n-grams (eq. 15.3); a "
         "reply repeated word for word must lower it, and a per-reply ratio never sees the repeat",
         ("one ratio", "all replies"))
def distinct_mean_per_reply(replies, n):
    ratios = [len(set(g)) / len(g) for g in (_reply_ngrams(r, n) for r in replies) if g]
    return sum(ratios) / len(ratios) if ratios else 0.0


@mistake("distinct_n", "n-grams cross reply boundaries: the replies were joined into one token "
         "list first, which invents n-grams made of one reply's end and the next one's start; "
         "take the n-grams of each reply on its own", ("boundaries", "each reply"))
def distinct_across_replies(replies, n):
    tokens = " ".join(replies).split()
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@mistake("distinct_n", "the denominator counts tokens, not n-grams: a reply of L tokens has "
         "L - n + 1 n-grams (none if L < n), so for n = 2 divide by the number of bigrams",
         ("tokens, not n-grams", "l - n + 1"))
def distinct_over_tokens(replies, n):
    grams = [g for r in replies for g in _reply_ngrams(r, n)]
    tokens = sum(len(r.split()) for r in replies)
    return len(set(grams)) / tokens if grams else 0.0


@mistake("distinct_n", "replies without a single n-gram divide 0 by 0: when the replies hold no "
         "n-gram at all (every reply shorter than n), distinct-n is 0.0, as in the library",
         ("0 by 0", "0.0"))
def distinct_zero_division(replies, n):
    grams = [g for r in replies for g in _reply_ngrams(r, n)]
    return len(set(grams)) / len(grams)


# --------------------------------------------------------------------------- rouge_l


def _lcs(a, b, *, contiguous=False):
    """The longest common subsequence of a and b, or with ``contiguous`` the longest common
    run of adjacent tokens (a substring)."""
    prev, best = [0] * (len(b) + 1), 0
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            if contiguous:
                row.append(prev[j] + 1 if x == y else 0)
            else:
                row.append(prev[j] + 1 if x == y else max(prev[j + 1], row[j]))
        best = max(best, max(row))
        prev = row
    return best if contiguous else prev[-1]


def _rouge(hypothesis, reference, *, contiguous=False, swap=False, mean=False, guard=True):
    hyp, ref = hypothesis.split(), reference.split()
    if guard and (not hyp or not ref):
        return 0.0, 0.0, 0.0
    lcs = _lcs(ref, hyp, contiguous=contiguous)
    precision, recall = lcs / len(hyp), lcs / len(ref)
    if swap:
        precision, recall = recall, precision
    if mean:
        return precision, recall, (precision + recall) / 2
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


@mistake("rouge_l", "precision and recall are swapped: precision divides the LCS by the "
         "HYPOTHESIS length (how much of the reply is matched), recall by the reference length "
         "(eq. 10.14)", ("swapped", "hypothesis length"))
def rouge_precision_recall_swapped(hypothesis, reference):
    return _rouge(hypothesis, reference, swap=True)


@mistake("rouge_l", "your LCS is the longest common run of ADJACENT tokens (a substring): a "
         "subsequence keeps the order but may skip tokens, so on a mismatch take "
         "max(L[i-1][j], L[i][j-1]) instead of starting again from 0 (eq. 10.13)",
         ("subsequence", "skip"))
def rouge_contiguous_substring(hypothesis, reference):
    return _rouge(hypothesis, reference, contiguous=True)


@mistake("rouge_l", "F1 is the arithmetic mean (P + R) / 2: ROUGE-L's F is the harmonic mean "
         "2 P R / (P + R) (eq. 10.14), which stays low when either one is low",
         ("harmonic", "2 p r / (p + r)"))
def rouge_arithmetic_mean(hypothesis, reference):
    return _rouge(hypothesis, reference, mean=True)


@mistake("rouge_l", "an empty side divides by zero: when the hypothesis or the reference has no "
         "token, precision, recall and F1 are all 0.0", ("empty", "0.0"))
def rouge_empty_divides_by_zero(hypothesis, reference):
    return _rouge(hypothesis, reference, guard=False)
