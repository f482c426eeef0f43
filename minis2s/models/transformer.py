"""The encoder-decoder Transformer (Vaswani et al., 2017), from lesson 12's layers (lesson 13).

    src ─ embed ─ encoder layer x L ─ (LN) ─ memory ───────────┐
    tgt_in ─ embed ─ decoder layer x L (causal self, cross) ─ (LN) ─ readout ─ logits ─ loss

    eq. 13.1  x^(0) = dropout(sqrt(D) E[ids] + P[positions])   (eq. 12.13) for either side;
              E is shared by source and target with a shared vocabulary. With
              ``sentence_words`` J > 0 the source is a grid of sentences of J word slots
              (:class:`~minis2s.data.SentenceGridTokenizer`) and each sentence is one position,
              embedded by eq. 15.6: the encoder and the cross-attention then work on sentences
    eq. 13.2  memory = LN_enc(x^(L)),  x^(l) = EncoderLayer_l(x^(l-1))   (eq. 12.16; the final
              LN only with pre-norm, whose residual stream is otherwise never normalised)
    eq. 13.3  z = LN_dec(y^(L)),  y^(l) = DecoderLayer_l(y^(l-1), memory)  (causal; cross-attention
              over the real source positions)
    eq. 13.4  logits = z W^T + b,  W = E_tgt with tied embeddings (the readout reuses the table)
    eq. 13.5  backward of the memory: every decoder layer reads it, so
              dmemory = sum over l of the cross-attention's dkey + dvalue of layer l
    eq. 13.6  backward of a shared table: its gradient is the sum over every place it is read --
              source embedding, target embedding, readout
    eq. 13.7  the training schedule: lr(s) = lr0 min(s / warmup, sqrt(warmup / s)) at step s
              (:class:`minis2s.schedules.InverseSqrtWarmup`), with Adam's beta2 = 0.98
    eq. 13.8  incremental decoding: at step t only position t is new; its self-attention needs
              K_{1..t} = [K_{1..t-1}; k_t] and V likewise, so each layer caches its keys and
              values and appends one row per step; the result equals the causal pass over the
              whole prefix (position t sees only s <= t), for O(t) instead of O(t^2) work per step

:meth:`Transformer.forward_backward` has :class:`~minis2s.models.seq2seq.Seq2Seq`'s interface, so
the trainer, evaluation, greedy / beam / sampling and checkpoints take either model. The loss is
the (label-smoothed) cross-entropy of :mod:`minis2s.functional.losses` (eq. 2.9-2.10).

Parameters: ``enc.emb`` (V_src, D) (absent with a shared vocabulary: ``dec.emb`` serves both),
``dec.emb`` (V_tgt, D); learned positions ``enc.pos``, ``dec.pos`` (max_len, D); per layer
``enc.l{l}.*`` and ``dec.l{l}.*`` named as :mod:`minis2s.functional.transformer`; with sentences
``enc.word_pos`` (J, D), the word-slot weights Lambda of eq. 15.6; with pre-norm
``enc.ln_g|b``, ``dec.ln_g|b``; ``out.W`` (V, D) unless tied, and ``out.b`` (V,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import backend as B
from ..errors import UserError
from .config import JSONConfig
from ..functional import dropout as Fd
from ..functional import linear as Fl
from ..functional import losses as Floss
from ..functional import transformer as Ft
from ..functional.activations import log_softmax
from ..functional.layernorm import layernorm_backward, layernorm_forward
from ..functional.multihead import attention_heads_forward
from ..functional.positional import (SentencePositionCache, sentence_position_backward, sentence_position_forward,
                                     sinusoidal_table, token_position_backward, token_position_forward)

ARCH = "transformer"
POSITIONAL = ("sinusoidal", "learned")


@dataclass
class TransformerConfig(JSONConfig):
    """Everything that fixes the Transformer's shape; saved as JSON in every checkpoint."""

    what = "Transformer config"

    src_vocab: int
    tgt_vocab: int
    layers: int = 3
    d_model: int = 256
    heads: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    activation: str = "relu"
    norm_first: bool = False
    positional: str = "sinusoidal"
    max_len: int = 256
    tie_embeddings: bool = True
    share_vocab: bool = False
    sentence_words: int = 0
    pad_id: int = 0

    def validate(self) -> "TransformerConfig":
        for name in ("src_vocab", "tgt_vocab", "layers", "d_model", "heads", "d_ff", "max_len"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if int(self.sentence_words) < 0:
            raise UserError(f"sentence_words must be >= 0 (0: the encoder reads tokens), got {self.sentence_words}")
        if self.d_model % self.heads:
            raise UserError(f"--heads {self.heads} does not divide --d-model {self.d_model}: each head gets "
                            f"d_model / heads features; choose heads among the divisors of {self.d_model}")
        if self.activation not in Ft.ACTIVATIONS:
            raise UserError(f"activation must be one of {', '.join(Ft.ACTIVATIONS)}, got {self.activation!r}")
        if self.positional not in POSITIONAL:
            raise UserError(f"positional must be one of {', '.join(POSITIONAL)}, got {self.positional!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.share_vocab and self.src_vocab != self.tgt_vocab:
            raise UserError(f"a shared vocabulary needs equal sizes, got source {self.src_vocab} and "
                            f"target {self.tgt_vocab}")
        return self


def init_params(cfg: TransformerConfig, generator) -> dict:
    """Xavier-uniform matrices (as torch's ``nn.Transformer``), embeddings of std D^-1/2 (the
    sqrt(D) of eq. 12.13 brings them to order 1), zero biases, unit layer-norm gains."""
    D, F = cfg.d_model, cfg.d_ff

    def xavier(shape):
        return B.uniform_init(generator, shape, math.sqrt(6.0 / (shape[0] + shape[1])))

    def zeros(shape):
        return B.to_device(B.host.zeros(shape), B.float_dtype())

    def ones(n):
        return B.to_device(B.host.ones(n), B.float_dtype())

    def emb(V):
        E = B.uniform_init(generator, (V, D), math.sqrt(3.0 / D))
        E[cfg.pad_id] = 0.0
        return E

    shapes = {"Wq": (D, D), "Wk": (D, D), "Wv": (D, D), "Wo": (D, D), "W1": (F, D), "W2": (D, F)}
    p = {"dec.emb": emb(cfg.tgt_vocab)}
    if not cfg.share_vocab:
        p["enc.emb"] = emb(cfg.src_vocab)
    if cfg.sentence_words:
        p["enc.word_pos"] = zeros((cfg.sentence_words, D))  # eq. 15.6: each sentence starts as a bag of words
    if cfg.positional == "learned":
        p["enc.pos"] = B.uniform_init(generator, (cfg.max_len, D), math.sqrt(3.0 / D))
        p["dec.pos"] = B.uniform_init(generator, (cfg.max_len, D), math.sqrt(3.0 / D))
    for side, names in (("enc", Ft.ENCODER_PARAMS), ("dec", Ft.DECODER_PARAMS)):
        for l in range(cfg.layers):
            for n in names:
                short = n.split("_", 1)[1]
                if short in shapes:
                    p[f"{side}.l{l}.{n}"] = xavier(shapes[short])
                elif n.endswith("_g"):
                    p[f"{side}.l{l}.{n}"] = ones(D)
                else:
                    p[f"{side}.l{l}.{n}"] = zeros(F if short == "b1" else D)
        if cfg.norm_first:
            p[f"{side}.ln_g"], p[f"{side}.ln_b"] = ones(D), zeros(D)
    if not cfg.tie_embeddings:
        p["out.W"] = xavier((cfg.tgt_vocab, D))
    p["out.b"] = zeros(cfg.tgt_vocab)
    return p


class StackCache(NamedTuple):
    """What one side's forward (eq. 13.1-13.3) keeps: emb: the TokenPositionCache; drop: the
    embedding dropout's cache; layers: per layer its Encoder/DecoderLayerCache; ln: the final
    layer norm's cache (pre-norm) or None; real: (B, T, 1) bool, False at padding."""

    emb: Any
    drop: Any
    layers: list
    ln: Any
    real: Any


class TransformerMemory(NamedTuple):
    """What decoding reads from the encoder. values: (B, S, D), the memory (eq. 13.2); mask:
    (B, S), 1 on real source tokens; keys: per decoder layer, its cross-attention's (K, V),
    each (B, h, S, d), projected once per source (eq. 13.8)."""

    values: Any
    mask: Any
    keys: list

    def select(self, index):
        """Rows ``index`` (beam search repeats and reorders sentences)."""
        return TransformerMemory(self.values[index], self.mask[index],
                                 [(K[index], V[index]) for K, V in self.keys])


class Transformer:
    """Parameters and gradients live in two dicts with the same keys (arrays of the backend).

    kv_cache: :meth:`decode_step` appends each new position's keys and values per layer
    (eq. 13.8); False recomputes the whole prefix at every step (the reference it is tested
    against, and the baseline of its speed-up)."""

    arch = ARCH

    def __init__(self, cfg: TransformerConfig, seed: int = 0, dtype=None, kv_cache: bool = True):
        self.cfg = cfg.validate()
        self.kv_cache = kv_cache
        generator = B.rng(seed)
        with B.precision(dtype or B.float_dtype()):
            self.params = init_params(cfg, generator)
        self.grads = {k: B.get_array_module(v).zeros_like(v) for k, v in self.params.items()}
        self._pe = None  # the sinusoidal table, made once per dtype and length

    @property
    def n_params(self) -> int:
        return sum(int(v.size) for v in self.params.values())

    @property
    def dtype(self):
        return self.params["dec.emb"].dtype

    @property
    def xp(self):
        return B.get_array_module(self.params["dec.emb"])

    @property
    def max_target_len(self) -> int | None:
        """The longest output the position table allows (None: sinusoids, any length)."""
        return self.cfg.max_len if self.cfg.positional == "learned" else None

    def load_params(self, arrays: dict) -> None:
        """Copy host arrays into the parameters in place (optimizers keep their references)."""
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise UserError(f"parameters do not fit this Transformer: missing {sorted(missing)[:5]}, "
                            f"unexpected {sorted(extra)[:5]}")
        for k, v in self.params.items():
            if tuple(arrays[k].shape) != tuple(v.shape):
                raise UserError(f"parameter {k}: checkpoint has shape {tuple(arrays[k].shape)}, "
                                f"model expects {tuple(v.shape)}")
            v[...] = B.to_device(arrays[k], v.dtype)

    # ----------------------------------------------------------------------- pieces

    def _emb_name(self, side: str) -> str:
        return "dec.emb" if side == "dec" or self.cfg.share_vocab else "enc.emb"

    def _positions(self, side: str, T: int):
        """P of eq. 12.13 for T positions: the learned table, or the sinusoids."""
        if self.cfg.positional == "learned":
            if T > self.cfg.max_len:
                what = "source" if side == "enc" else "target"
                raise UserError(f"a {what} of {T} tokens is longer than the learned position table "
                                f"(max_len {self.cfg.max_len}); shorten or split the input")
            return self.params[f"{side}.pos"]
        if self._pe is None or self._pe.shape[0] < T or self._pe.dtype != self.dtype:
            self._pe = sinusoidal_table(max(T, self.cfg.max_len), self.cfg.d_model,
                                        self.xp.zeros((), dtype=self.dtype))
        return self._pe

    def _layer(self, side: str, l: int, names) -> dict:
        return {n: self.params[f"{side}.l{l}.{n}"] for n in names}

    def _embed(self, side, ids, rng, train, ids_checked, offset: int = 0):
        """eq. 13.1 for ids (B, T) at positions offset .. offset + T - 1; a source of sentences,
        ids (B, S, J) (:meth:`read_source`), by eq. 15.6, one position per sentence."""
        E = self.params[self._emb_name(side)]
        if ids.ndim == 3:
            x, emb = sentence_position_forward(ids, E, self.params["enc.word_pos"],
                                               self._positions(side, ids.shape[1]), self.cfg.pad_id,
                                               ids_checked=ids_checked)
        else:
            P = self._positions(side, offset + ids.shape[1])
            x, emb = token_position_forward(ids, E, P[offset:], self.cfg.pad_id, ids_checked=ids_checked)
        x, drop = Fd.dropout_forward(x, self.cfg.dropout, rng, train)
        return x, emb, drop

    def read_source(self, src, src_mask):
        """What the encoder reads of src: (B, T) ids, src_mask: (B, T). Returns (ids, mask):
        src and src_mask themselves, or with ``sentence_words`` J the sentences: ids (B, S, J),
        S = ceil(T / J), row s the word slots of sentence s (src as a SentenceGridTokenizer laid
        it out, then <eos> in a row of its own; masked tokens become <pad>), and mask (B, S),
        1 at the sentences that hold a word. The memory and the cross-attention then have one
        position per sentence."""
        J, (Bn, T) = self.cfg.sentence_words, src.shape
        if not J:
            return src, src_mask
        xp, pad = self.xp, self.cfg.pad_id
        ids = xp.where(src_mask != 0, src, pad)
        if -T % J:
            ids = xp.concatenate([ids, xp.full((Bn, -T % J), pad, dtype=src.dtype)], axis=1)
        ids = ids.reshape(Bn, -1, J)
        return ids, (ids != pad).any(axis=2).astype(src_mask.dtype)

    def _final_norm(self, side, x, real):
        if not self.cfg.norm_first:
            return x, None
        y, ln = layernorm_forward(x, self.params[f"{side}.ln_g"], self.params[f"{side}.ln_b"])
        return y * real, ln  # a padded position stays exactly 0

    def encoder_forward(self, src, src_mask, rng=None, train=False, ids_checked=False):
        """eq. 13.1-13.2. src: (B, S) ids, or (B, S, J) sentences, and src_mask: (B, S), as
        :meth:`read_source` gives them. Returns (memory (B, S, D), StackCache)."""
        cfg = self.cfg
        x, emb, drop = self._embed("enc", src, rng, train, ids_checked)
        caches = []
        for l in range(cfg.layers):
            x, c = Ft.encoder_layer_forward(x, self._layer("enc", l, Ft.ENCODER_PARAMS), cfg.heads, src_mask,
                                            cfg.norm_first, cfg.activation, cfg.dropout, rng, train)
            caches.append(c)
        real = (src_mask != 0)[:, :, None]
        x, ln = self._final_norm("enc", x, real)
        return x, StackCache(emb, drop, caches, ln, real)

    def decoder_forward(self, memory, src_mask, tgt_in, tgt_mask, rng=None, train=False, ids_checked=False):
        """eq. 13.1, 13.3. memory: (B, S, D); tgt_in, tgt_mask: (B, T). Returns (z (B, T, D), StackCache)."""
        cfg = self.cfg
        y, emb, drop = self._embed("dec", tgt_in, rng, train, ids_checked)
        caches = []
        for l in range(cfg.layers):
            y, c = Ft.decoder_layer_forward(y, memory, self._layer("dec", l, Ft.DECODER_PARAMS), cfg.heads,
                                            tgt_mask, src_mask, cfg.norm_first, cfg.activation, cfg.dropout,
                                            rng, train)
            caches.append(c)
        real = (tgt_mask != 0)[:, :, None]
        y, ln = self._final_norm("dec", y, real)
        return y, StackCache(emb, drop, caches, ln, real)

    def _readout_weight(self):
        return self.params["dec.emb" if self.cfg.tie_embeddings else "out.W"]

    def _stack_backward(self, side, dx, cache, names, layer_backward):
        """The backward of one side's stack: final LN, layers in reverse, embeddings (eq. 12.17,
        13.6). Returns the summed gradient of the memory on the decoder side (eq. 13.5), else None."""
        grads = self.grads
        if cache.ln is not None:
            dx, dg, db = layernorm_backward(dx * cache.real, cache.ln)
            grads[f"{side}.ln_g"] += dg
            grads[f"{side}.ln_b"] += db
        dmemory = None
        for l in reversed(range(self.cfg.layers)):
            dx, *dmem, lgrads = layer_backward(dx, cache.layers[l])
            if dmem:
                dmemory = dmem[0] if dmemory is None else dmemory + dmem[0]  # eq. 13.5
            for n in names:
                grads[f"{side}.l{l}.{n}"] += lgrads[n]
        dx = Fd.dropout_backward(dx, cache.drop)
        if isinstance(cache.emb, SentencePositionCache):
            dE, dL, dP = sentence_position_backward(dx, cache.emb)  # eq. 15.6
            grads["enc.word_pos"] += dL
        else:
            dE, dP = token_position_backward(dx, cache.emb)
        grads[self._emb_name(side)] += dE  # eq. 13.6: a shared table sums its paths
        if self.cfg.positional == "learned":
            grads[f"{side}.pos"] += dP
        return dmemory

    # ----------------------------------------------------------------------- training

    def forward_backward(self, src, src_mask, tgt_in, tgt_out, tgt_mask, *, rng=None, train=True,
                         teacher_forcing=1.0, label_smoothing=0.0, backward=True, real_rows=None,
                         ids_checked=False, loss_weight=1.0):
        """Loss of a batch and, with ``backward``, every gradient into :attr:`grads`.

        src: (B, S) ids, src_mask: (B, S); tgt_in: (B, T) = <sos> y, tgt_out: (B, T) = y <eos>,
        tgt_mask: (B, T). As :meth:`Seq2Seq.forward_backward`, except that the decoder reads the
        whole gold prefix at once (causal attention), so teacher forcing is always 1.
        loss_weight scales every gradient (not the loss returned): this batch's weight in a larger
        objective, as when :class:`minis2s.parallel.DataParallel` splits a batch into shards.
        Returns (loss, nll_sum, n_tokens) as 0-d arrays -- no host synchronisation.
        """
        if teacher_forcing != 1.0:
            raise UserError("the Transformer reads the whole gold target at once; --teacher-forcing below 1 "
                            "(feeding its own predictions) is for the recurrent model")
        src, src_mask = self.read_source(src, src_mask)
        memory, enc_cache = self.encoder_forward(src, src_mask, rng, train, ids_checked)
        z, dec_cache = self.decoder_forward(memory, src_mask, tgt_in, tgt_mask, rng, train, ids_checked)
        D = z.shape[-1]
        zr = z.reshape(-1, D) if real_rows is None else z.reshape(-1, D)[real_rows]
        logits, out_cache = Fl.affine_forward(zr, self._readout_weight(), self.params["out.b"])  # eq. 13.4
        targets, mask = ((tgt_out.reshape(-1), tgt_mask.reshape(-1)) if real_rows is None
                         else (tgt_out.reshape(-1)[real_rows], None))
        loss, loss_cache = Floss.softmax_cross_entropy_forward(
            logits, targets, mask=mask, label_smoothing=label_smoothing, ids_checked=ids_checked)
        del logits
        nll_sum, n_tokens = Floss.cross_entropy_stats(loss_cache)
        if not backward:
            return loss, nll_sum, n_tokens
        grads = self.grads
        for g in grads.values():
            g.fill(0)
        dlogits = Floss.softmax_cross_entropy_backward(loss_weight, loss_cache)
        dzr, dW, db = Fl.affine_backward(dlogits, out_cache)  # eq. 2.2
        grads["dec.emb" if self.cfg.tie_embeddings else "out.W"] += dW  # eq. 13.6 when tied
        grads["out.b"] += db
        if real_rows is None:
            dz = dzr.reshape(z.shape)
        else:
            dz = self.xp.zeros((z.shape[0] * z.shape[1], D), dtype=z.dtype)
            dz[real_rows] = dzr  # the real rows back in place; padding gets exactly 0
            dz = dz.reshape(z.shape)
        dmemory = self._stack_backward("dec", dz, dec_cache, Ft.DECODER_PARAMS, Ft.decoder_layer_backward)
        self._stack_backward("enc", dmemory, enc_cache, Ft.ENCODER_PARAMS, Ft.encoder_layer_backward)
        return loss, nll_sum, n_tokens

    def logits(self, src, src_mask, tgt_in, tgt_mask=None):
        """Eval-mode logits (B, T, V) of the whole gold prefix at once (no dropout)."""
        if tgt_mask is None:
            tgt_mask = self.xp.ones(tgt_in.shape, dtype=self.dtype)
        src, src_mask = self.read_source(src, src_mask)
        memory, _ = self.encoder_forward(src, src_mask)
        z, _ = self.decoder_forward(memory, src_mask, tgt_in, tgt_mask)
        return Fl.affine_forward(z, self._readout_weight(), self.params["out.b"])[0]

    def attention_weights(self, src, src_mask, tgt_in):
        """Cross-attention weights of every decoder layer and head for a gold prefix (eval mode):
        a list of L arrays (B, h, T, S) -- what ``plot attention`` draws."""
        src, src_mask = self.read_source(src, src_mask)
        memory, _ = self.encoder_forward(src, src_mask)
        tgt_mask = self.xp.ones(tgt_in.shape, dtype=self.dtype)
        _, cache = self.decoder_forward(memory, src_mask, tgt_in, tgt_mask)
        return [c.ca.f.heads.weights for c in cache.layers]

    # ----------------------------------------------------------------------- inference

    def encode(self, src, src_mask):
        """Returns (TransformerMemory, states) for :meth:`decode_step`. states: per decoder layer
        (k, v) of its self-attention, the projections of the tokens fed so far, (B, 0, D) at the
        start (eq. 13.8); without the cache, one entry holding the tokens fed so far, (B, 0)."""
        cfg, xp = self.cfg, self.xp
        src, src_mask = self.read_source(src, src_mask)
        values, _ = self.encoder_forward(src, src_mask)
        mask = src_mask.astype(values.dtype)
        keys = []
        for l in range(cfg.layers):
            p = self._layer("dec", l, ["ca_" + n for n in Ft.MHA_PARAMS])
            k, _ = Fl.affine_forward(values, p["ca_Wk"], p["ca_bk"])  # projected once per sentence
            v, _ = Fl.affine_forward(values, p["ca_Wv"], p["ca_bv"])
            keys.append((k, v))
        Bn = src.shape[0]
        if not self.kv_cache:
            return TransformerMemory(values, mask, keys), [(xp.zeros((Bn, 0), dtype=src.dtype),)]
        empty = xp.zeros((Bn, 0, cfg.d_model), dtype=values.dtype)
        return TransformerMemory(values, mask, keys), [(empty, empty) for _ in range(cfg.layers)]

    def decode_step(self, memory, states, prev_ids):
        """prev_ids: (B,) the tokens fed at this step. Returns (log_probs (B, V), states,
        weights (B, S): the last layer's cross-attention, averaged over its heads)."""
        if not self.kv_cache:
            return self._decode_step_recomputed(memory, states, prev_ids)
        cfg = self.cfg
        t = states[0][0].shape[1]  # the position of this step's token
        x, _, _ = self._embed("dec", prev_ids[:, None], None, False, False, offset=t)  # (B, 1, D)
        new_states, w = [], None
        for l in range(cfg.layers):
            p = self._layer("dec", l, Ft.DECODER_PARAMS)
            K, V = states[l]

            def self_attention(u):
                nonlocal K, V
                q, _ = Fl.affine_forward(u, p["sa_Wq"], p["sa_bq"])
                k, _ = Fl.affine_forward(u, p["sa_Wk"], p["sa_bk"])
                v, _ = Fl.affine_forward(u, p["sa_Wv"], p["sa_bv"])
                K = self.xp.concatenate([K, k], axis=1)  # eq. 13.8: one more key per step
                V = self.xp.concatenate([V, v], axis=1)
                # every cached position is <= t, so the one query needs no causal mask
                (C, _), _ = attention_heads_forward(q, K, V, cfg.heads, train=False)
                return Fl.affine_forward(C, p["sa_Wo"], p["sa_bo"])[0], None

            def cross_attention(u):
                nonlocal w
                q, _ = Fl.affine_forward(u, p["ca_Wq"], p["ca_bq"])
                (C, w), _ = attention_heads_forward(q, *memory.keys[l], cfg.heads, key_mask=memory.mask,
                                                    train=False)
                return Fl.affine_forward(C, p["ca_Wo"], p["ca_bo"])[0], None

            def feedforward(u):
                return Ft.feedforward_forward(u, p["ff_W1"], p["ff_b1"], p["ff_W2"], p["ff_b2"],
                                              cfg.activation, train=False)

            for f, n in ((self_attention, 1), (cross_attention, 2), (feedforward, 3)):
                x, _ = Ft._sublayer_forward(x, f, p[f"ln{n}_g"], p[f"ln{n}_b"], cfg.norm_first, 0.0, None,
                                            False, Ft.EPS)
            new_states.append((K, V))
        z, _ = self._final_norm("dec", x, True)
        logits, _ = Fl.affine_forward(z[:, 0], self._readout_weight(), self.params["out.b"])
        return log_softmax(logits, axis=-1), new_states, w[:, :, 0].mean(axis=1)

    def _decode_step_recomputed(self, memory, states, prev_ids):
        """:meth:`decode_step` without the cache: the whole prefix through the decoder again."""
        ids = self.xp.concatenate([states[0][0], prev_ids[:, None]], axis=1)
        tgt_mask = self.xp.ones(ids.shape, dtype=self.dtype)
        z, cache = self.decoder_forward(memory.values, memory.mask, ids, tgt_mask)
        logits, _ = Fl.affine_forward(z[:, -1], self._readout_weight(), self.params["out.b"])
        w = cache.layers[-1].ca.f.heads.weights[:, :, -1].mean(axis=1)
        return log_softmax(logits, axis=-1), [(ids,)], w
