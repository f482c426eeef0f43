# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 09 — Bidirectional encoders, the bridge, and a whole-model gradient check
#
# **What you will learn**
#
# - bidirectional recurrent layers: a second RNN reads each sentence backwards, so every
#   encoder output has seen the whole source (eq. 9.1–9.3);
# - how to run the backward direction over a *padded* batch — reversing each row within
#   its own length — and why its backward pass reverses the same way (eq. 9.4);
# - the bridge from the encoder's final states to the decoder's first state (eq. 9.5);
# - the two paths by which the gradient reaches the encoder, attention and the bridge
#   (eq. 9.6), seen separately;
# - a gradient check of the entire model, every parameter, against finite differences.
#
# Shapes: B batch, T (or S) length, D input size, H hidden size per direction.

# %%
import os

# Lessons 06-11 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 11 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import numpy as np

from course import show

# %% [markdown]
# ## 1. Reading in both directions
#
# A left-to-right encoder's output $h_s$ summarises $x_1 \dots x_s$: it knows nothing of
# the words to its right. The annotation attention reads for position $s$ should describe
# the word *in its sentence* (Bahdanau et al., 2015): a German verb at the end of a clause
# decides how the words before it translate. A **bidirectional** layer runs two RNNs with
# their own weights, one left to right and one right to left, and concatenates their
# outputs per position.
#
# On a padded batch "right to left" must start at each row's own last real token, not at
# the padding. Reverse each row's real prefix (row $b$ has length $L_b$) and leave the
# padding where it is:
#
# $$
# \operatorname{rev}_L(x)_t = \begin{cases} x_{L-1-t} & t < L \\ x_t & t \ge L \end{cases}
# \qquad\text{(per row, 0-based } t\text{)}, \qquad \operatorname{rev}_L(\operatorname{rev}_L(x)) = x
# \tag{9.1}
# $$
#
# Then the backward direction is an ordinary forward RNN run on the reversed rows, whose
# outputs are reversed back into place:
#
# $$
# \overrightarrow{h} = \operatorname{RNN}_f(x), \qquad
# \overleftarrow{h} = \operatorname{rev}_L\bigl(\operatorname{RNN}_b(\operatorname{rev}_L(x))\bigr)
# \tag{9.2}
# $$
#
# $$
# h_t = \bigl[\,\overrightarrow{h}_t;\ \overleftarrow{h}_t\,\bigr] \qquad (B, T, 2H)
# \tag{9.3}
# $$
#
# Padding stays zero: $\operatorname{RNN}_b$ outputs zeros at padded steps (eq. 3.8) and
# $\operatorname{rev}_L$ leaves those positions in place. The backward direction's *final*
# state is its state after reading token 0 — a summary of the sentence that is freshest
# about its **first** words, the ones a decoder usually needs first.
#
# `reverse_padded` computes (9.1) on the device with one gather — an index array built
# from the lengths, no Python loop over rows and no value read back to the host:

# %%
from minis2s.functional import bidirectional as bi

show(bi.reverse_padded)

ids = np.array([[1, 2, 3, 4, 5], [1, 2, 3, 0, 0], [1, 0, 0, 0, 0]])  # 0 is padding
lengths = np.array([5, 3, 1])
print("x:\n", ids)
print("rev_L(x):\n", bi.reverse_padded(ids, lengths))
print("rev_L(rev_L(x)) == x:", np.array_equal(bi.reverse_padded(bi.reverse_padded(ids, lengths), lengths), ids))

# %% [markdown]
# ## 2. Backward through the reversal
#
# $\operatorname{rev}_L$ only moves entries: for each row it is a permutation matrix $P$,
# $\operatorname{rev}_L(x) = P x$ along the time axis. The backward of a linear map is
# multiplication by its transpose (lesson 01, the vector–Jacobian product), and a
# permutation's transpose is its inverse — here $P$ itself, because $\operatorname{rev}_L$
# undoes itself. So gradients are reversed exactly like values. Split the upstream
# gradient into the two halves of (9.3); the forward direction's half goes through
# $\operatorname{RNN}_f$'s BPTT, the backward direction's half is reversed, goes through
# $\operatorname{RNN}_b$'s BPTT, and the input gradient it produces is reversed back. Both
# directions read the same $x$, so their input gradients add:
#
# $$
# \bar x = \bar x_f + \operatorname{rev}_L\bigl(\bar x_b'\bigr), \qquad
# \bar x_b' = \text{the input gradient of } \operatorname{RNN}_b \text{ for the upstream } \operatorname{rev}_L\bigl(\bar{\overleftarrow{h}}\bigr)
# \tag{9.4}
# $$
#
# The library's pair, with any cell (`"rnn"`, `"lstm"`, `"gru"`), and the one-direction
# helpers it calls:

