"""The bridge, the attentive decoder and its readout (lessons 06-09).

Bridge (eq. 9.5): each decoder layer starts from ``tanh(W [h_fwd; h_bwd] + b)`` of the matching
encoder layer's final state (and likewise for the LSTM cell state), so what the encoder read
reaches the decoder's first step.

Decoder step t (Bahdanau et al., 2015; eq. 6.3 with lesson 08's attention, eq. 8.1-8.5):

    ctx_t  = attention(query = s_{t-1}, keys, values = encoder outputs)   (the context, ctx)
    s_t    = cell([e_t; ctx_t], s_{t-1})    e_t the embedding of the token fed at t
    zeta_t = [s_t; ctx_t; e_t]              the readout input (z), dropped out
    logits_t = W_out zeta_t + b_out         (or, with tied embeddings, E (W_p zeta_t + b_p) + b_out)

"input feeding" puts ctx_t into the cell's input; without it ctx_t only reaches the readout.
Without attention ctx_t is absent altogether and the bridge is the only path from the source.
(c_t is the LSTM's cell state, lesson 04; z_t the GRU's update gate, lesson 05.)

The pairs, in the order the model runs them: :func:`bridge_forward`, :func:`make_memory` (the
keys, once per batch), :func:`decoder_forward` (the T steps, each :func:`step_forward`) and
:func:`readout_forward`; the backwards run in reverse: :func:`readout_backward`,
:func:`decoder_backward`, :func:`memory_backward`, :func:`bridge_backward`.

Parameters: ``dec.emb`` (V, D); ``dec.l{l}.Wx|Wh|bx|bh``; ``bridge.l{l}.{h,c}.W|b``;
``attn.*`` (:mod:`minis2s.nn.attention`); ``out.W`` (V, R) or ``out.proj.W`` (D, R) with the
tied ``dec.emb``; ``out.b`` (V,).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .. import backend as B
from ..functional import bridge as Fb
from ..functional import cells as C
from ..functional import dropout as Fd
from ..functional import linear as Fl
from . import attention as attn
from . import cells
from .encoder import output_size


class BridgeCache(NamedTuple):
    """What :func:`bridge_forward` saves for one part (h or c) of one layer's state (eq. 9.5).

    prefix: its parameters' names, ``bridge.l{l}.{h,c}.``; state: the
    :class:`~minis2s.functional.bridge.BridgeStateCache` of s0 = tanh(h_final W^T + b).
    """

    prefix: str
    state: Any


class DecoderStepCache(NamedTuple):
    """What :func:`step_forward` saves for :func:`step_backward`.

    attention: the attention's cache, None without attention; cells: per layer, the cell's
    step cache; drops: per layer, the dropout cache of its input (None for layer 0, whose input
    [e_t; ctx_t] is not dropped out again).
    """

    attention: Any
    cells: list
    drops: list


class DecoderCache(NamedTuple):
    """What :func:`decoder_forward` saves for :func:`decoder_backward`.

    steps: T :class:`DecoderStepCache`; embedding: the EmbeddingCache of the tokens fed (B, T);
    emb_drop: the embeddings' dropout cache -- one for all T steps under teacher forcing, else
    a list of T; z_drop: the dropout cache of the readout inputs (B, T, R); memory: the
    :class:`Memory` attended to; final: the states after step T, whose gradient is zero;
    forced: whether every step was fed the gold token.
    """

    steps: list
    embedding: Any
    emb_drop: Any
    z_drop: Any
    memory: Any
    final: list
    forced: bool


class ReadoutCache(NamedTuple):
    """What :func:`readout_forward` saves for :func:`readout_backward`.

    proj: the tied projection's AffineCache (None without tied embeddings); out: the output
    layer's AffineCache; rows: the flat positions of z read (None: all of them); shape: z's.
    """

    proj: Any
    out: Any
    rows: Any
    shape: tuple


# --------------------------------------------------------------------------- sizes and init


def readout_size(cfg) -> int:
    return cfg.hidden + cfg.emb + (output_size(cfg) if cfg.attention != "none" else 0)


def cell_input_size(cfg, layer: int) -> int:
    if layer > 0:
        return cfg.hidden
    feeds = cfg.attention != "none" and cfg.input_feeding
    return cfg.emb + (output_size(cfg) if feeds else 0)


def init_params(cfg, generator) -> dict:
    H, Henc, R = cfg.hidden, output_size(cfg), readout_size(cfg)
    p = {"dec.emb": B.uniform_init(generator, (cfg.tgt_vocab, cfg.emb), 0.1)}
    p["dec.emb"][cfg.pad_id] = 0.0
    for l in range(cfg.layers):
        p.update(cells.init_params(cfg.cell, cell_input_size(cfg, l), H, generator, f"dec.l{l}."))
        for s in C.CELLS[cfg.cell].states:
            p[f"bridge.l{l}.{s}.W"] = B.uniform_init(generator, (H, Henc), Henc**-0.5)
            p[f"bridge.l{l}.{s}.b"] = B.uniform_init(generator, (H,), Henc**-0.5)
    p.update(attn.init_params(cfg.attention, H, Henc, cfg.attention_size or H, generator))
    if cfg.tie_embeddings:
        p["out.proj.W"] = B.uniform_init(generator, (cfg.emb, R), R**-0.5)
        p["out.proj.b"] = B.uniform_init(generator, (cfg.emb,), R**-0.5)
    else:
        p["out.W"] = B.uniform_init(generator, (cfg.tgt_vocab, R), R**-0.5)
    p["out.b"] = B.to_device(B.host.zeros(cfg.tgt_vocab), p["dec.emb"].dtype)
    return p


# --------------------------------------------------------------------------- bridge


def bridge_forward(params, cfg, finals):
    """finals[l]: encoder layer l's final state tuple, each (B, Henc).               (eq. 9.5)

    Returns (states, caches): per decoder layer, the initial state tuple s_0 = tanh(W h + b)
    of each part (h, and c for the LSTM), each (B, H), and a list of :class:`BridgeCache`.
    """
    states, caches = [], []
    for l, final in enumerate(finals):
        state, layer_caches = [], []
        for s, h in zip(C.CELLS[cfg.cell].states, final):
            prefix = f"bridge.l{l}.{s}."
            s0, cache = Fb.bridge_state_forward(h, params[prefix + "W"], params[prefix + "b"])
            state.append(s0)
            layer_caches.append(BridgeCache(prefix, cache))
        states.append(tuple(state))
        caches.append(layer_caches)
    return states, caches


def bridge_backward(dstates, caches, grads):
    """Returns dfinals in the shape of ``finals``; accumulates bridge gradients."""
    dfinals = []
    for dstate, layer_caches in zip(dstates, caches):
        dfinal = []
        for ds0, cache in zip(dstate, layer_caches):
            dh, dW, db = Fb.bridge_state_backward(ds0, cache.state)  # eq. 9.5
            grads[cache.prefix + "W"] += dW
            grads[cache.prefix + "b"] += db
            dfinal.append(dh)
        dfinals.append(tuple(dfinal))
    return dfinals


# --------------------------------------------------------------------------- memory


class Memory(NamedTuple):
    """What the decoder reads from the encoder. values: (B, S, Henc), the encoder outputs;
    keys: (B, S, K), projected once per batch (:func:`minis2s.nn.attention.keys_forward`);
    mask: (B, S), 1 on real source tokens; keys_cache: what the keys' backward needs."""

    values: Any
    keys: Any
    mask: Any
    keys_cache: Any = None

    def select(self, index):
        """Rows ``index`` (beam search repeats and reorders sentences)."""
        return Memory(self.values[index], self.keys[index], self.mask[index])


