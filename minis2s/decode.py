"""Decoding: greedy search (lesson 06), beam search and sampling (lesson 10).

All decoders work on a batch at once and stop early when every sentence has emitted <eos>.
They return host lists of token ids (without <sos>/<eos>) and, where useful, scores.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import backend as B


@dataclass
class Decoded:
    """ids: per sentence, token ids without specials; scores: per sentence, the sum of
    log-probabilities of the tokens chosen (incl. <eos>); attention: per sentence (T, S) weights
    or None."""

    ids: list
    scores: list
    attention: list | None = None


def max_target_length(src_mask, ratio: float = 2.0, extra: int = 10) -> int:
    """The longest output allowed: ``ratio * longest source + extra`` tokens."""
    return max_target_length_for(src_mask.shape[1], ratio, extra)


def max_target_length_for(src_len: int, ratio: float = 2.0, extra: int = 10) -> int:
    """:func:`max_target_length` for sources of ``src_len`` positions."""
    return int(ratio * src_len + extra)


def _length_limit(model, max_len: int) -> int:
    """At most the positions a model can embed (a Transformer's learned table; None: any)."""
    limit = getattr(model, "max_target_len", None)
    return max_len if limit is None else min(max_len, limit)


def greedy(model, src, src_mask, sos_id: int, eos_id: int, max_len: int | None = None,
           return_attention: bool = False) -> Decoded:
    """Feed back the argmax at every step (eq. 6.10). src: (B, S) device ids, src_mask: (B, S)."""
    return _one_token_at_a_time(model, src, src_mask, sos_id, eos_id, max_len,
                                lambda logp: logp.argmax(axis=-1), return_attention)


def _one_token_at_a_time(model, src, src_mask, sos_id, eos_id, max_len, choose, return_attention=False):
    """The loop greedy search and sampling share: ``choose(log_probs (N, V)) -> (N,)`` picks
    each live sentence's next token; a finished sentence emits <eos> at no cost until the
    next check, where it leaves the batch (unless attention is returned, which keeps all rows)."""
    xp = model.xp
    max_len = _length_limit(model, max_len or max_target_length(src_mask))
    memory, states = model.encode(src, src_mask)
    Bsz = src.shape[0]
    live = xp.arange(Bsz)  # the batch rows still decoding
    prev = xp.full((Bsz,), sos_id, dtype=src.dtype)
    out = xp.full((Bsz, max_len), eos_id, dtype=src.dtype)
    score = xp.zeros((Bsz,), dtype=memory.values.dtype)
    done = xp.zeros((Bsz,), dtype=bool)
    weights = []
    for t in range(max_len):
        logp, states, w = model.decode_step(memory, states, prev)
        prev = xp.where(done, eos_id, choose(logp).astype(src.dtype))
        score[live] += xp.where(done, 0.0, xp.take_along_axis(logp, prev[:, None], axis=1)[:, 0])
        out[live, t] = prev
        done |= prev == eos_id
        if return_attention and w is not None:
            weights.append(w)
        # one small sync every few steps: stop when all are done, else drop the finished rows
        # (the readout over the vocabulary is most of a step; finished rows would only pad it)
        if t % 8 == 7:
            finished = B.to_host(done)
            if finished.all():
                out = out[:, : t + 1]
                break
            if finished.any() and not return_attention:
                keep = B.to_device_like(B.host.flatnonzero(~finished), live)
                live, prev, done = live[keep], prev[keep], done[keep]
                memory = memory.select(keep)
                states = [tuple(s[keep] for s in layer) for layer in states]
    ids = _strip(B.to_host(out), eos_id)
    att = None
    if return_attention and weights:
        W = B.to_host(xp.stack(weights, axis=1))
        att = [W[b, : len(ids[b]) + 1] for b in range(Bsz)]
    return Decoded(ids, B.to_host(score).tolist(), att)


def _strip(out, eos_id) -> list:
    ids = []
    for row in out.tolist():
        ids.append(row[: row.index(eos_id)] if eos_id in row else row)
    return ids


# --------------------------------------------------------------------------- beam search


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty lp(y^) = ((5 + |y^|) / 6)^alpha (Wu et al., 2016; eq. 10.5, where
    alpha is written omega). Hypotheses y^ are ranked by log P(y^ | x) / lp(y^): alpha = 0 is
    plain log-probability, larger alpha favours longer outputs."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(model, src, src_mask, sos_id: int, eos_id: int, beam: int = 5, alpha: float = 0.6,
                max_len: int | None = None) -> Decoded:
    """Batched beam search: every sentence of the batch keeps ``beam`` live hypotheses.

    Each step scores all ``beam x V`` one-token extensions of a sentence and keeps the best;
    an extension that ends in <eos> is set aside as finished (scored with the length penalty)
    instead of taking a live slot. A sentence is done when it has ``beam`` finished
    hypotheses; at ``max_len`` its live ones count as finished. Returns the best finished
    hypothesis per sentence; ``scores`` are their raw log-probabilities.
    """
    xp = model.xp
    max_len = _length_limit(model, max_len or max_target_length(src_mask))
    Bsz, k = src.shape[0], beam
    memory, states = model.encode(src, src_mask)
    rows = xp.repeat(xp.arange(Bsz), k)  # row b k + j of the decoder's batch: sentence b's slot j
    memory = memory.select(rows)
    states = [tuple(s[rows] for s in layer) for layer in states]
    prev = xp.full((Bsz * k,), sos_id, dtype=src.dtype)
    beams = _Beams(Bsz, k, eos_id, alpha)
    for t in range(max_len):
        logp, states, _ = model.decode_step(memory, states, prev)
        V = logp.shape[1]
        cand = _expand(beams.scores[beams.alive], logp)  # eq. 10.3 for every slot and token
        top, top_scores = best_n(cand, min(2 * k, k * V))  # the 2k best, on the host
        beams.retire_and_keep(t, top // V, top % V, top_scores)  # eq. 10.4, <eos> set aside
        if beams.done.all():
            break
        keep = beams.leave_done()  # the rows of this step's batch whose sentence goes on
        memory, states = _compact(memory, states, keep, beams.back[-1][beams.alive], rows)
        prev = B.to_device_like(beams.toks[-1][beams.alive].reshape(-1), prev)
    return beams.best()


def _expand(scores, logp):
    """Eq. 10.3 for every live hypothesis and every token: log P(y^ y | x) = log P(y^ | x) +
    log p(y | y^, x). scores: host (A, k), log P(y^ | x) of sentence a's slot j, -inf for an
    empty slot; logp: (A k, V) on the device, row a k + j. Returns (A, k V) on the device,
    column j V + y the extension of slot j by token y."""
    A, k = scores.shape
    V = logp.shape[1]
    return (B.to_device_like(scores, logp).reshape(A, k, 1) + logp.reshape(A, k, V)).reshape(A, k * V)


class _Beams:
    """Beam search's bookkeeping on the host, for B sentences of k live slots each.

    scores (B, k): log P(y^ | x) of each live hypothesis y^ (eq. 10.2), -inf for an empty slot or
    a done sentence; back, toks: per step (B, k), the slot each live hypothesis extended and
    the token it added (a hypothesis's tokens are read back through them); finished: per
    sentence, its (score eq. 10.6, log P, tokens); done (B,): k finished hypotheses; alive:
    the sentences still searching, in the order of the decoder's batch.
    """

    def __init__(self, Bsz: int, k: int, eos_id: int, alpha: float):
        np = B.host
        self.k, self.eos_id, self.alpha = k, eos_id, alpha
        self.scores = np.full((Bsz, k), -np.inf)
        self.scores[:, 0] = 0.0  # all beams start identical: expand only the first
        self.back, self.toks = [], []
        self.finished = [[] for _ in range(Bsz)]
        self.done = np.zeros(Bsz, dtype=bool)
        self.alive = np.arange(Bsz)

    def retire_and_keep(self, t: int, src_beam, tok, top_scores) -> None:
        """Step t's choice for every sentence still searching (eq. 10.4). src_beam, tok,
        top_scores: host (A, n), its n best extensions, best first: the slot each extends, the
        token, log P. Of those, one ending in <eos> among the best k retires as finished; the
        first k others fill the live slots. A sentence with k finished hypotheses is done."""
        np, k = B.host, self.k
        live_beam = np.zeros(self.scores.shape, dtype=np.int64)
        live_tok = np.full(self.scores.shape, self.eos_id, dtype=np.int64)
        live_score = np.full(self.scores.shape, -np.inf)
        for i, b in enumerate(self.alive.tolist()):  # i: row of this step's batch, b: sentence
            j_live = 0
            for r in range(top_scores.shape[1]):
                if not np.isfinite(top_scores[i, r]):
                    break
                if tok[i, r] == self.eos_id:
                    if r < k:  # an <eos> among the best k extensions finishes a hypothesis
                        seq = self.tokens_of(t - 1, b, src_beam[i, r]) if t > 0 else []
                        self.finish(b, float(top_scores[i, r]), seq, len(seq) + 1)
                    continue
                live_beam[b, j_live], live_tok[b, j_live] = src_beam[i, r], tok[i, r]
                live_score[b, j_live] = top_scores[i, r]
                j_live += 1
                if j_live == k:
                    break
            if len(self.finished[b]) >= k:
                self.done[b] = True
        self.back.append(live_beam)
        self.toks.append(live_tok)
        self.scores = np.where(self.done[:, None], -np.inf, live_score)

    def tokens_of(self, t: int, b: int, j: int) -> list:
        """The tokens of sentence b's hypothesis in slot j after step t, read back through ``back``."""
        out = []
        for step in range(t, -1, -1):
            out.append(int(self.toks[step][b, j]))
            j = self.back[step][b, j]
        return out[::-1]

    def finish(self, b: int, raw: float, seq: list, length: int) -> None:
        """Set a hypothesis of sentence b aside as finished: log P ``raw``, ``length`` tokens."""
        self.finished[b].append((raw / length_penalty(length, self.alpha), raw, seq))

    def leave_done(self):
        """Take the done sentences out of ``alive``; returns the rows of this step's batch that stay."""
        keep = B.host.flatnonzero(~self.done[self.alive])
        self.alive = self.alive[keep]
        return keep

    def best(self) -> Decoded:
        """Each sentence's best finished hypothesis by eq. 10.6; a sentence out of length first
        retires its live hypotheses as they are."""
        np, last = B.host, len(self.toks) - 1
        for b in range(len(self.done)):
            if not self.done[b]:
                for j in range(self.k):
                    if np.isfinite(self.scores[b, j]):
                        seq = self.tokens_of(last, b, j)
                        self.finish(b, float(self.scores[b, j]), seq, len(seq))
        best = [max(f, key=lambda h: h[0]) if f else (0.0, 0.0, []) for f in self.finished]
        return Decoded([h[2] for h in best], [h[1] for h in best])


def _compact(memory, states, keep, parents, like):
    """The decoder's batch for the next step: each live hypothesis continues from the state of
    the slot it extended, and the sentences that are done leave. keep: host (A,), the rows of
    this step's batch whose sentence goes on; parents: host (A, k), the slot each live
    hypothesis extended; like: a device index array (the indices are made like it)."""
    np, k = B.host, parents.shape[1]
    pick = B.to_device_like((keep[:, None] * k + parents).reshape(-1), like)
    shrinks = len(pick) < len(states[0][0])  # a sentence is done: its copies of the source go too
    states = [tuple(s[pick] for s in layer) for layer in states]
    if shrinks:
        memory = memory.select(B.to_device_like((keep[:, None] * k + np.arange(k)).reshape(-1), like))
    return memory, states


def beam_search_bytes(cfg, batch: int, beam: int, src_len: int, itemsize: int = 4) -> int:
    """About the most memory :func:`beam_search` holds for ``batch`` sentences of up to
    ``src_len`` tokens (with <eos>), counted from the model's shapes; no array is made.

    Every one of the ``batch x beam`` live hypotheses carries
        its decoder state                         layers x states x H
        its copy of the source's values and keys  S x (Henc + K + 1), the 1 for the mask
        the additive attention's tanh(keys + q)   2 x S x A, made afresh at every step
        the vocabulary-wide scores                5 x V: the logits, their shifted copy and
                                                  its exponential in the log-softmax, the
                                                  log-probabilities, the candidates
    and, on the host, its back-pointer and token at each of the T = 2 S + 10 steps (2 x 8 bytes).
    The vocabulary term is what a large beam runs into: beam 5 x batch 128 x V 10,000 x 5
    x 4 bytes is 128 MB, a beam of 5,000 would be 128 GB. Against tracemalloc's peak on
    NumPy the estimate is within 0.96-1.08x on four models (tests/test_decode.py holds 0.7-1.5x).
    """
    if hasattr(cfg, "d_model"):  # a Transformer
        return _transformer_beam_bytes(cfg, batch, beam, src_len, itemsize)
    from .functional.cells import CELLS
    from .nn.encoder import output_size

    S, H, Henc, V = src_len, cfg.hidden, output_size(cfg), cfg.tgt_vocab
    A = cfg.attention_size or H
    keys = {"additive": A, "dot": H if Henc != H else Henc, "scaled_dot": H if Henc != H else Henc}.get(
        cfg.attention, Henc)  # general / none: the values themselves, copied once more by select
    state = cfg.layers * len(CELLS[cfg.cell].states) * H
    attention = 2 * S * A if cfg.attention == "additive" else S
    per_hypothesis = itemsize * (state + S * (Henc + keys + 1) + attention + 5 * V) + 16 * max_target_length_for(S)
    return batch * beam * per_hypothesis


def _transformer_beam_bytes(cfg, batch: int, beam: int, src_len: int, itemsize: int = 4) -> int:
    """:func:`beam_search_bytes` of a Transformer: every hypothesis carries its copy of the
    memory and of each layer's cross-attention keys and values (S x D x (1 + 2 L)), its
    self-attention cache (2 L x T x D at the last step T = 2 S + 10, twice while a step
    concatenates), each layer's weights over the source (h x S), and the 5 x V scores."""
    S, D, L, V = src_len, cfg.d_model, cfg.layers, cfg.tgt_vocab
    T = max_target_length_for(S)
    if cfg.positional == "learned":
        T = min(T, cfg.max_len)
    per_hypothesis = itemsize * (S * D * (1 + 2 * L) + S + 4 * L * T * D + cfg.heads * S + 5 * V) + 16 * T
    return batch * beam * per_hypothesis


def best_n(cand, n: int):
    """The n largest entries of each row, best first: cand (B, N) -> host (indices, scores), (B, n).

    A row with fewer than n finite entries is padded with -inf. Beam search asks this of
    B x (k V) candidates every step. On the host a full ``argpartition`` costs ~7 ns per
    entry, as much as the readout GEMM. Instead: split each row into m = 32 n chunks; the
    n-th largest chunk maximum is a lower bound on the n-th largest entry (n chunks hold an
    entry at least that large), so only the chunks whose maximum reaches it -- n of them,
    barring ties -- need looking into. On a device ``argpartition`` runs there.
    """
    np = B.host
    xp = B.get_array_module(cand)
    Bsz, N = cand.shape
    if xp is not np:
        top = xp.argpartition(-cand, n - 1, axis=1)[:, :n]
        top_scores = xp.take_along_axis(cand, top, axis=1)
        top, top_scores = B.to_host(top), B.to_host(top_scores)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)
    m = min(N, 32 * n)
    starts = (np.arange(m) * N) // m
    ends = np.r_[starts[1:], N]
    chunk_max = np.maximum.reduceat(cand, starts, axis=1)  # (B, m), one pass over cand
    bound = np.partition(chunk_max, m - n, axis=1)[:, m - n]
    # a row with fewer than n finite entries: take all of them, never a -inf
    bound = np.where(bound > -np.inf, bound, np.finfo(cand.dtype).min)[:, None]
    rows, chunks = np.nonzero(chunk_max >= bound)
    cols = starts[chunks][:, None] + np.arange((ends - starts).max())  # (P, longest chunk)
    inside = cols < ends[chunks][:, None]
    cols = np.minimum(cols, N - 1)
    vals = cand[rows[:, None], cols]
    hit = inside & (vals >= bound[rows])
    r, c, v = np.broadcast_to(rows[:, None], cols.shape)[hit], cols[hit], vals[hit]
    order = np.lexsort((c, -v, r))  # by row, then best first, then lowest index
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(r.size) - np.searchsorted(r, r, side="left")
    keep = rank < n
    top = np.zeros((Bsz, n), dtype=np.int64)
    top_scores = np.full((Bsz, n), -np.inf, dtype=cand.dtype)
    top[r[keep], rank[keep]] = c[keep]
    top_scores[r[keep], rank[keep]] = v[keep]
    return top, top_scores


