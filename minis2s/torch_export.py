"""A trained minis2s model as a PyTorch ``nn.Module`` (issue 7).

:class:`TorchSeq2Seq` mirrors :class:`minis2s.models.seq2seq.Seq2Seq` for every configuration
:class:`~minis2s.models.seq2seq.Seq2SeqConfig` allows (cell rnn / lstm / gru, any number of
layers, bidirectional or not, attention none / additive / dot / scaled_dot / general, input
feeding, tied embeddings), built from PyTorch's own layers: ``nn.LSTM`` / ``nn.GRU`` /
``nn.RNN`` over a packed batch for the encoder, ``nn.*Cell`` for the decoder. minis2s keeps
its weights in PyTorch's layout (``(out_features, in_features)``, gates i f g o / r z n), so
export is a renaming -- :func:`state_dict_names` gives it -- never a transposition::

    from minis2s.torch_export import to_torch, export
    module = to_torch(model)                  # a live Seq2Seq -> TorchSeq2Seq (eval mode)
    logits = module(src, src_mask, tgt_in)    # equal to minis2s's logits
    export("runs/m30k", "m30k.pt")            # a checkpoint -> a .pt file (weights_only-safe)
    module = load("m30k.pt")

The ``.pt`` file is a plain dict of tensors, strings and numbers, so
``torch.load(path, weights_only=True)`` reads it without running code.

The module also trains and decodes as minis2s does (:meth:`TorchSeq2Seq.loss`, ``greedy``,
``beam_search``): ``benchmarks/speed.py`` and ``benchmarks/gpu.py`` time minis2s against it.

:class:`TorchTransformer` does the same for :class:`minis2s.models.transformer.Transformer`,
from ``nn.TransformerEncoderLayer`` / ``nn.TransformerDecoderLayer`` (``batch_first=True``, the
same ``norm_first`` and activation; GELU in its tanh form). torch packs the three attention
projections as ``in_proj_weight`` = [Wq; Wk; Wv], so there export concatenates
(:func:`transformer_state_dict`); the loss and every gradient equal minis2s's in float64.

Dropout sits where minis2s puts it (embeddings, between layers, the readout input), so the
module trains in PyTorch as it would in minis2s; masks are drawn by PyTorch, so train-mode
outputs are not bit-equal. In eval mode the logits match minis2s's to float rounding.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import backend as B
from .errors import UserError
from .functional.cells import CELLS
from .models.seq2seq import Seq2Seq, Seq2SeqConfig
from .nn import decoder as _dec
from .nn import encoder as _enc

FORMAT = "minis2s-torch"
VERSION = 1

_SEQUENCE = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_CELL = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}
_CELL_NAMES = (("Wx", "weight_ih"), ("Wh", "weight_hh"), ("bx", "bias_ih"), ("bh", "bias_hh"))


# --------------------------------------------------------------------------- names


def state_dict_names(cfg: Seq2SeqConfig) -> dict:
    """minis2s parameter name -> :class:`TorchSeq2Seq` state-dict name, for ``cfg``.

    One entry per minis2s parameter; with tied embeddings ``dec.emb`` is both the decoder's
    input embedding and the output projection, and appears once (``dec_emb.weight``).
    """
    names = {"enc.emb": "enc_emb.weight", "dec.emb": "dec_emb.weight"}
    for l in range(cfg.layers):
        for d, suffix in zip(_enc.directions(cfg), ("", "_reverse")):
            for ours, theirs in _CELL_NAMES:
                names[f"enc.l{l}.{d}.{ours}"] = f"encoder.{theirs}_l{l}{suffix}"
        for ours, theirs in _CELL_NAMES:
            names[f"dec.l{l}.{ours}"] = f"decoder.{l}.{theirs}"
        for s in CELLS[cfg.cell].states:
            names[f"bridge.l{l}.{s}.W"] = f"bridge.l{l}_{s}.weight"
            names[f"bridge.l{l}.{s}.b"] = f"bridge.l{l}_{s}.bias"
    H, Henc = cfg.hidden, _enc.output_size(cfg)
    if cfg.attention == "additive":
        names.update({"attn.Wk": "attention.key.weight", "attn.Wq": "attention.query.weight",
                      "attn.v": "attention.v"})
    elif cfg.attention in ("dot", "scaled_dot") and Henc != H:
        names["attn.Wk"] = "attention.key.weight"
    elif cfg.attention == "general":
        names["attn.W"] = "attention.W"
    if cfg.tie_embeddings:
        names.update({"out.proj.W": "out_proj.weight", "out.proj.b": "out_proj.bias", "out.b": "out_bias"})
    else:
        names.update({"out.W": "out.weight", "out.b": "out.bias"})
    return names


# --------------------------------------------------------------------------- the module


class Attention(nn.Module):
    """The attention kinds of :mod:`minis2s.nn.attention` (lesson 08, eq. 8.1-8.5)."""

    def __init__(self, kind: str, H: int, Henc: int, A: int):
        super().__init__()
        self.kind = kind
        self.scale = H**-0.5 if kind == "scaled_dot" else 1.0
        if kind == "additive":
            self.key = nn.Linear(Henc, A, bias=False)
            self.query = nn.Linear(H, A, bias=False)
            self.v = nn.Parameter(torch.zeros(A))
        elif kind in ("dot", "scaled_dot") and Henc != H:
            self.key = nn.Linear(Henc, H, bias=False)
        elif kind == "general":
            self.W = nn.Parameter(torch.zeros(H, Henc))

    def keys(self, values):
        """values: (B, S, Henc) -> keys, once per batch."""
        return self.key(values) if hasattr(self, "key") else values

    def forward(self, q, keys, values, mask):
        """q: (B, H); keys: (B, S, K); values: (B, S, Henc); mask: (B, S) bool.
        Returns (context (B, Henc), weights (B, S))."""
        if self.kind == "additive":
            scores = torch.tanh(keys + self.query(q).unsqueeze(1)) @ self.v  # eq. 8.1
        elif self.kind == "general":
            scores = torch.bmm(keys, (q @ self.W).unsqueeze(2)).squeeze(2)  # eq. 8.3
        else:
            scores = torch.bmm(keys, q.unsqueeze(2)).squeeze(2) * self.scale  # eq. 8.2
        # eq. 8.4: padding gets exactly 0, and a row with no real position all zeros (not nan)
        lowest = torch.finfo(scores.dtype).min
        w = torch.softmax(scores.masked_fill(~mask, lowest), dim=1) * mask
        return torch.bmm(w.unsqueeze(1), values).squeeze(1), w  # eq. 8.5


class _Search:
    """Greedy and beam search over a module's ``start(src, src_mask) -> (memory, states)`` and
    ``decode_step(memory, states, prev_ids) -> (log_probs (B, V), states, weights)``, where
    memory is a tuple of (B, ...) tensors and states a list of tuples of (B, ...) tensors (rows
    are picked by indexing). The recurrent twin's states are its cells'; the Transformer
    twin's are the tokens fed so far, the whole prefix run again at every step."""

    def _max_len(self, src, max_len):
        """minis2s.decode's rule: ``max_len`` or 2 S + 10, at most the learned positions' table."""
        max_len = max_len or int(2.0 * src.shape[1] + 10)
        limit = getattr(self, "max_target_len", None)
        return max_len if limit is None else min(max_len, limit)

    @torch.inference_mode()
    def greedy(self, src, src_mask, sos_id: int, eos_id: int, max_len: int | None = None):
        """Greedy search as :func:`minis2s.decode.greedy`. Returns id lists without <eos>."""
        max_len = self._max_len(src, max_len)
        memory, states = self.start(src, src_mask)
        prev = torch.full((src.shape[0],), sos_id, dtype=torch.long, device=src.device)
        done = torch.zeros_like(prev, dtype=torch.bool)
        out = []
        for _ in range(max_len):
            logp, states, _ = self.decode_step(memory, states, prev)
            prev = logp.argmax(dim=-1).masked_fill(done, eos_id)
            out.append(prev)
            done |= prev == eos_id
            if bool(done.all()):
                break
        rows = torch.stack(out, dim=1).tolist()
        return [r[: r.index(eos_id)] if eos_id in r else r for r in rows]

    @torch.inference_mode()
    def beam_search(self, src, src_mask, sos_id: int, eos_id: int, beam: int = 5, alpha: float = 0.6,
                    max_len: int | None = None):
        """Batched beam search with the bookkeeping of :func:`minis2s.decode.beam_search`.

        Every sentence keeps ``beam`` live hypotheses (B k rows through the decoder); each step
        takes the top 2k of the k x V extensions, sets aside those ending in <eos> among the
        best k as finished (GNMT length penalty, ``alpha``), and keeps k live ones. Returns the
        best finished id list per sentence, without <eos>.
        """
        k, Bsz, device = beam, src.shape[0], src.device
        max_len = self._max_len(src, max_len)
        memory, states = self.start(src, src_mask)
        rows = torch.arange(Bsz, device=device).repeat_interleave(k)
        memory = tuple(m[rows] for m in memory)
        states = [tuple(s[rows] for s in layer) for layer in states]
        scores = torch.full((Bsz, k), float("-inf"), dtype=self.dec_emb.weight.dtype, device=device)
        scores[:, 0] = 0.0
        prev = torch.full((Bsz * k,), sos_id, dtype=torch.long, device=device)
        hyps = [[[] for _ in range(k)] for _ in range(Bsz)]
        finished = [[] for _ in range(Bsz)]
        done = [False] * Bsz
        for _ in range(max_len):
            logp, states, _ = self.decode_step(memory, states, prev)
            V = logp.shape[1]
            top_scores, top = (scores.unsqueeze(2) + logp.view(Bsz, k, V)).view(Bsz, k * V).topk(2 * k, dim=1)
            top_scores, src_beam, tok = top_scores.tolist(), (top // V).tolist(), (top % V).tolist()
            live = []
            for b in range(Bsz):
                if done[b]:
                    live.append(([0] * k, [eos_id] * k, [float("-inf")] * k, [[] for _ in range(k)]))
                    continue
                live.append(_extend(hyps[b], finished[b], top_scores[b], src_beam[b], tok[b], k, eos_id, alpha))
                done[b] = len(finished[b]) >= k
            beams, toks, live_scores, hyps = (list(x) for x in zip(*live))
            scores = torch.tensor(live_scores, dtype=scores.dtype, device=device)
            scores[torch.tensor(done, device=device)] = float("-inf")
            if all(done):
                break
            pick = (torch.arange(Bsz, device=device).unsqueeze(1) * k + torch.tensor(beams, device=device)).view(-1)
            states = [tuple(s[pick] for s in layer) for layer in states]
            prev = torch.tensor(toks, device=device).view(-1)
        for b in range(Bsz):
            if not done[b]:  # the length cap came first: the live hypotheses compete too
                for j, s in enumerate(scores[b].tolist()):
                    if s != float("-inf"):
                        finished[b].append((s / _length_penalty(len(hyps[b][j]), alpha), hyps[b][j]))
        return [max(f, key=lambda x: x[0])[1] if f else [] for f in finished]


class TorchSeq2Seq(_Search, nn.Module):
    """A :class:`minis2s.models.seq2seq.Seq2Seq` in PyTorch; see the module docstring."""

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.cfg = cfg = cfg.validate()
        D, H, L = cfg.emb, cfg.hidden, cfg.layers
        Henc, R = _enc.output_size(cfg), _dec.readout_size(cfg)
        self.enc_emb = nn.Embedding(cfg.src_vocab, D, padding_idx=cfg.pad_id)
        self.encoder = _SEQUENCE[cfg.cell](D, H, num_layers=L, bidirectional=cfg.bidirectional,
                                           batch_first=True, dropout=cfg.dropout if L > 1 else 0.0)
        self.dec_emb = nn.Embedding(cfg.tgt_vocab, D, padding_idx=cfg.pad_id)
        self.decoder = nn.ModuleList(_CELL[cfg.cell](_dec.cell_input_size(cfg, l), H) for l in range(L))
        self.bridge = nn.ModuleDict({f"l{l}_{s}": nn.Linear(Henc, H)
                                     for l in range(L) for s in CELLS[cfg.cell].states})
        if cfg.attention != "none":
            self.attention = Attention(cfg.attention, H, Henc, cfg.attention_size or H)
        if cfg.tie_embeddings:
            self.out_proj = nn.Linear(R, D)
            self.out_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        else:
            self.out = nn.Linear(R, cfg.tgt_vocab)
        self.drop = nn.Dropout(cfg.dropout)

    # ------------------------------------------------------------------ pieces

    def _embed(self, emb, ids):
        # minis2s embeds <pad> as the zero vector whatever its row holds (with tied
        # embeddings the readout does train that row), so mask rather than trust the row
        return emb(ids) * (ids != self.cfg.pad_id).unsqueeze(-1).to(emb.weight.dtype)

    def encode(self, src, src_mask):
        """src: (B, S) int64; src_mask: (B, S), 1 on real tokens (a prefix of each row).
        Returns (memory, states): memory = (values, keys, mask), states per decoder layer."""
        cfg = self.cfg
        mask = src_mask != 0
        lengths = mask.sum(1).cpu()
        x = self.drop(self._embed(self.enc_emb, src))
        # packing refuses empty rows; minis2s gives them zero outputs and the zero state
        packed = pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True, enforce_sorted=False)
        out, finals = self.encoder(packed)
        values, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        finals = finals if isinstance(finals, tuple) else (finals,)
        empty = (lengths == 0).to(values.device)
        values = values.masked_fill(empty[:, None, None], 0.0)
        dirs = 2 if cfg.bidirectional else 1
        states = []
        for l in range(cfg.layers):
            layer = []
            for s, f in zip(("h", "c"), finals):
                fin = torch.cat([f[l * dirs + d] for d in range(dirs)], dim=1).masked_fill(empty[:, None], 0.0)
                layer.append(torch.tanh(self.bridge[f"l{l}_{s}"](fin)))  # eq. 9.5
            states.append(tuple(layer))
        keys = self.attention.keys(values) if cfg.attention != "none" else values
        return (values, keys, mask), states

    def step(self, memory, states, e):
        """One decoder step on e (B, D), the fed token's embedding (already dropped out).
        Returns (z (B, R), new states, attention weights (B, S) or None)."""
        cfg = self.cfg
        values, keys, mask = memory
        ctx = w = None
        x = e
        if cfg.attention != "none":
            ctx, w = self.attention(states[-1][0], keys, values, mask)  # query = s_{t-1}
            if cfg.input_feeding:
                x = torch.cat([e, ctx], dim=1)
        new_states = []
        for l, cell in enumerate(self.decoder):
            if l > 0:
                x = self.drop(x)
            st = cell(x, states[l]) if cfg.cell == "lstm" else (cell(x, states[l][0]),)
            new_states.append(tuple(st))
            x = st[0]
        z = torch.cat([x, ctx, e] if ctx is not None else [x, e], dim=1)
        return z, new_states, w

    def readout(self, z):
        """z: (..., R) -> logits (..., V)."""
        if self.cfg.tie_embeddings:
            return F.linear(self.out_proj(z), self.dec_emb.weight, self.out_bias)
        return self.out(z)

    # ------------------------------------------------------------------ the model

    def forward(self, src, src_mask, tgt_in):
        """Teacher-forced logits (B, T, V) of ``tgt_in = <sos> y``, as minis2s computes them."""
        memory, states = self.encode(src, src_mask)
        emb = self.drop(self._embed(self.dec_emb, tgt_in))
        zs = []
        for t in range(tgt_in.shape[1]):
            z, states, _ = self.step(memory, states, emb[:, t])
            zs.append(z)
        return self.readout(self.drop(torch.stack(zs, dim=1)))

    def loss(self, src, src_mask, tgt_in, tgt_out, label_smoothing: float = 0.0):
        """Mean cross-entropy over the real target tokens (<pad> ignored), as minis2s's
        ``forward_backward`` computes it (lesson 02, eq. 2.9 and label smoothing)."""
        logits = self(src, src_mask, tgt_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                               ignore_index=self.cfg.pad_id, label_smoothing=label_smoothing)

    def start(self, src, src_mask):
        """What greedy and beam search start from: :meth:`encode`'s (memory, states)."""
        return self.encode(src, src_mask)

    def decode_step(self, memory, states, prev_ids):
        """prev_ids: (B,). Returns (log_probs (B, V), states, weights), as Seq2Seq.decode_step."""
        z, states, w = self.step(memory, states, self._embed(self.dec_emb, prev_ids))
        return torch.log_softmax(self.readout(z), dim=-1), states, w


