"""The bridge and the attentive decoder (lessons 06-08).

Bridge (eq. 8.5): each decoder layer starts from ``tanh(W [h_fwd; h_bwd] + b)`` of the matching
encoder layer's final state (and likewise for the LSTM cell state), so what the encoder read
reaches the decoder's first step.

Decoder step t (Bahdanau et al., 2015; eq. 7.1-7.4):

    c_t   = attention(query = s_{t-1}, keys, values = encoder outputs)   (context)
    s_t   = cell([e_t; c_t], s_{t-1})    e_t the embedding of the token fed at t
    z_t   = [s_t; c_t; e_t]              the readout, dropped out
    logits_t = W_out z_t + b_out         (or, with tied embeddings, E (W_p z_t + b_p) + b_out)

"input feeding" puts c_t into the cell's input; without it c_t only reaches the readout.
Without attention c_t is absent altogether and the bridge is the only path from the source.

Parameters: ``dec.emb`` (V, D); ``dec.l{l}.Wx|Wh|bx|bh``; ``bridge.l{l}.{h,c}.W|b``;
``attn.*`` (:mod:`minis2s.nn.attention`); ``out.W`` (V, R) or ``out.proj.W`` (D, R) with the
tied ``dec.emb``; ``out.b`` (V,).
"""

from __future__ import annotations

from .. import backend as B
from ..functional import activations as Fa
from ..functional import cells as C
from ..functional import dropout as Fd
from ..functional import linear as Fl
from . import attention as attn
from . import cells
from .encoder import output_size


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
    """finals[l]: encoder layer l's final state tuple, each (B, Henc). Returns decoder states."""
    states, caches = [], []
    for l, fin in enumerate(finals):
        layer, layer_cache = [], []
        for s, x in zip(C.CELLS[cfg.cell].states, fin):
            a, ca = Fl.affine_forward(x, params[f"bridge.l{l}.{s}.W"], params[f"bridge.l{l}.{s}.b"])
            y, ct = Fa.tanh_forward(a)
            layer.append(y)
            layer_cache.append((ca, ct))
        states.append(tuple(layer))
        caches.append(layer_cache)
    return states, caches


def bridge_backward(dstates, caches, grads):
    """Returns dfinals in the shape of ``finals``; accumulates bridge gradients."""
    dfinals = []
    for l, (dlayer, layer_cache) in enumerate(zip(dstates, caches)):
        out = []
        for s, d, (ca, ct) in zip(("h", "c"), dlayer, layer_cache):
            dx, dW, db = Fl.affine_backward(Fa.tanh_backward(d, ct), ca)
            grads[f"bridge.l{l}.{s}.W"] += dW
            grads[f"bridge.l{l}.{s}.b"] += db
            out.append(dx)
        dfinals.append(tuple(out))
    return dfinals


# --------------------------------------------------------------------------- readout


def readout_forward(params, z):
    """z: (..., R) -> logits (..., V)."""
    if "out.proj.W" in params:
        p, c1 = Fl.affine_forward(z, params["out.proj.W"], params["out.proj.b"])
        logits, c2 = Fl.affine_forward(p, params["dec.emb"], params["out.b"])
        return logits, (c1, c2)
    logits, c = Fl.affine_forward(z, params["out.W"], params["out.b"])
    return logits, (c,)


def readout_backward(dlogits, cache, grads):
    if len(cache) == 2:
        dp, dE, db = Fl.affine_backward(dlogits, cache[1])
        grads["dec.emb"] += dE
        grads["out.b"] += db
        dz, dW, db = Fl.affine_backward(dp, cache[0])
        grads["out.proj.W"] += dW
        grads["out.proj.b"] += db
        return dz
    dz, dW, db = Fl.affine_backward(dlogits, cache[0])
    grads["out.W"] += dW
    grads["out.b"] += db
    return dz


# --------------------------------------------------------------------------- memory


class Memory:
    """What the decoder reads from the encoder: values (B, S, Henc), keys, the source mask."""

    def __init__(self, values, keys, mask, keys_cache=None):
        self.values, self.keys, self.mask, self.keys_cache = values, keys, mask, keys_cache

    def select(self, index):
        """Rows ``index`` (beam search repeats and reorders sentences)."""
        return Memory(self.values[index], self.keys[index], self.mask[index])


def make_memory(params, cfg, enc_out, src_mask) -> Memory:
    mask = src_mask.astype(enc_out.dtype)
    if cfg.attention == "none":
        return Memory(enc_out, enc_out, mask)
    keys, kc = attn.keys_forward(params, enc_out)
    return Memory(enc_out, keys, mask, kc)


# --------------------------------------------------------------------------- one step


def step_forward(params, cfg, memory, states, e, rng=None, train=False):
    """One decoder step. e: (B, D) embedding of the fed token (already dropped out);
    states: per layer tuples of (B, H). Returns ((z (B, R), new_states, weights (B, S)), cache)."""
    xp = B.get_array_module(e)
    q = states[-1][0]
    if cfg.attention != "none":
        (ctx, w), acache = attn.step_forward(cfg.attention, params, q, memory.keys, memory.values, memory.mask)
        x = xp.concatenate([e, ctx], axis=1) if cfg.input_feeding else e
    else:
        ctx = w = acache = None
        x = e
    new_states, ccaches, dcaches = [], [], []
    for l in range(cfg.layers):
        if l > 0:
            x, dc = Fd.dropout_forward(x, cfg.dropout, rng, train)
            dcaches.append(dc)
        st, cc = C.step_forward(cfg.cell, x, states[l], cells.weights(params, f"dec.l{l}."))
        new_states.append(st)
        ccaches.append(cc)
        x = st[0]
    parts = [x, ctx, e] if ctx is not None else [x, e]
    z = xp.concatenate(parts, axis=1)
    return (z, new_states, w), (acache, ccaches, dcaches)


def step_backward(params, cfg, dz, dstates, cache, memory_grads, grads):
    """dz: (B, R) gradient of the readout input; dstates: per layer tuples of (B, H), the
    gradient arriving from step t+1. Returns (de (B, D), dstates_prev) and adds this step's
    dkeys / dvalues into ``memory_grads`` and parameter gradients into ``grads``."""
    acache, ccaches, dcaches = cache
    H, D = cfg.hidden, cfg.emb
    Henc = output_size(cfg)
    attends = cfg.attention != "none"
    dctx = dz[:, H : H + Henc] if attends else None
    de = dz[:, H + Henc :] if attends else dz[:, H:]
    dx = dz[:, :H]  # the readout reads the top layer's new state
    dprev = [None] * cfg.layers
    for l in reversed(range(cfg.layers)):
        ds = list(dstates[l])
        ds[0] = ds[0] + dx
        dx, dprev[l], dweights = C.step_backward(cfg.cell, tuple(ds), ccaches[l])
        cells.add_grads(grads, f"dec.l{l}.", dweights)
        if l > 0:
            dx = Fd.dropout_backward(dx, dcaches[l - 1])
    if not attends:
        return de + dx, dprev
    if cfg.input_feeding:
        de = de + dx[:, :D]
        dctx = dctx + dx[:, D:]
    else:
        de = de + dx
    dq, dk, dv, dparams = attn.step_backward(cfg.attention, dctx, acache)
    memory_grads["keys"] += dk
    memory_grads["values"] += dv
    for name, g in dparams.items():
        grads[name] += g
    top = dprev[-1]
    dprev[-1] = (top[0] + dq,) + tuple(top[1:])  # the query was s_{t-1}
    return de, dprev