# --------------------------------------------------------------------------- sampling


def sample(model, src, src_mask, sos_id: int, eos_id: int, rng, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, max_len: int | None = None) -> Decoded:
    """Ancestral sampling from softmax(logits / temperature), optionally restricted to the
    ``top_k`` most likely tokens or to the smallest set whose probability reaches ``top_p``
    (nucleus sampling, Holtzman et al., 2020). rng: a :class:`minis2s.backend.DeviceRNG`."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}; use greedy for temperature 0")
    xp = model.xp

    def choose(logp):
        p = filtered_probs(logp / temperature, top_k, top_p)  # eq. 14.6: log p / temperature, exp inside
        u = rng.uniform((p.shape[0], 1), p.dtype)
        # inverse-CDF sampling: the first token whose cumulative mass exceeds u (eq. 14.9)
        tok = (xp.cumsum(p, axis=1) < u * p.sum(axis=1, keepdims=True)).sum(axis=1)
        return xp.minimum(tok, p.shape[1] - 1)

    return _one_token_at_a_time(model, src, src_mask, sos_id, eos_id, max_len, choose)


def filtered_probs(scaled_logp, top_k=None, top_p=None):
    """Unnormalised probabilities with everything outside the top-k / nucleus set to 0."""
    xp = B.get_array_module(scaled_logp)
    p = xp.exp(scaled_logp - scaled_logp.max(axis=1, keepdims=True))
    if top_k is not None and top_k < p.shape[1]:
        kth = -xp.partition(-p, top_k - 1, axis=1)[:, top_k - 1 : top_k]
        p = xp.where(p >= kth, p, 0.0)  # eq. 14.7: ties with the k-th are kept
    if top_p is not None and top_p < 1.0:
        sorted_p = -xp.sort(-p, axis=1)
        cum = xp.cumsum(sorted_p, axis=1) / sorted_p.sum(axis=1, keepdims=True)
        # the nucleus: tokens up to and including the first that brings the mass to top_p (eq. 14.8)
        n_keep = (cum < top_p).sum(axis=1, keepdims=True) + 1
        threshold = xp.take_along_axis(sorted_p, xp.minimum(n_keep, p.shape[1]) - 1, axis=1)
        p = xp.where(p >= threshold, p, 0.0)
    return p