def _length_penalty(length: int, alpha: float) -> float:
    """GNMT's ((5 + |y|) / 6)^alpha, as minis2s.decode uses it."""
    return ((5.0 + length) / 6.0) ** alpha


def _extend(hyps, finished, top_scores, src_beam, tok, k, eos_id, alpha):
    """One sentence's step of :meth:`TorchSeq2Seq.beam_search`: of its 2k best extensions (best
    first), those that end in <eos> among the best k go to ``finished``; the first k others
    stay live. Returns (source beams, tokens, scores, hypotheses) of the k live ones."""
    beams, toks, scores, new_hyps = [0] * k, [eos_id] * k, [float("-inf")] * k, [[] for _ in range(k)]
    j = 0
    for r in range(2 * k):
        s = top_scores[r]
        if s == float("-inf"):
            break
        if tok[r] == eos_id:
            if r < k:
                seq = hyps[src_beam[r]]
                finished.append((s / _length_penalty(len(seq) + 1, alpha), seq))
            continue
        beams[j], toks[j], scores[j] = src_beam[r], tok[r], s
        new_hyps[j] = hyps[src_beam[r]] + [tok[r]]
        j += 1
        if j == k:
            break
    return beams, toks, scores, new_hyps


# --------------------------------------------------------------------------- the Transformer