def make_memory(params, cfg, enc_out, src_mask) -> Memory:
    mask = src_mask.astype(enc_out.dtype)
    if cfg.attention == "none":
        return Memory(enc_out, enc_out, mask)
    keys, keys_cache = attn.keys_forward(params, enc_out)
    return Memory(enc_out, keys, mask, keys_cache)


def memory_backward(dmemory, memory, params, grads):
    """dmemory: {"keys", "values"}, their gradients summed over the decoder's steps.

    Returns denc_out (B, S, Henc): the values' gradient plus the keys', through their
    projection when there is one (whose gradient goes into ``grads``).
    """
    dkeys_to_enc, dparams = attn.keys_backward(params, dmemory["keys"], memory.keys_cache)
    for name, g in dparams.items():
        grads[name] += g
    return dmemory["values"] + dkeys_to_enc


# --------------------------------------------------------------------------- one step


def step_forward(params, cfg, memory, states, e, rng=None, train=False):
    """One decoder step. e: (B, D) embedding of the fed token (already dropped out);
    states: per layer tuples of (B, H). Returns ((z (B, R), new_states, weights (B, S)), cache)."""
    xp = B.get_array_module(e)
    if cfg.attention != "none":  # the query is the top layer's s_{t-1} (eq. 8.1-8.5)
        (ctx, w), attention = attn.step_forward(cfg.attention, params, states[-1][0], memory.keys,
                                                memory.values, memory.mask)
        x = xp.concatenate([e, ctx], axis=1) if cfg.input_feeding else e
    else:
        ctx = w = attention = None
        x = e
    new_states, cell_caches, drops = [], [], [None]
    for l in range(cfg.layers):
        if l > 0:
            x, drop = Fd.dropout_forward(x, cfg.dropout, rng, train)
            drops.append(drop)
        state, cache = C.step_forward(cfg.cell, x, states[l], cells.weights(params, f"dec.l{l}."))
        new_states.append(state)
        cell_caches.append(cache)
        x = state[0]  # h_t, the next layer's input
    z = xp.concatenate([x, ctx, e] if ctx is not None else [x, e], axis=1)  # zeta_t = [s_t; ctx_t; e_t]
    return (z, new_states, w), DecoderStepCache(attention, cell_caches, drops)


