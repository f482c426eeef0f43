"""A recurrent language model: the decoder without a source (after lessons 03-06).

    x ─ embedding ─ cell_1 ─ ... ─ cell_L ─ readout ─ logits ─ next-token cross-entropy

The model reads tokens x_1 .. x_T and at every step predicts the next one,

    h_t^(0) = E[x_t]                                  the embeddings (eq. 2.3)
    h_t^(l) = cell_l(dropout(h_t^(l-1)), h_{t-1}^(l)) each layer (eq. 3.1, 4.1-4.6 or the GRU's)
    p(x_{t+1} | x_1..x_t) = softmax(W_out dropout(h_t^(L)) + b_out)   one factor of eq. 14.1
    L = -(1 / N) sum over real positions of log p(y_t),  y_t = x_{t+1}   (eq. 2.10, eq. 14.2)

with the encoder-decoder's own pieces: :mod:`minis2s.functional.cells` runs each layer over the
window, the decoder's readout (:func:`minis2s.nn.decoder.readout_forward`) gives the logits and
:mod:`minis2s.functional.losses` masks padding out of the loss exactly.

Truncated backpropagation through time: a long text is cut into windows of T tokens, and a
window starts from the state the previous one ended in -- ``forward_backward(..., state=...)``
takes it and returns the new one. The state is a *constant* for the window: its gradient
(which the cells compute anyway, as dh0) is dropped here, so no gradient reaches the previous
window's graph, which is gone by then. That is the truncation (lesson 03, eq. 3.14; eq. 14.5). Each window
costs O(T) memory, however long the text.

Parameters: ``emb`` (V, D); per layer ``l``: ``rnn.l{l}.Wx|Wh|bx|bh``; ``out.W`` (V, H),
``out.b`` (V,).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import backend as B
from ..errors import UserError
from .config import JSONConfig
from ..functional import cells as C
from ..functional import dropout as Fd
from ..functional import linear as Fl
from ..functional import losses as Floss
from ..functional.activations import log_softmax
from ..nn import cells, decoder


@dataclass
class LMConfig(JSONConfig):
    """Everything that fixes the language model's shape; saved as JSON in every checkpoint."""

    what = "language-model config"

    vocab: int
    cell: str = "lstm"
    emb: int = 64
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.0
    pad_id: int = 0

    def validate(self) -> "LMConfig":
        if self.cell not in C.CELLS:
            raise UserError(f"cell must be one of {', '.join(C.CELLS)}, got {self.cell!r}")
        for name in ("vocab", "emb", "hidden", "layers"):
            if int(getattr(self, name)) < 1:
                raise UserError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1), got {self.dropout}")
        return self


class LMCache(NamedTuple):
    """What :meth:`LanguageModel.forward_backward` keeps between its forward and backward.

    embedding: the EmbeddingCache of x; drops: per layer, the dropout cache of its input;
    layers: per layer, the SequenceCache; out_drop: the dropout cache of the top layer's
    outputs; readout: the decoder's ReadoutCache; loss: the CrossEntropyCache.
    """

    embedding: Any
    drops: list
    layers: list
    out_drop: Any
    readout: Any
    loss: Any