def _gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


class TorchTransformer(_Search, nn.Module):
    """A :class:`minis2s.models.transformer.Transformer` in PyTorch (eq. 13.1-13.4)."""

    def __init__(self, cfg):
        super().__init__()
        from .functional.positional import sinusoidal_table

        self.cfg = cfg = cfg.validate()
        D = cfg.d_model
        act = "relu" if cfg.activation == "relu" else _gelu_tanh
        common = dict(d_model=D, nhead=cfg.heads, dim_feedforward=cfg.d_ff, dropout=cfg.dropout, activation=act,
                      batch_first=True, norm_first=cfg.norm_first)
        self.dec_emb = nn.Embedding(cfg.tgt_vocab, D, padding_idx=cfg.pad_id)
        if not cfg.share_vocab:
            self.enc_emb = nn.Embedding(cfg.src_vocab, D, padding_idx=cfg.pad_id)
        if cfg.sentence_words:
            self.enc_word_pos = nn.Parameter(torch.zeros(cfg.sentence_words, D))
        if cfg.positional == "learned":
            self.enc_pos = nn.Parameter(torch.zeros(cfg.max_len, D))
            self.dec_pos = nn.Parameter(torch.zeros(cfg.max_len, D))
        else:
            table = torch.from_numpy(sinusoidal_table(cfg.max_len, D, B.host.zeros((), dtype="float64")))
            self.register_buffer("pe", table, persistent=False)
        self.encoder = nn.ModuleList(nn.TransformerEncoderLayer(**common) for _ in range(cfg.layers))
        self.decoder = nn.ModuleList(nn.TransformerDecoderLayer(**common) for _ in range(cfg.layers))
        if cfg.norm_first:
            self.enc_norm, self.dec_norm = nn.LayerNorm(D), nn.LayerNorm(D)
        if not cfg.tie_embeddings:
            self.out = nn.Linear(D, cfg.tgt_vocab, bias=False)
        self.out_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        self.drop = nn.Dropout(cfg.dropout)

    def _embed(self, side, ids):
        """eq. 13.1: sqrt(D) E[ids] + P, the zero vector at padding; a source read as sentences
        (``sentence_words``), one position per sentence by eq. 15.6."""
        emb = self.dec_emb if side == "dec" or self.cfg.share_vocab else self.enc_emb
        T = ids.shape[1]
        if self.cfg.positional == "learned":
            P = (self.dec_pos if side == "dec" else self.enc_pos)[:T]
        else:
            P = self.pe[:T].to(emb.weight.dtype)
        if ids.ndim == 3:  # (B, S, J): sentences
            x = (self.cfg.d_model ** 0.5) * (emb(ids) * (1 + self.enc_word_pos)).sum(dim=2) + P
            return self.drop(x * (ids != self.cfg.pad_id).any(dim=2)[..., None])
        x = (self.cfg.d_model ** 0.5) * emb(ids) + P
        return self.drop(x * (ids != self.cfg.pad_id)[..., None])

    def read_source(self, src, src_mask):
        """(ids, padding): src and src_mask == 0, or with ``sentence_words`` J the sentences
        (B, S, J) and True at the empty ones (minis2s's ``Transformer.read_source``)."""
        J, pad = self.cfg.sentence_words, self.cfg.pad_id
        if not J:
            return src, src_mask == 0
        ids = torch.where(src_mask != 0, src, pad)
        ids = F.pad(ids, (0, -src.shape[1] % J), value=pad).reshape(src.shape[0], -1, J)
        return ids, (ids == pad).all(dim=2)

    def encode(self, src, src_mask):
        """(memory (B, S, D), eq. 13.2; its padding (B, S), True where attention skips)."""
        src, pad = self.read_source(src, src_mask)
        x = self._embed("enc", src)
        for layer in self.encoder:
            x = layer(x, src_key_padding_mask=pad)
        return (self.enc_norm(x) if self.cfg.norm_first else x), pad

    def forward(self, src, src_mask, tgt_in):
        """Teacher-forced logits (B, T, V), as minis2s's whole-prefix pass (eq. 13.1-13.4)."""
        memory, src_pad = self.encode(src, src_mask)
        T = tgt_in.shape[1]
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=src.device), diagonal=1)
        y = self._embed("dec", tgt_in)
        tgt_pad = tgt_in == self.cfg.pad_id
        for layer in self.decoder:
            y = layer(y, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=src_pad)
        if self.cfg.norm_first:
            y = self.dec_norm(y)
        W = self.dec_emb.weight if self.cfg.tie_embeddings else self.out.weight
        return F.linear(y, W, self.out_bias)

    @property
    def max_target_len(self) -> int | None:
        """The longest output the position table allows (None: sinusoids; the buffer holds max_len)."""
        return self.cfg.max_len

    def start(self, src, src_mask):
        """What greedy and beam search start from: memory ((B, S, D) encoder output, (B, S)
        padding mask) and states [(the tokens fed so far (B, 0),)]."""
        empty = torch.zeros((src.shape[0], 0), dtype=torch.long, device=src.device)
        return self.encode(src, src_mask), [(empty,)]

    def decode_step(self, memory, states, prev_ids):
        """One step as a PyTorch user writes it (the PyTorch translation tutorial's
        ``greedy_decode``): ``nn.TransformerDecoderLayer`` has no key/value cache, so the whole
        prefix, prev_ids appended, goes through the decoder again, and the last position's
        log-probabilities are the step's. prev_ids: (B,). Returns (log_probs (B, V), states, None)."""
        values, src_pad = memory
        ids = torch.cat([states[0][0], prev_ids[:, None]], dim=1)
        T = ids.shape[1]
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool, device=ids.device), diagonal=1)
        y = self._embed("dec", ids)
        for layer in self.decoder:  # no target padding mask: minis2s's cache keeps every fed token
            y = layer(y, values, tgt_mask=causal, memory_key_padding_mask=src_pad)
        if self.cfg.norm_first:
            y = self.dec_norm(y)
        W = self.dec_emb.weight if self.cfg.tie_embeddings else self.out.weight
        return torch.log_softmax(F.linear(y[:, -1], W, self.out_bias), dim=-1), [(ids,)], None

    def loss(self, src, src_mask, tgt_in, tgt_out, label_smoothing: float = 0.0):
        """Mean cross-entropy over the real target tokens, as ``Transformer.forward_backward``."""
        logits = self(src, src_mask, tgt_in)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                               ignore_index=self.cfg.pad_id, label_smoothing=label_smoothing)