def step_backward(dz, dstates, cache, cfg, dmemory, grads):
    """dz: (B, R) gradient of the readout input zeta_t; dstates: per layer tuples of (B, H), the
    gradient arriving from step t+1. Returns (de (B, D), dstates_prev) and adds this step's
    dkeys / dvalues into ``dmemory`` and parameter gradients into ``grads``."""
    H, D, Henc = cfg.hidden, cfg.emb, output_size(cfg)
    attends = cfg.attention != "none"
    if attends:  # zeta_t = [s_t; ctx_t; e_t]
        dx, dctx, de = dz[:, :H], dz[:, H : H + Henc], dz[:, H + Henc :]
    else:  # zeta_t = [s_t; e_t]
        dx, de = dz[:, :H], dz[:, H:]
    dprev = [None] * cfg.layers
    for l in reversed(range(cfg.layers)):  # layer l's s_t feeds layer l+1 (the top one zeta_t) and step t+1
        dh, *dc = dstates[l]
        dx, dprev[l], dweights = C.step_backward(cfg.cell, (dh + dx, *dc), cache.cells[l])
        cells.add_grads(grads, f"dec.l{l}.", dweights)
        dx = Fd.dropout_backward(dx, cache.drops[l])
    if not attends:
        return de + dx, dprev
    if cfg.input_feeding:  # the cell read [e_t; ctx_t]
        de = de + dx[:, :D]
        dctx = dctx + dx[:, D:]
    else:
        de = de + dx
    dq, dkeys, dvalues, dparams = attn.step_backward(cfg.attention, dctx, cache.attention)
    dmemory["keys"] += dkeys
    dmemory["values"] += dvalues
    for name, g in dparams.items():
        grads[name] += g
    dh, *dc = dprev[-1]
    dprev[-1] = (dh + dq, *dc)  # the query was the top layer's s_{t-1}
    return de, dprev


# --------------------------------------------------------------------------- the T steps


def decoder_forward(params, cfg, memory, states, tgt_in, rng=None, train=False, teacher_forcing=1.0,
                    ids_checked=False):
    """All T decoder steps. tgt_in: (B, T) ids, <sos> first; states: the bridge's.

    Returns (zs (B, T, R), DecoderCache): every step's readout input, dropped out. Step t is fed
    the gold y_{t-1} with probability ``teacher_forcing``, else the model's own argmax
    prediction from step t-1 (eq. 6.5), drawn on the device; the fed tokens are constants for
    backward (eq. 6.6).
    """
    E = params["dec.emb"]
    xp = B.get_array_module(E)
    Bsz, T = tgt_in.shape
    forced = teacher_forcing >= 1.0
    if forced:  # every input is known: embed all steps at once
        emb, embedding = Fl.embedding_forward(tgt_in, E, padding_idx=cfg.pad_id, ids_checked=ids_checked)
        emb, emb_drop = Fd.dropout_forward(emb, cfg.dropout, rng, train)
    else:
        fed, emb_drop = xp.empty_like(tgt_in), []
    zs = xp.empty((Bsz, T, readout_size(cfg)), dtype=E.dtype)
    steps, prediction = [], None  # prediction: the argmax of step t-1, fed when not forced
    for t in range(T):
        if forced:
            e = emb[:, t]
        else:  # <sos>, then the gold token with probability rho, else the prediction (eq. 6.5)
            if t == 0:
                ids = tgt_in[:, 0]
            else:
                gold = rng.uniform((Bsz,), E.dtype) < teacher_forcing
                ids = xp.where(gold, tgt_in[:, t], prediction)
            fed[:, t] = ids
            e, _ = Fl.embedding_forward(ids, E, padding_idx=cfg.pad_id, ids_checked=ids_checked)
            e, drop = Fd.dropout_forward(e, cfg.dropout, rng, train)
            emb_drop.append(drop)
        (z, states, _), cache = step_forward(params, cfg, memory, states, e, rng, train)
        zs[:, t] = z
        steps.append(cache)
        if not forced:
            logits, _ = readout_forward(params, z)
            prediction = logits.argmax(axis=-1)
    zs, z_drop = Fd.dropout_forward(zs, cfg.dropout, rng, train)
    if not forced:  # the fed tokens, as if they had been given (eq. 6.6); each was checked above
        _, embedding = Fl.embedding_forward(fed, E, padding_idx=cfg.pad_id, ids_checked=True)
    return zs, DecoderCache(steps, embedding, emb_drop, z_drop, memory, states, forced)


