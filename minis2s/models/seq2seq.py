"""The encoder-decoder model: one config, one params dict, one forward/backward (lessons 06-09).

    src ─ encoder ─┬─ outputs ──────────── attention (keys projected once)
                   └─ final states ─ bridge ─ decoder (T steps) ─ readout ─ logits ─ loss

:meth:`Seq2Seq.forward_backward` runs the whole graph for a batch -- encode, bridge, decode,
readout and loss, then their backwards in reverse order -- and leaves every parameter's
gradient in :attr:`Seq2Seq.grads`; :meth:`encode` and :meth:`decode_step` are the
inference path that greedy and beam search use.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import backend as B
from ..errors import UserError
from .config import JSONConfig
from ..functional import linear as Fl
from ..functional import losses as Floss
from ..functional.activations import log_softmax
from ..functional.cells import CELLS
from ..nn import attention as attn
from ..nn import decoder, encoder


@dataclass
class Seq2SeqConfig(JSONConfig):
    """Everything that fixes the model's shape; saved as JSON in every checkpoint."""

    src_vocab: int
    tgt_vocab: int
    cell: str = "lstm"
    emb: int = 64
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = False
    attention: str = "additive"
    attention_size: int | None = None
    input_feeding: bool = True
    dropout: float = 0.0
    tie_embeddings: bool = False
    pad_id: int = 0

    def validate(self) -> "Seq2SeqConfig":
        if self.cell not in CELLS:
            raise UserError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if self.attention not in attn.KINDS:
            raise UserError(f"attention must be one of {', '.join(attn.KINDS)}, got {self.attention!r}")
        for name in ("src_vocab", "tgt_vocab", "emb", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        return self


class Seq2Seq:
    """Parameters and gradients live in two dicts with the same keys (arrays of the backend)."""

    def __init__(self, cfg: Seq2SeqConfig, seed: int = 0, dtype=None):
        self.cfg = cfg.validate()
        generator = B.rng(seed)
        with B.precision(dtype or B.float_dtype()):
            self.params = {**encoder.init_params(cfg, generator), **decoder.init_params(cfg, generator)}
        self.grads = {k: B.get_array_module(v).zeros_like(v) for k, v in self.params.items()}

    @property
    def n_params(self) -> int:
        return sum(int(v.size) for v in self.params.values())

    def load_params(self, arrays: dict) -> None:
        """Copy host arrays into the parameters in place (optimizers keep their references)."""
        missing = set(self.params) - set(arrays)
        extra = set(arrays) - set(self.params)
        if missing or extra:
            raise UserError(
                f"parameters do not fit this model: missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]}"
            )
        for k, v in self.params.items():
            if tuple(arrays[k].shape) != tuple(v.shape):
                raise UserError(f"parameter {k}: checkpoint has shape {tuple(arrays[k].shape)}, model expects {tuple(v.shape)}")
            v[...] = B.to_device(arrays[k], v.dtype)

    @property
    def dtype(self):
        """The parameters' dtype (float32 for training, float64 for gradient checks)."""
        return self.params["dec.emb"].dtype

    @property
    def xp(self):
        """The array module the parameters live on (NumPy, CuPy or the strict stand-in)."""
        return B.get_array_module(self.params["dec.emb"])

    # ----------------------------------------------------------------------- training

    def forward_backward(self, src, src_mask, tgt_in, tgt_out, tgt_mask, *, rng=None, train=True,
                         teacher_forcing=1.0, label_smoothing=0.0, backward=True, real_rows=None,
                         ids_checked=False, loss_weight=1.0):
        """Loss of a batch and, with ``backward``, every gradient into :attr:`grads`.

        src: (B, S) ids, src_mask: (B, S); tgt_in: (B, T) = <sos> y, tgt_out: (B, T) = y <eos>,
        tgt_mask: (B, T). rng: a :class:`minis2s.backend.DeviceRNG` for dropout and sampling.

        teacher_forcing: the probability of feeding the gold token y_{t-1} at step t; otherwise
        the model's own argmax prediction is fed. The argmax is not differentiable, so no
        gradient flows back through that choice: the fed token is a constant for backward, and
        only its embedding row receives gradient (as it would for a gold token).

        Two decisions are the caller's (the trainer's, :mod:`minis2s.train`): real_rows, the
        flat positions (N,) of the real tokens in (B, T), runs the readout and the loss on those
        rows alone (None: all B T rows, the padded ones masked); ids_checked says the token ids
        were range-checked on the host, so no layer reads them back from a device.

        loss_weight scales every gradient (not the loss returned): this batch's weight in a larger
        objective, as when :class:`minis2s.parallel.DataParallel` splits a batch into shards.
        Returns (loss, nll_sum, n_tokens) as 0-d arrays -- no host synchronisation.
        """
        cfg, p, grads = self.cfg, self.params, self.grads
        (enc_out, finals), enc_cache = encoder.encoder_forward(p, cfg, src, src_mask, rng, train, ids_checked)
        states, bridge_cache = decoder.bridge_forward(p, cfg, finals)
        memory = decoder.make_memory(p, cfg, enc_out, src_mask)
        zs, dec_cache = decoder.decoder_forward(p, cfg, memory, states, tgt_in, rng, train, teacher_forcing,
                                                ids_checked)
        logits, readout_cache = decoder.readout_forward(p, zs, real_rows)
        targets, mask = (tgt_out, tgt_mask) if real_rows is None else (tgt_out.reshape(-1)[real_rows], None)
        loss, loss_cache = Floss.softmax_cross_entropy_forward(  # eq. 6.4, the mean -log of eq. 6.1
            logits, targets, mask=mask, label_smoothing=label_smoothing, ids_checked=ids_checked)
        del logits  # the loss keeps the log-probabilities; the logits would only hold memory
        nll_sum, n_tokens = Floss.cross_entropy_stats(loss_cache)
        if not backward:
            return loss, nll_sum, n_tokens
        for g in grads.values():
            g.fill(0)
        dlogits = Floss.softmax_cross_entropy_backward(loss_weight, loss_cache)
        dzs = decoder.readout_backward(dlogits, readout_cache, grads)
        dstates, dmemory = decoder.decoder_backward(dzs, dec_cache, cfg, grads)
        # eq. 9.6: the attention path (denc_out) and the bridge path (dfinals) add in the encoder's BPTT
        denc_out = decoder.memory_backward(dmemory, memory, p, grads)
        dfinals = decoder.bridge_backward(dstates, bridge_cache, grads)
        encoder.encoder_backward(denc_out, dfinals, enc_cache, cfg, grads)
        return loss, nll_sum, n_tokens

    # ----------------------------------------------------------------------- inference

    def encode(self, src, src_mask):
        """Returns (memory, decoder states) for :meth:`decode_step`."""
        (enc_out, finals), _ = encoder.encoder_forward(self.params, self.cfg, src, src_mask)
        states, _ = decoder.bridge_forward(self.params, self.cfg, finals)
        return decoder.make_memory(self.params, self.cfg, enc_out, src_mask), states

    def decode_step(self, memory, states, prev_ids):
        """prev_ids: (B,) the tokens fed at this step. Returns (log_probs (B, V), states, weights (B, S))."""
        e, _ = Fl.embedding_forward(prev_ids, self.params["dec.emb"], padding_idx=self.cfg.pad_id)
        (z, states, w), _ = decoder.step_forward(self.params, self.cfg, memory, states, e)
        logits, _ = decoder.readout_forward(self.params, z)
        return log_softmax(logits, axis=-1), states, w