_TFM_NAMES = {"Wo": "out_proj.weight", "bo": "out_proj.bias"}
_FFN_NAMES = {"ff_W1": "linear1.weight", "ff_b1": "linear1.bias", "ff_W2": "linear2.weight",
              "ff_b2": "linear2.bias"}


def transformer_state_dict(cfg, params: dict) -> dict:
    """minis2s Transformer parameters (host arrays) -> :class:`TorchTransformer`'s state dict
    (torch tensors): a renaming, except that each attention's Wq, Wk, Wv (and bq, bk, bv)
    are stacked into torch's ``in_proj_weight`` (``in_proj_bias``)."""

    def t(name):
        return torch.from_numpy(B.to_host(params[name]).copy())

    out = {"dec_emb.weight": t("dec.emb"), "out_bias": t("out.b")}
    if not cfg.share_vocab:
        out["enc_emb.weight"] = t("enc.emb")
    if cfg.sentence_words:
        out["enc_word_pos"] = t("enc.word_pos")
    if cfg.positional == "learned":
        out["enc_pos"], out["dec_pos"] = t("enc.pos"), t("dec.pos")
    if not cfg.tie_embeddings:
        out["out.weight"] = t("out.W")
    for side, torch_side, attns in (("enc", "encoder", (("sa", "self_attn"),)),
                                    ("dec", "decoder", (("sa", "self_attn"), ("ca", "multihead_attn")))):
        n_norms = 2 if side == "enc" else 3
        for l in range(cfg.layers):
            ours, theirs = f"{side}.l{l}.", f"{torch_side}.{l}."
            for a, name in attns:
                out[theirs + name + ".in_proj_weight"] = torch.cat([t(ours + f"{a}_W{x}") for x in "qkv"])
                out[theirs + name + ".in_proj_bias"] = torch.cat([t(ours + f"{a}_b{x}") for x in "qkv"])
                for x, tn in _TFM_NAMES.items():
                    out[theirs + name + "." + tn] = t(ours + f"{a}_{x}")
            for x, tn in _FFN_NAMES.items():
                out[theirs + tn] = t(ours + x)
            for k in range(1, n_norms + 1):
                out[theirs + f"norm{k}.weight"] = t(ours + f"ln{k}_g")
                out[theirs + f"norm{k}.bias"] = t(ours + f"ln{k}_b")
        if cfg.norm_first:
            out[f"{side}_norm.weight"], out[f"{side}_norm.bias"] = t(f"{side}.ln_g"), t(f"{side}.ln_b")
    return out