class LanguageModel:
    """Parameters and gradients live in two dicts with the same keys (arrays of the backend)."""

    def __init__(self, cfg: LMConfig, seed: int = 0, dtype=None):
        self.cfg = cfg.validate()
        generator = B.rng(seed)
        with B.precision(dtype or B.float_dtype()):
            self.params = init_params(cfg, generator)
        self.grads = {k: B.get_array_module(v).zeros_like(v) for k, v in self.params.items()}

    @property
    def n_params(self) -> int:
        return sum(int(v.size) for v in self.params.values())

    @property
    def dtype(self):
        return self.params["emb"].dtype

    @property
    def xp(self):
        return B.get_array_module(self.params["emb"])

    def load_params(self, arrays: dict) -> None:
        """Copy host arrays into the parameters in place (optimizers keep their references)."""
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise UserError(f"parameters do not fit this language model: missing {sorted(missing)[:5]}, "
                            f"unexpected {sorted(extra)[:5]}")
        for k, v in self.params.items():
            if tuple(arrays[k].shape) != tuple(v.shape):
                raise UserError(f"parameter {k}: checkpoint has shape {tuple(arrays[k].shape)}, "
                                f"model expects {tuple(v.shape)}")
            v[...] = B.to_device(arrays[k], v.dtype)

    def zero_state(self, batch: int) -> list:
        """h_0 = 0 (and c_0 = 0) for every layer: per layer a tuple of (B, H) arrays."""
        zeros = self.xp.zeros((batch, self.cfg.hidden), dtype=self.dtype)
        return [(zeros,) * len(C.CELLS[self.cfg.cell].states) for _ in range(self.cfg.layers)]

    # ----------------------------------------------------------------------- training

    def forward_backward(self, x, y, mask, state=None, *, rng=None, train=True, backward=True,
                         label_smoothing=0.0, real_rows=None, ids_checked=False):
        """Loss of one window and, with ``backward``, every gradient into :attr:`grads`.

        x: (B, T) input ids; y: (B, T) the next tokens (y_t = x_{t+1}); mask: (B, T), 1 on real
        positions; state: per layer the state tuple to start from, each (B, H) -- the previous
        window's final state under truncated BPTT, treated as a constant -- or None for zeros.
        label_smoothing: eps of eq. 2.9 (the figures nll_sum and n_tokens stay unsmoothed).
        real_rows: the flat positions (N,) of the real tokens (see :func:`minis2s.train.real_rows`)
        to run the readout on those alone.

        Returns ((loss, nll_sum, n_tokens), final state), the figures as 0-d arrays (no host
        synchronisation) and the final state per layer, the state after each row's last
        real token, to carry into the next window.
        """
        cfg, p = self.cfg, self.params
        state = self.zero_state(x.shape[0]) if state is None else state
        # the carried state enters as a constant, h_0 = sg(h_T of the previous window) (eq. 14.5)
        hs, final, cache_parts = layers_forward(p, cfg, x, mask, state, rng, train, ids_checked)
        hs, out_drop = Fd.dropout_forward(hs, cfg.dropout, rng, train)
        logits, readout = decoder.readout_forward(p, hs, real_rows)  # the decoder's readout, W_out h + b_out
        targets, m = (y, mask) if real_rows is None else (y.reshape(-1)[real_rows], None)
        loss, loss_cache = Floss.softmax_cross_entropy_forward(logits, targets, mask=m, label_smoothing=label_smoothing,
                                                               ids_checked=ids_checked)
        del logits  # the loss keeps the log-probabilities
        nll_sum, n_tokens = Floss.cross_entropy_stats(loss_cache)
        figures = (loss, nll_sum, n_tokens)
        if not backward:
            return figures, final
        cache = LMCache(*cache_parts, out_drop, readout, loss_cache)
        self.backward(cache)
        return figures, final

    def backward(self, cache: LMCache) -> None:
        """The gradients of the window's mean loss into :attr:`grads` (the reverse of the forward)."""
        cfg, grads = self.cfg, self.grads
        for g in grads.values():
            g.fill(0)
        dlogits = Floss.softmax_cross_entropy_backward(1.0, cache.loss)  # eq. 2.11
        dhs = decoder.readout_backward(dlogits, cache.readout, grads)  # zero on rows left out
        dhs = Fd.dropout_backward(dhs, cache.out_drop)
        layers_backward(dhs, cache, cfg, grads)

    # ----------------------------------------------------------------------- inference

    def encode(self, context, context_mask):
        """Read a context (the prompt but its last token) for :mod:`minis2s.decode`.

        context: (B, P) ids, context_mask: (B, P); P may be 0. Returns (memory, states): the
        language model attends to nothing, so memory is a :class:`NoMemory` that only carries
        the dtype and follows the rows the decoders select; states: per layer, after the context.
        """
        states = self.zero_state(context.shape[0])
        if context.shape[1] > 0:
            _, states, _ = layers_forward(self.params, self.cfg, context, context_mask, states)
        return NoMemory(self.xp.zeros((context.shape[0], 0), dtype=self.dtype)), states

    def decode_step(self, memory, states, prev_ids):
        """prev_ids: (B,) the tokens fed at this step. Returns (log_probs (B, V), states, None)."""
        e, _ = Fl.embedding_forward(prev_ids, self.params["emb"], padding_idx=self.cfg.pad_id)
        x, new_states = e, []
        for l in range(self.cfg.layers):
            state, _ = C.step_forward(self.cfg.cell, x, states[l], cells.weights(self.params, f"rnn.l{l}."))
            new_states.append(state)
            x = state[0]  # h_t, the next layer's input
        logits, _ = decoder.readout_forward(self.params, x)
        return log_softmax(logits, axis=-1), new_states, None