# %%
show(bi.bidirectional_forward, bi.bidirectional_backward)

# %%
from minis2s.functional import cells

show(cells.sequence_forward, cells.sequence_backward)

# %% [markdown]
# This is PyTorch's bidirectional RNN over a packed sequence, which also starts each row's
# backward direction at its last real token. If PyTorch is installed, we can compare
# outputs and final states on a padded batch:

# %%
rng = np.random.default_rng(0)
Bn, T, D, H = 3, 5, 4, 3
x = rng.standard_normal((Bn, T, D)) * (np.arange(T)[None, :, None] < lengths[:, None, None])
directions = [{"h0": np.zeros((Bn, H)), "Wx": rng.standard_normal((3 * H, D)) * 0.5,
               "Wh": rng.standard_normal((3 * H, H)) * 0.5, "bx": rng.standard_normal(3 * H) * 0.5,
               "bh": rng.standard_normal(3 * H) * 0.5} for _ in range(2)]
(hs, (h_f,), (h_b,)), cache = bi.bidirectional_forward("gru", x, *directions, lengths=lengths)
print("outputs at padded positions are 0:", np.all(hs[1, 3:] == 0), np.all(hs[2, 1:] == 0))

try:
    import torch
except ImportError:
    print("PyTorch is not installed; skipping the comparison with torch.nn.GRU(bidirectional=True)")
else:
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    gru = torch.nn.GRU(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    with torch.no_grad():
        for suffix, d in (("l0", directions[0]), ("l0_reverse", directions[1])):
            for ours, theirs in (("Wx", "weight_ih"), ("Wh", "weight_hh"), ("bx", "bias_ih"), ("bh", "bias_hh")):
                getattr(gru, f"{theirs}_{suffix}").copy_(torch.from_numpy(d[ours]))
        packed = pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths), batch_first=True,
                                      enforce_sorted=False)
        out, h_n = gru(packed)
        out = pad_packed_sequence(out, batch_first=True, total_length=T)[0].numpy()
    print("max |outputs - torch|           :", np.abs(hs - out).max())
    print("max |final states - torch h_n|  :", max(np.abs(h_f - h_n[0].numpy()).max(), np.abs(h_b - h_n[1].numpy()).max()))

# %% [markdown]
# And the gradient checker, for each cell, on a padded batch, on a batch where only one row
# has real tokens, and on $B = T = 1$:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

results = [r for c in suite.CASES if c.name.startswith("bidirectional") for r in suite.run(c)]
print(format_table([r for r in results if r.wrt in ("x", "h0_f", "h0_b", "Wh_f", "Wh_b")]))
print(f"(all {len(results)} checks, every weight and bias of both directions: worst relative error "
      f"{max(r.rel_error for r in results):.1e})")

# %% [markdown]
# ## 3. The bridge
#
# The decoder needs a first state $s_0$. Without attention it is the decoder's only view
# of the source; with attention it still sets the decoder off in the right direction. The
# encoder's final states have a different size ($2H$ when bidirectional), and an LSTM's
# cell state is unbounded, so minis2s maps them with one tanh layer per decoder layer $l$
# (and, for LSTMs, a second one for the cell state):
#
# $$
# s_0^{(l)} = \tanh\Bigl(\bigl[\,\overrightarrow{h}^{(l)}_{\text{final}};\ \overleftarrow{h}^{(l)}_{\text{final}}\,\bigr]\, W^{(l)\top} + b^{(l)}\Bigr)
# \tag{9.5}
# $$
#
# It is an affine map and a tanh, so its backward is lesson 02's (eq. 2.2) after lesson
# 03's tanh slope (eq. 3.3). One part of one layer's state (its $h$, or an LSTM's $c$) is one
# call of `bridge.bridge_state_forward`; the decoder runs it for every layer and part.
#
# ### Exercise: `bridge_state_backward`
#
# Write the bridge's backward: given `ds0`, the gradient of $s_0$ (the decoder's size),
# return `dh, dW, db` — the gradients of the encoder's final state
# $[\overrightarrow{h}; \overleftarrow{h}]$ (twice the encoder's size when it is
# bidirectional) and of the bridge's weight and bias. The grader knows the usual slips: the
# tanh slope missing or written $1 - s_0$, and $\bar W$ transposed. The grader runs the library's own forward, `bridge.bridge_state_forward`; here
# are it and its cache, `BridgeStateCache`, whose fields the stub below lists with their
# shapes:

# %%
from minis2s.exercises import check, solutions
from minis2s.functional import bridge