def transformer_grads(module: TorchTransformer) -> dict:
    """The module's gradients under minis2s's parameter names (in_proj split into three)."""
    cfg, g = module.cfg, {k: v.grad for k, v in module.named_parameters()}
    D = cfg.d_model
    out = {"dec.emb": g["dec_emb.weight"], "out.b": g["out_bias"]}
    if not cfg.share_vocab:
        out["enc.emb"] = g["enc_emb.weight"]
    if cfg.sentence_words:
        out["enc.word_pos"] = g["enc_word_pos"]
    if cfg.positional == "learned":
        out["enc.pos"], out["dec.pos"] = g["enc_pos"], g["dec_pos"]
    if not cfg.tie_embeddings:
        out["out.W"] = g["out.weight"]
    for side, torch_side, attns in (("enc", "encoder", (("sa", "self_attn"),)),
                                    ("dec", "decoder", (("sa", "self_attn"), ("ca", "multihead_attn")))):
        n_norms = 2 if side == "enc" else 3
        for l in range(cfg.layers):
            ours, theirs = f"{side}.l{l}.", f"{torch_side}.{l}."
            for a, name in attns:
                W, b = g[theirs + name + ".in_proj_weight"], g[theirs + name + ".in_proj_bias"]
                for i, x in enumerate("qkv"):
                    out[ours + f"{a}_W{x}"] = W[i * D:(i + 1) * D]
                    out[ours + f"{a}_b{x}"] = b[i * D:(i + 1) * D]
                for x, tn in _TFM_NAMES.items():
                    out[ours + f"{a}_{x}"] = g[theirs + name + "." + tn]
            for x, tn in _FFN_NAMES.items():
                out[ours + x] = g[theirs + tn]
            for k in range(1, n_norms + 1):
                out[ours + f"ln{k}_g"] = g[theirs + f"norm{k}.weight"]
                out[ours + f"ln{k}_b"] = g[theirs + f"norm{k}.bias"]
        if cfg.norm_first:
            out[f"{side}.ln_g"], out[f"{side}.ln_b"] = g[f"{side}_norm.weight"], g[f"{side}_norm.bias"]
    return out