def decoder_backward(dzs, cache, cfg, grads):
    """dzs: (B, T, R), the gradient of the readout inputs.

    Returns (dstates, dmemory): the gradient of the bridge's states s_0, and {"keys", "values"}
    summed over the steps; adds the decoder's parameter gradients into ``grads``.
    """
    xp = B.get_array_module(dzs)
    dzs = Fd.dropout_backward(dzs, cache.z_drop)
    dstates = [tuple(xp.zeros_like(s) for s in state) for state in cache.final]  # s_T feeds nothing
    dmemory = {"keys": xp.zeros_like(cache.memory.keys), "values": xp.zeros_like(cache.memory.values)}
    Bsz, T = dzs.shape[:2]
    de = xp.empty((Bsz, T, cfg.emb), dtype=dzs.dtype)
    for t in reversed(range(T)):  # BPTT: step t gets dzeta_t (dz) and the gradient of s_t from t+1
        de_t, dstates = step_backward(dzs[:, t], dstates, cache.steps[t], cfg, dmemory, grads)
        de[:, t] = de_t if cache.forced else Fd.dropout_backward(de_t, cache.emb_drop[t])
    if cache.forced:
        de = Fd.dropout_backward(de, cache.emb_drop)
    grads["dec.emb"] += Fl.embedding_backward(de, cache.embedding)
    return dstates, dmemory


# --------------------------------------------------------------------------- readout


def readout_forward(params, z, rows=None):
    """z: (..., R) -> logits (..., V); with ``rows``, z: (B, T, R) and logits (N, V) for the N
    flat positions ``rows`` alone.

    rows: the real target tokens' positions: padded positions add nothing to the loss
    (eq. 2.10) and get zero gradient (eq. 2.11), so skipping their readout changes no figure
    and saves its GEMMs, three quarters of a translation step.
    """
    shape = z.shape
    if rows is not None:
        z = z.reshape(-1, shape[-1])[rows]
    if "out.proj.W" in params:  # tied: logits = E p + b_out, p = W_p z + b_p
        p, proj = Fl.affine_forward(z, params["out.proj.W"], params["out.proj.b"])
        logits, out = Fl.affine_forward(p, params["dec.emb"], params["out.b"])
    else:  # logits = W_out z + b_out
        proj = None
        logits, out = Fl.affine_forward(z, params["out.W"], params["out.b"])
    return logits, ReadoutCache(proj, out, rows, shape)


def readout_backward(dlogits, cache, grads):
    """Returns dz in the shape of z, zero at the positions ``rows`` left out (eq. 2.11)."""
    if cache.proj is None:
        dz, dW, db = Fl.affine_backward(dlogits, cache.out)  # eq. 2.2
        grads["out.W"] += dW
    else:  # the tied output weight is the embedding table: its gradient adds to the embeddings'
        dp, dE, db = Fl.affine_backward(dlogits, cache.out)  # eq. 2.2
        grads["dec.emb"] += dE
        dz, dWp, dbp = Fl.affine_backward(dp, cache.proj)
        grads["out.proj.W"] += dWp
        grads["out.proj.b"] += dbp
    grads["out.b"] += db
    if cache.rows is None:
        return dz
    dense = B.get_array_module(dz).zeros((math.prod(cache.shape[:-1]), cache.shape[-1]), dtype=dz.dtype)
    dense[cache.rows] = dz  # the real rows back in place
    return dense.reshape(cache.shape)
