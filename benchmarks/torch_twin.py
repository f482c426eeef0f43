"""The reference model written in eager PyTorch (CPU), as a competent PyTorch user would.

The speed benchmarks (``benchmarks/speed.py``) time minis2s against this twin: the same
shapes and the same math as ``Seq2SeqConfig(cell="lstm", emb=128, hidden=256,
bidirectional=True, attention="additive", dropout=0.5)``, built from the library's fast
pieces rather than from minis2s's structure:

* encoder: ``nn.LSTM(bidirectional=True)`` over a packed batch (cuDNN-style fused kernels
  on CPU, no work on padding);
* bridge: ``tanh(Linear([h_fwd; h_bwd]))`` for h and for c;
* decoder: an ``nn.LSTMCell`` loop with additive (Bahdanau) attention, the keys projected
  once per batch, query = the previous decoder state, input ``[emb; context]``;
* readout: one ``nn.Linear`` over ``[state; context; emb]`` of all steps at once, dropout on
  the embeddings and on the readout input;
* loss: ``F.cross_entropy(ignore_index=<pad>, label_smoothing=...)``.

:meth:`TorchTwin.load_minis2s` copies a minis2s model's parameters in, so the benchmark can
check that both compute the same loss, gradients and translations before timing them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class TorchTwin(nn.Module):
    def __init__(self, src_vocab: int, tgt_vocab: int, emb: int = 128, hidden: int = 256,
                 attention_size: int | None = None, dropout: float = 0.5, pad_id: int = 0):
        super().__init__()
        H, A = hidden, attention_size or hidden
        self.pad_id = pad_id
        self.src_emb = nn.Embedding(src_vocab, emb, padding_idx=pad_id)
        self.encoder = nn.LSTM(emb, H, batch_first=True, bidirectional=True)
        self.bridge_h = nn.Linear(2 * H, H)
        self.bridge_c = nn.Linear(2 * H, H)
        self.tgt_emb = nn.Embedding(tgt_vocab, emb, padding_idx=pad_id)
        self.key = nn.Linear(2 * H, A, bias=False)
        self.query = nn.Linear(H, A, bias=False)
        self.v = nn.Parameter(torch.empty(A).uniform_(-(A**-0.5), A**-0.5))
        self.cell = nn.LSTMCell(emb + 2 * H, H)
        self.out = nn.Linear(H + 2 * H + emb, tgt_vocab)
        self.drop = nn.Dropout(dropout)

    # ------------------------------------------------------------------ the graph

    def encode(self, src, src_mask):
        """src: (B, S) int64, src_mask: (B, S). Returns (values, keys, mask, (h, c))."""
        lengths = src_mask.sum(1).long().cpu()
        x = self.drop(self.src_emb(src))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.encoder(packed)
        values, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        h = torch.tanh(self.bridge_h(torch.cat([h[0], h[1]], dim=1)))
        c = torch.tanh(self.bridge_c(torch.cat([c[0], c[1]], dim=1)))
        return values, self.key(values), src_mask.bool(), (h, c)

    def attend(self, q, values, keys, mask):
        scores = torch.tanh(keys + self.query(q).unsqueeze(1)) @ self.v  # (B, S)
        w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(w.unsqueeze(1), values).squeeze(1), w

    def step(self, e, state, values, keys, mask):
        """One decoder step: e (B, D) embedded input. Returns (z (B, R), state)."""
        ctx, _ = self.attend(state[0], values, keys, mask)
        h, c = self.cell(torch.cat([e, ctx], dim=1), state)
        return torch.cat([h, ctx, e], dim=1), (h, c)

    def forward(self, src, src_mask, tgt_in):
        """Teacher-forced logits (B, T, V)."""
        values, keys, mask, state = self.encode(src, src_mask)
        emb = self.drop(self.tgt_emb(tgt_in))
        zs = []
        for t in range(tgt_in.shape[1]):
            z, state = self.step(emb[:, t], state, values, keys, mask)
            zs.append(z)
        return self.out(self.drop(torch.stack(zs, dim=1)))

    def loss(self, src, src_mask, tgt_in, tgt_out, label_smoothing=0.0):
        logits = self(src, src_mask, tgt_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                               ignore_index=self.pad_id, label_smoothing=label_smoothing)

    # ------------------------------------------------------------------ inference

    @torch.inference_mode()
    def greedy(self, src, src_mask, sos_id: int, eos_id: int, max_len: int):
        """Batched greedy search, stopping when every sentence has emitted <eos>.
        Returns a list of id lists without <eos>."""
        values, keys, mask, state = self.encode(src, src_mask)
        Bsz = src.shape[0]
        prev = torch.full((Bsz,), sos_id, dtype=torch.long)
        done = torch.zeros(Bsz, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            z, state = self.step(self.tgt_emb(prev), state, values, keys, mask)
            prev = self.out(z).argmax(dim=1).masked_fill(done, eos_id)
            out.append(prev)
            done |= prev == eos_id
            if bool(done.all()):
                break
        rows = torch.stack(out, dim=1).tolist()
        return [r[: r.index(eos_id)] if eos_id in r else r for r in rows]

    @torch.inference_mode()
    def beam_search(self, src, src_mask, sos_id: int, eos_id: int, beam: int = 5,
                    alpha: float = 0.6, max_len: int = 50):
        """Batched beam search with the bookkeeping of ``minis2s.decode.beam_search``.

        Every sentence keeps ``beam`` live hypotheses (B*k rows through the decoder); each
        step takes the top 2k of the k x V extensions, sets aside those ending in <eos>
        among the best k as finished (GNMT length penalty), and keeps k live ones. Returns
        the best finished id list per sentence.
        """
        k = beam
        values, keys, mask, (h, c) = self.encode(src, src_mask)
        Bsz = src.shape[0]
        rows = torch.arange(Bsz).repeat_interleave(k)
        values, keys, mask, state = values[rows], keys[rows], mask[rows], (h[rows], c[rows])
        scores = torch.full((Bsz, k), float("-inf"))
        scores[:, 0] = 0.0
        prev = torch.full((Bsz * k,), sos_id, dtype=torch.long)
        hyps = [[[] for _ in range(k)] for _ in range(Bsz)]
        finished = [[] for _ in range(Bsz)]
        done = [False] * Bsz
        for t in range(max_len):
            z, state = self.step(self.tgt_emb(prev), state, values, keys, mask)
            logp = torch.log_softmax(self.out(z), dim=1)
            V = logp.shape[1]
            cand = (scores.unsqueeze(2) + logp.view(Bsz, k, V)).view(Bsz, k * V)
            top_scores, top = cand.topk(2 * k, dim=1)
            src_beam, tok = (top // V).tolist(), (top % V).tolist()
            top_scores = top_scores.tolist()
            live_beam = [[0] * k for _ in range(Bsz)]
            live_tok = [[eos_id] * k for _ in range(Bsz)]
            live_score = [[float("-inf")] * k for _ in range(Bsz)]
            new_hyps = [[[] for _ in range(k)] for _ in range(Bsz)]
            for b in range(Bsz):
                if done[b]:
                    continue
                j = 0
                for r in range(2 * k):
                    s = top_scores[b][r]
                    if s == float("-inf"):
                        break
                    if tok[b][r] == eos_id:
                        if r < k:
                            seq = hyps[b][src_beam[b][r]]
                            finished[b].append((s / ((5.0 + len(seq) + 1) / 6.0) ** alpha, seq))
                        continue
                    live_beam[b][j], live_tok[b][j], live_score[b][j] = src_beam[b][r], tok[b][r], s
                    new_hyps[b][j] = hyps[b][src_beam[b][r]] + [tok[b][r]]
                    j += 1
                    if j == k:
                        break
                if len(finished[b]) >= k:
                    done[b] = True
            hyps = new_hyps
            scores = torch.tensor(live_score)
            scores[torch.tensor(done)] = float("-inf")
            if all(done):
                break
            pick = (torch.arange(Bsz).unsqueeze(1) * k + torch.tensor(live_beam)).view(-1)
            state = (state[0][pick], state[1][pick])
            prev = torch.tensor(live_tok).view(-1)
        for b in range(Bsz):
            if not done[b]:
                for j in range(k):
                    s = float(scores[b, j])
                    if s != float("-inf"):
                        finished[b].append((s / ((5.0 + len(hyps[b][j])) / 6.0) ** alpha, hyps[b][j]))
        return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]

    # ------------------------------------------------------------------ weights

    @torch.no_grad()
    def load_minis2s(self, params: dict) -> None:
        """Copy a minis2s reference model's parameters (host arrays) into the twin."""
        t = {k: torch.as_tensor(v) for k, v in params.items()}
        self.src_emb.weight.copy_(t["enc.emb"])
        for d, suffix in (("f", ""), ("b", "_reverse")):
            for ours, theirs in (("Wx", "weight_ih"), ("Wh", "weight_hh"), ("bx", "bias_ih"), ("bh", "bias_hh")):
                getattr(self.encoder, f"{theirs}_l0{suffix}").copy_(t[f"enc.l0.{d}.{ours}"])
        for s, lin in (("h", self.bridge_h), ("c", self.bridge_c)):
            lin.weight.copy_(t[f"bridge.l0.{s}.W"])
            lin.bias.copy_(t[f"bridge.l0.{s}.b"])
        self.tgt_emb.weight.copy_(t["dec.emb"])
        self.key.weight.copy_(t["attn.Wk"])
        self.query.weight.copy_(t["attn.Wq"])
        self.v.copy_(t["attn.v"])
        for ours, theirs in (("Wx", "weight_ih"), ("Wh", "weight_hh"), ("bx", "bias_ih"), ("bh", "bias_hh")):
            getattr(self.cell, theirs).copy_(t[f"dec.l0.{ours}"])
        self.out.weight.copy_(t["out.W"])
        self.out.bias.copy_(t["out.b"])

    def minis2s_grad_names(self) -> dict:
        """minis2s parameter name -> the twin's parameter, for comparing gradients."""
        return {"out.W": self.out.weight, "dec.l0.Wh": self.cell.weight_hh, "attn.Wk": self.key.weight,
                "enc.l0.f.Wx": self.encoder.weight_ih_l0, "enc.l0.b.Wh": self.encoder.weight_hh_l0_reverse,
                "enc.emb": self.src_emb.weight}