@torch.no_grad()
def load_transformer_params(module: TorchTransformer, params: dict) -> TorchTransformer:
    """Copy minis2s Transformer parameters into ``module`` (shapes checked by torch's loader)."""
    from .memory import transformer_param_shapes

    expected = transformer_param_shapes(module.cfg)
    missing, extra = set(expected) - set(params), set(params) - set(expected)
    if missing or extra:
        raise UserError(f"parameters do not fit this Transformer: missing {sorted(missing)[:5]}, "
                        f"unexpected {sorted(extra)[:5]}")
    state = module.state_dict()
    for k, v in transformer_state_dict(module.cfg, params).items():
        state[k].copy_(v)
    return module


# --------------------------------------------------------------------------- weights


@torch.no_grad()
def load_minis2s_params(module: TorchSeq2Seq, params: dict) -> TorchSeq2Seq:
    """Copy minis2s parameters (arrays of any backend, or host arrays) into ``module``."""
    if isinstance(module, TorchTransformer):
        return load_transformer_params(module, params)
    names = state_dict_names(module.cfg)
    missing, extra = set(names) - set(params), set(params) - set(names)
    if missing or extra:
        raise UserError(f"parameters do not fit this model: missing {sorted(missing)[:5]}, "
                        f"unexpected {sorted(extra)[:5]}")
    target = module.state_dict()
    for ours, theirs in names.items():
        value = torch.from_numpy(B.to_host(params[ours]).copy())
        if tuple(value.shape) != tuple(target[theirs].shape):
            raise UserError(f"parameter {ours}: shape {tuple(value.shape)}, the module expects "
                            f"{tuple(target[theirs].shape)}")
        target[theirs].copy_(value)
    return module