show(bridge.BridgeStateCache, bridge.bridge_state_forward)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def bridge_state_backward(ds0, cache):
    """Backward of the bridge s0 = tanh(h W^T + b) (lesson 09, eq. 9.5).

    ds0: (B, H), the gradient of the loss with respect to the decoder's first state s0.
    cache (minis2s.functional.bridge.BridgeStateCache, from bridge_state_forward):
        cache.h   (B, Henc)  the encoder's final state [h_fwd; h_bwd]: Henc = 2H for a
                             bidirectional encoder of H units per direction
        cache.W   (H, Henc)  PyTorch's (out, in) layout
        cache.s0  (B, H)     tanh(a): read tanh's slope off it (eq. 3.3)
    Returns dh (B, Henc), dW (H, Henc), db (H,).
    """
    raise NotImplementedError(
        "write eq. 3.3 first: da = ds0 * (1 - s0^2); then eq. 2.2: dh = da W, dW = da^T h, db = the sum of da over the rows"
    )


report = check(bridge_state_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.bridge_state_backward)

# %% [markdown]
# Here is the library's own version, to compare with yours: $\bar a = \bar s_0 \odot (1 -
# s_0^2)$, then lesson 02's affine backward, $\bar h_{\text{final}} = \bar a\, W$,
# $\bar W = \bar a^\top h_{\text{final}}$, $\bar b = \sum_b \bar a$. The decoder's
# `bridge_forward` and `bridge_backward` run it for every layer and part of the state, and
# add each part's parameter gradients into the model's:

# %%
from minis2s.nn import decoder, encoder

show(bridge.bridge_state_backward, decoder.bridge_forward, decoder.bridge_backward)

# %% [markdown]
# ## 4. Two paths into the encoder
#
# With attention, the encoder's outputs $h_s$ reach the loss in two ways: through every
# decoder step's context — as values (8.5) and, for additive attention, as keys projected
# once per batch (8.1) — and through the final states and the bridge. Gradients of a
# quantity used twice add (1.1):
#
# $$
# \bar h_s = \underbrace{\sum_t \alpha_{ts}\,\overline{\mathrm{ctx}}_t \;+\; W_k^{\top}\sum_t \bar k'_{ts}}_{\text{attention}},
# \qquad
# \bar h_{\text{final}} = \underbrace{\bar a\, W}_{\text{bridge}} \;\;\text{(eq. 9.5)}, \qquad
# \bar\theta_{\text{enc}} = \text{BPTT of both}
# \tag{9.6}
# $$
#
# Let us see each path on its own. We run the graph of `Seq2Seq.forward_backward` (lesson
# 06) step by step, with the library's functions, on a small float64 model with a
# bidirectional LSTM encoder and additive attention; then run the encoder's backward twice:
# once with only the attention's gradient, once with only the bridge's.

# %%
from minis2s import backend as B
from minis2s.data import make_batch
from minis2s.functional import losses as Floss
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.train import batch_to_device

cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, cell="lstm", bidirectional=True,
                    attention="additive")
with B.precision("float64"):
    model = Seq2Seq(cfg, seed=0)
gen = np.random.default_rng(1)
# O(1) weights: with the small training initialisation some gradients are ~1e-7, where finite
# differences (section 5) measure their own rounding rather than the backward pass
for p in model.params.values():
    p[...] = gen.normal(0.0, 0.7, size=p.shape)
model.params["enc.emb"][0] = model.params["dec.emb"][0] = 0.0  # the padding rows
batch = make_batch([[4, 5, 6, 7], [8, 4], [5, 6, 7]], [[4, 5, 6], [7, 4, 5], [6]])  # sources of 5, 3, 4 tokens with <eos>
arrays = batch_to_device(batch, "float64")
src, src_mask, tgt_in, tgt_out, tgt_mask = arrays

# the whole model, as training runs it
model.forward_backward(*arrays)
total = model.grads["enc.emb"].copy()

# the same graph, step by step
p, grads = model.params, {k: np.zeros_like(v) for k, v in model.params.items()}
(enc_out, finals), enc_cache = encoder.encoder_forward(p, cfg, src, src_mask)
states, bridge_cache = decoder.bridge_forward(p, cfg, finals)
memory = decoder.make_memory(p, cfg, enc_out, src_mask)
zs, dec_cache = decoder.decoder_forward(p, cfg, memory, states, tgt_in)
logits, readout_cache = decoder.readout_forward(p, zs)
loss, loss_cache = Floss.softmax_cross_entropy_forward(logits, tgt_out, mask=tgt_mask)
dlogits = Floss.softmax_cross_entropy_backward(1.0, loss_cache)
dzs = decoder.readout_backward(dlogits, readout_cache, grads)
dstates, dmemory = decoder.decoder_backward(dzs, dec_cache, cfg, grads)
dfinals = decoder.bridge_backward(dstates, bridge_cache, grads)  # the bridge path
denc_out = decoder.memory_backward(dmemory, memory, p, grads)  # the attention path (9.6)

