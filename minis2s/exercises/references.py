"""Reference solutions of the exercises checked by their output (:mod:`.outputs`).

Each is the library's own function, called through the stub's signature where the library's
interface is wider (``decode.greedy`` returns stripped lists of ids and takes a batch of
sentences; the exercise asks for a padded (B, max_len) array). Nothing here re-implements
what the library does: the output exercises are graded against the code the models run.
The one exception is :func:`token_accuracy` (lesson 11), a small device op the library itself
has no use for; it is written here, the way the library writes device code.
"""

from __future__ import annotations

from .. import backend as B
from .. import decode as D
from .. import metrics
from ..data import bpe
from ..functional import activations
from ..gradcheck import numerical_gradient
from ..nn import decoder as dec
from ..optim import Adam

__all__ = ["stable_softmax", "numerical_gradient", "greedy_decode", "adam_step", "decoder_step_forward",
           "beam_search_step", "corpus_bleu", "token_accuracy", "bpe_merge_step", "top_p_filter",
           "masked_perplexity", "distinct_n", "rouge_l"]


def stable_softmax(x):
    """:func:`minis2s.functional.activations.softmax` over the last axis."""
    return activations.softmax(x, axis=-1)


def greedy_decode(model, src, src_mask, sos_id, eos_id, max_len):
    """:func:`minis2s.decode.greedy` with its output padded back to (B, max_len) with <eos>."""
    out = D.greedy(model, src, src_mask, sos_id, eos_id, max_len=max_len)
    ids = B.host.full((len(out.ids), max_len), eos_id, dtype=B.host.int64)
    for b, row in enumerate(out.ids):
        ids[b, : len(row)] = row
    return ids


def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """One step of :class:`minis2s.optim.Adam`, restarted from the state (m, v, t - 1)."""
    np = B.host
    p = np.array(p, dtype="float64")
    opt = Adam({"p": p}, lr=lr, betas=(beta1, beta2), eps=eps)
    opt.load_state_dict({"step": np.asarray(t - 1), "lr": np.asarray(lr), "m/p": np.asarray(m),
                         "v/p": np.asarray(v)})
    opt.step({"p": np.asarray(g, dtype="float64")})
    return p, opt.m["p"], opt.v["p"]


def decoder_step_forward(params, cfg, memory, states, e):
    """:func:`minis2s.nn.decoder.step_forward` without its cache (and without dropout)."""
    (z, new_states, weights), _ = dec.step_forward(params, cfg, memory, states, e)
    return z, new_states, weights


def beam_search_step(scores, logp, finished, t, eos_id, alpha):
    """One step of :func:`minis2s.decode.beam_search` for one sentence: the library's
    ``_expand``, ``best_n`` and ``_Beams.retire_and_keep``, on a ``_Beams`` of one sentence."""
    np = B.host
    k, V = logp.shape
    beams = D._Beams(1, k, eos_id, alpha)
    beams.scores = np.asarray(scores, dtype="float64").reshape(1, k).copy()
    # t earlier steps, so that a hypothesis finishing now has t tokens before its <eos>
    beams.back = [np.zeros((1, k), dtype=np.int64) for _ in range(t)]
    beams.toks = [np.zeros((1, k), dtype=np.int64) for _ in range(t)]
    beams.finished = [[(s, raw, [0] * (n - 1)) for s, raw, n in finished]]
    beams.done[0] = len(finished) >= k
    cand = D._expand(beams.scores, np.asarray(logp, dtype="float64"))
    top, top_scores = D.best_n(cand, min(2 * k, k * V))
    beams.retire_and_keep(t, top // V, top % V, top_scores)
    finished = [(s, raw, len(seq) + 1) for s, raw, seq in beams.finished[0]]
    return beams.back[-1][0], beams.toks[-1][0], beams.scores[0], finished


def corpus_bleu(hypotheses, references, max_n=4):
    """:func:`minis2s.metrics.corpus_bleu` without smoothing: (BLEU, precisions, BP)."""
    bleu = metrics.corpus_bleu(hypotheses, references, max_order=max_n, smooth="none")
    return bleu.score, bleu.precisions, bleu.bp


def token_accuracy(logits, targets, mask):
    """The share of real positions whose argmax is the target, as a 0-d device array.

    logits: (B, T, V), targets: (B, T) ids, mask: (B, T) 1.0 on real tokens. Nothing is read
    back to the host: the division is done on the device, so a training loop can add it to a
    running total and synchronise once per logging window (lesson 11).
    """
    xp = B.get_array_module(logits)
    right = (logits.argmax(axis=-1) == targets) * mask
    return right.sum() / xp.maximum(mask.sum(), 1.0)  # max(., 1): an all-padding batch gives 0, not nan


def bpe_merge_step(words):
    """:func:`minis2s.data.bpe.merge_step`: (pair, its count, the words after the merge)."""
    return bpe.merge_step(words)


def top_p_filter(scaled_logp, top_p):
    """:func:`minis2s.decode.filtered_probs` with ``top_p``, renormalised (the sampler
    normalises inside its inverse-CDF draw instead)."""
    p = D.filtered_probs(scaled_logp, top_p=top_p)
    return p / p.sum(axis=1, keepdims=True)


def masked_perplexity(token_nll, mask):
    """:func:`minis2s.metrics.perplexity` of the real tokens' summed loss and their number."""
    return metrics.perplexity(float((token_nll * mask).sum()), int(mask.sum()))


def distinct_n(replies, n):
    """:func:`minis2s.metrics.distinct_n`."""
    return metrics.distinct_n(replies, n)


def rouge_l(hypothesis, reference):
    """:func:`minis2s.metrics.rouge_l`: (precision, recall, F1)."""
    return metrics.rouge_l(hypothesis, reference)