class NoMemory(NamedTuple):
    """The decoders' ``memory`` for a model without a source: ``values`` (B, 0) only says the
    dtype and the number of rows; :meth:`select` follows beam search's reordering."""

    values: Any

    def select(self, index):
        return NoMemory(self.values[index])


# --------------------------------------------------------------------------- the pieces


def init_params(cfg: LMConfig, generator) -> dict:
    p = {"emb": B.uniform_init(generator, (cfg.vocab, cfg.emb), 0.1)}
    p["emb"][cfg.pad_id] = 0.0
    for l in range(cfg.layers):
        p.update(cells.init_params(cfg.cell, cfg.emb if l == 0 else cfg.hidden, cfg.hidden, generator, f"rnn.l{l}."))
    p["out.W"] = B.uniform_init(generator, (cfg.vocab, cfg.hidden), cfg.hidden**-0.5)
    p["out.b"] = B.to_device(B.host.zeros(cfg.vocab), p["emb"].dtype)
    return p


def layers_forward(params, cfg, x, mask, state, rng=None, train=False, ids_checked=False):
    """Embedding, then the L recurrent layers over the window.

    x: (B, T) ids; mask: (B, T); state: per layer the initial state tuple, each (B, H).
    Returns (hs (B, T, H) the top layer's outputs, 0 on padding; final states per layer;
    (embedding cache, dropout caches, layer caches)).
    """
    E = params["emb"]
    h, embedding = Fl.embedding_forward(x, E, padding_idx=cfg.pad_id, ids_checked=ids_checked)
    mask = mask.astype(E.dtype)
    initial = C.kind(cfg.cell).initial  # ("h0",) or ("h0", "c0")
    finals, drops, layers = [], [], []
    for l in range(cfg.layers):
        h, drop = Fd.dropout_forward(h, cfg.dropout, rng, train)
        direction = {**dict(zip(initial, state[l])), **cells.weights(params, f"rnn.l{l}.")}
        (h, final), cache = C.sequence_forward(cfg.cell, h, direction, mask=mask)
        finals.append(final)
        drops.append(drop)
        layers.append(cache)
    return h, finals, (embedding, drops, layers)


def layers_backward(dhs, cache: LMCache, cfg, grads) -> None:
    """BPTT through the layers and into the embeddings (eq. 3.7 per layer). The final states
    feed the next window only as constants, so their gradient is zero, and the gradient of
    the initial states (dh0, dc0) is dropped: that is where truncated BPTT cuts the graph
    (eq. 3.14, eq. 14.5)."""
    dx = dhs
    for l in reversed(range(cfg.layers)):
        # dh0 (and dc0) come back in ddirection and are not passed on: the cut of eq. 14.5
        dx, ddirection = C.sequence_backward((dx, None), cache.layers[l])
        cells.add_grads(grads, f"rnn.l{l}.", ddirection)
        dx = Fd.dropout_backward(dx, cache.drops[l])
    grads["emb"] += Fl.embedding_backward(dx, cache.embedding)