def _module_for(cfg):
    from .models.transformer import TransformerConfig

    return TorchTransformer(cfg) if isinstance(cfg, TransformerConfig) else TorchSeq2Seq(cfg)


def to_torch(model: Seq2Seq, dtype=None) -> TorchSeq2Seq:
    """A live minis2s model -> an equal :class:`TorchSeq2Seq` (or :class:`TorchTransformer`)
    in eval mode, in the dtype of the model's parameters (or ``dtype``, a torch dtype)."""
    if dtype is None:
        dtype = torch.float64 if model.dtype.itemsize == 8 else torch.float32
    module = _module_for(model.cfg).to(dtype)
    return load_minis2s_params(module, model.params).eval()


# --------------------------------------------------------------------------- files


def export(checkpoint_dir, out_pt, prefer: str = "best") -> Path:
    """Write a minis2s checkpoint (a run directory or one checkpoint in it; ``prefer`` picks
    best or latest of a run) as a ``.pt`` file for PyTorch.

    The file holds ``{"format", "version", "config", "vocab", "state_dict"}``: the model
    config as JSON-like data, the vocabularies (token lists), and the
    :class:`TorchSeq2Seq` state dict in the checkpoint's dtype. Read it with :func:`load`, or
    ``torch.load(path, weights_only=True)``.
    """
    from .atomic import check_folder, write_file
    from .checkpoint import load_checkpoint

    out_pt = check_folder(out_pt, "--torch")  # before any work
    c = load_checkpoint(checkpoint_dir, prefer=prefer)
    from .models import config_class

    arch = c.config.get("arch", "recurrent")
    try:
        cfg = config_class(arch).from_json(c.config["model"])
    except (KeyError, TypeError) as exc:
        raise UserError(f"{c.path} is not a minis2s translation checkpoint (its config lacks {exc})") from None
    dtype = torch.float64 if next(iter(c.params.values())).dtype.itemsize == 8 else torch.float32
    module = load_minis2s_params(_module_for(cfg).to(dtype), c.params)
    blob = {"format": FORMAT, "version": VERSION, "arch": arch, "config": cfg.to_json(), "vocab": c.vocab,
            "state_dict": module.state_dict()}
    # into an open file, not a path: a failed write is then an OSError (errno, path) rather
    # than torch's RuntimeError, and the file appears only when whole (temporary + rename)
    return write_file(out_pt, lambda f: torch.save(blob, f), "--torch")


def load(path) -> TorchSeq2Seq:
    """Read a file written by :func:`export` (safely: ``weights_only=True``); eval mode."""
    blob = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{path} is not a minis2s PyTorch export (format {FORMAT!r})")
    if blob.get("version", 0) > VERSION:
        raise UserError(f"{path} was written by a newer minis2s (version {blob.get('version')})")
    from .models import config_class

    cfg = config_class(blob.get("arch", "recurrent")).from_json(blob["config"])
    state = blob["state_dict"]
    module = _module_for(cfg).to(next(iter(state.values())).dtype)
    module.load_state_dict(state)
    return module.eval()