via_attention = {k: np.zeros_like(v) for k, v in p.items()}
encoder.encoder_backward(denc_out, [(None, None)], enc_cache, cfg, via_attention)
via_bridge = {k: np.zeros_like(v) for k, v in p.items()}
encoder.encoder_backward(np.zeros_like(enc_out), dfinals, enc_cache, cfg, via_bridge)

print("dL/d(encoder outputs) from attention, per position (norms; <eos> included, then padding):")
print(np.linalg.norm(denc_out, axis=2).round(4))
print("\nrows of dL/d(enc.emb), norms:   token  " + "  ".join(f"{v:6d}" for v in range(cfg.src_vocab)))
for label, g in (("via attention", via_attention["enc.emb"]), ("via the bridge", via_bridge["enc.emb"]),
                 ("sum", via_attention["enc.emb"] + via_bridge["enc.emb"]), ("forward_backward", total)):
    print(f"{label:>30s}        " + "  ".join(f"{n:6.3f}" for n in np.linalg.norm(g, axis=1)))
print("\nthe two paths add up to the model's gradient:",
      np.allclose(via_attention["enc.emb"] + via_bridge["enc.emb"], total, rtol=1e-12, atol=1e-14))

# %% [markdown]
# Both paths carry gradient into every source token's embedding that occurs in the batch
# (tokens 0–3 are the specials: `<pad>` — whose row stays exactly zero — `<sos>` and
# `<unk>` never occur in a source, `<eos>` does, once per row). The gradient of the encoder
# outputs from attention is zero at the padded positions: the masked softmax gives them no
# weight (8.4) and no score gradient (8.7). And the two contributions add up to exactly
# what `forward_backward` computed — the chain rule's sum over paths, made visible.
#
# ## 5. The whole model against finite differences
#
# Every op in the model has passed its own gradient check. The last check is of the
# composition — do the gradients cross every joint: the readout, the decoder steps,
# input feeding, attention, the key projection, the bridge, both encoder directions, the
# embeddings, all on a padded batch? For every parameter array we compare the model's
# gradient with centered differences of the loss (eq. 1.5) at a few random coordinates,
# `minis2s.suite.model.check_model` does it with the library's `numerical_gradient` and
# `rel_error` (eq. 1.6); the tests and `python -m minis2s gradcheck --model` run it on six
# configurations.

# %%
from minis2s.gradcheck import format_table
from minis2s.suite.model import MODEL_TOLERANCE, check_model

show(check_model)
results = check_model(cfg, batch=arrays)
print(format_table(results, MODEL_TOLERANCE))

# %% [markdown]
# A single op passes at $10^{-7}$; a whole model strings dozens together, each adding its
# rounding, so the test suite allows $10^{-6}$ for models. The figures above are well
# inside it. The same check on a different architecture — a two-layer GRU with general
# attention, dropout 0.3 (the `DeviceRNG` seed fixes the masks, so every evaluation drops
# the same units), label smoothing, and half the decoder inputs fed from its own
# predictions (lesson 06, eq. 6.6):

# %%
cfg2 = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, cell="gru", layers=2, attention="general",
                     dropout=0.3)
results2 = check_model(cfg2, batch=arrays, label_smoothing=0.1, teacher_forcing=0.5)
worst = max(results2, key=lambda r: r.rel_error)
print(f"{len(results2)} parameter arrays; worst relative error {worst.rel_error:.1e} ({worst.wrt})")

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 09](answers.md#lesson-09), to read after you have tried.
#
# **Q9.1.** Why does the backward direction reverse each row *within its length* (9.1) instead
# of reversing the whole padded row? Say what would go wrong with the padding rule (3.8) and
# with the positions attention reads.
#
# **Q9.2.** Why is the backward of the reversal the same reversal (9.4)? Answer for a general
# permutation first.
#
# **Q9.3.** Section 4 printed the attention path's gradient of the encoder outputs as exactly
# zero at padded positions, and the two paths adding up to the model's gradient. Explain both.
# Why does the whole-model check allow $10^{-6}$ where each op passes at $10^{-7}$?

# %% [markdown]
# ## Summary
#
# - A bidirectional layer runs a second RNN over each row reversed *within its length*
#   (9.1–9.2) and concatenates the two per position (9.3). The reversal is a permutation
#   that is its own inverse, so backward reverses gradients the same way (9.4).
# - The bridge maps the encoder's final states to the decoder's first state with a tanh
#   layer (9.5); its backward is the affine and tanh backward of lessons 02–03.
# - With attention, gradient reaches the encoder through the contexts and through the
#   bridge; the two add (9.6), and each reaches every real source token.
# - The whole model passes a finite-difference check on every parameter array.
#
# **Next:** [lesson 10](10_translation.ipynb) — a real translation task: German to English
# on Multi30k, beam search and BLEU.
