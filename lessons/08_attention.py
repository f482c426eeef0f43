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
# # Lesson 08 — Attention
#
# **What you will learn**
#
# - why one final state is a bottleneck, and how attention removes it (Bahdanau et al.,
#   2015; Luong et al., 2015);
# - three ways to score a source position: additive, dot (and scaled dot), general
#   (eq. 8.1–8.3); the masked softmax and the context vector (eq. 8.4–8.5);
# - masking done exactly: padded positions get weight **zero**, not a small number;
# - the backward pass (eq. 8.6–8.8) — and you will write the additive one;
# - attention heatmaps, and the classic result on the dates task: the same model without
#   attention gets few dates exactly right, with attention practically all of them.
#
# Shapes: B batch, S source length, H decoder size (the query), A attention size; the
# encoder's outputs are the keys and values, $(B, S, H_{\text{enc}})$.
#
# **Notation.** Vectors are rows, as in the code: a layer is $x W^{\top}$, never $W x$.
# Each symbol below has one meaning in this lesson, and the code's name beside it:
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $t$ | the decoder's time step | |
# | $s$, $j$ | source positions | |
# | $q$ | the query, the decoder state $s_{t-1}$ $(H)$ | `q` |
# | $k_s$, $k'_s = k_s W_k^{\top}$ | key, projected key $(A)$ | `keys`, `keys_proj` |
# | $v_s$ | value | `values` |
# | $u_s = q W_q^{\top} + k'_s$ | additive attention's hidden pre-activation $(A)$ | (`du` its gradient) |
# | $\tau_s = \tanh(u_s)$ | additive attention's hidden layer $(A)$ | `t` |
# | $w$ | additive attention's score vector $(A)$ (Bahdanau's $v_a$) | `v` |
# | $\ell_s$ | the score of position $s$ (the softmax's logit) | `scores` (`de` its gradient) |
# | $\ell^{*}$ | the largest real score (the max shift) | `c` in `_masked_softmax` |
# | $\kappa$ | dot attention's scale, 1 or $1/\sqrt H$ | `scale` |
# | $\tilde q = q W$ | general attention's query seen by every key | `u` |
# | $M_s$ | the source mask | `mask` |
# | $\alpha_s$ ($\alpha_{ts}$ at step $t$) | attention weight | `weights` (`da` its gradient) |
# | $\mathrm{ctx}_t$ | the context (the cell state of lesson 04 keeps the letter c) | `context`, `ctx` |
# | $e_t$ | the embedding of the token fed at step $t$ | |
# | $\sigma$ | the logistic sigmoid (lessons 04, 05), nothing else | |
# | $\bar x$ | the gradient of the loss with respect to $x$ | `dx` |

# %%
import os

# Lessons 06-11 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 11 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, solutions

# %% [markdown]
# ## 1. The bottleneck
#
# In lesson 06 the decoder saw the source only through the encoder's final state: an
# $H$-vector had to carry every letter of the string, and the errors gathered in the
# middle of long strings. The encoder had computed a state $h_s$ *per source position* —
# an annotation of token $s$ in its left context — and then thrown all but the last away.
#
# **Attention** keeps them all. At every decoder step a *query* (the decoder's state)
# scores each encoder output, a softmax turns the scores into weights that sum to one,
# and the weighted average of the encoder outputs, the *context* $\mathrm{ctx}_t$, joins the
# decoder's input and its readout. The decoder can look at the source positions it needs
# right now — the last letters first when reversing, the year when writing the year of a
# date. And the gradient reaches every encoder position directly, not only through $T$
# decoder steps and $S$ encoder steps.
#
# ## 2. Scores, weights, context
#
# Write $q$ for the query (the decoder state $s_{t-1}$, a row), $k_s$ for the key and $v_s$
# for the value of source position $s$; in minis2s both are the encoder output $h_s$. Each
# scoring function gives a score $\ell_s$ per position. Three of them:
#
# **Additive** (Bahdanau): a one-hidden-layer network of the query and the key. The key's
# half $k'_s = k_s W_k^{\top}$ does not depend on the step, so it is computed **once per
# batch**, for all positions, by one matrix product:
#
# $$
# \ell_s = \tau_s\, w^{\top}, \qquad \tau_s = \tanh(u_s), \qquad
# u_s = q\, W_q^{\top} + k'_s, \qquad k'_s = k_s W_k^{\top}
# \tag{8.1}
# $$
#
# with $W_q$ $(A, H)$, $W_k$ $(A, H_{\text{enc}})$ and the score vector $w$ $(A)$ (the code
# calls it `v`, after Bahdanau's $v_a$; here $v$ is kept for the values).
#
# **Dot** (Luong): no parameters, $q$ and $k_s$ must have one size. The *scaled* variant
# divides by $\sqrt H$: for vectors with independent unit-variance entries the dot product
# has variance $H$, and large scores saturate the softmax, whose gradient then vanishes:
#
# $$
# \ell_s = q\, k_s^{\top} \qquad\text{or}\qquad \ell_s = \frac{q\, k_s^{\top}}{\sqrt{H}}
# \tag{8.2}
# $$
#
# **General** (Luong): a bilinear form, $W$ $(H, H_{\text{enc}})$:
#
# $$
# \ell_s = q\, W k_s^{\top}
# \tag{8.3}
# $$
#
# **Weights.** A softmax over the *real* source positions only. With $M_s \in \{0, 1\}$ the
# source mask and $\ell^{*} = \max_{j:\, M_j = 1} \ell_j$ the largest real score (the
# shift of eq. 2.5):
#
# $$
# \alpha_s = \frac{M_s\, \exp(\ell_s - \ell^{*})}{\sum_j M_j \exp(\ell_j - \ell^{*})}
# \tag{8.4}
# $$
#
# **Context.** The weighted average of the values:
#
# $$
# \mathrm{ctx}_t = \sum_s \alpha_s\, v_s
# \tag{8.5}
# $$
#
# The library's module docstring lists these equations, with the backward ones we derive
# in section 5:

# %%
from minis2s.functional import attention as Fatt

print(Fatt.__doc__)
show(Fatt.masked_softmax_forward, Fatt._masked_softmax, Fatt._context)

# %%
show(Fatt.additive_attention_forward, Fatt.dot_attention_forward, Fatt.general_attention_forward)

# %% [markdown]
# ## 3. Masking, exactly
#
# A batch of sources is padded. Attention must not attend to padding, and "not" should mean
# *exactly* zero: a tiny weight on a padded position still mixes garbage into the context,
# and (worse) makes the result depend on what the padding holds. Equation (8.4) multiplies
# by the mask **after** the exponential, so a padded position's weight is $0 \cdot
# \exp(\dots) = 0$ whatever its score. Two details make it robust: the exponent at padding
# is replaced by 0 before `exp`, so even an infinite padded score cannot produce
# `inf * 0 = nan`; and a row with no real position at all divides by 1 instead of 0,
# giving all-zero weights and a zero context rather than `nan`.
#
# A batch with lengths 5, 2 and 0:

# %%
rng = np.random.default_rng(0)
Bn, S, H = 3, 5, 4
lengths = np.array([5, 2, 0])
mask = (np.arange(S)[None, :] < lengths[:, None]).astype(float)
q = rng.standard_normal((Bn, H))
keys, values = rng.standard_normal((Bn, S, H)), rng.standard_normal((Bn, S, H))

(context, weights), _ = Fatt.dot_attention_forward(q, keys, values, mask)
np.set_printoptions(precision=3, suppress=True)
print("weights:\n", weights)
print("padded weights exactly zero:", np.all(weights[mask == 0] == 0.0))
print("rows sum to:", weights.sum(axis=1), "(the empty row: 0)")

# whatever the padding holds, the result is bit-for-bit the same
keys2, values2 = keys.copy(), values.copy()
keys2[mask == 0], values2[mask == 0] = 1e6, -1e6
(context2, weights2), _ = Fatt.dot_attention_forward(q, keys2, values2, mask)
print("garbage in the padding changes nothing:", np.array_equal(context, context2), np.array_equal(weights, weights2))

# %% [markdown]
# Compare two common shortcuts. Adding $-\infty$ to padded scores before a plain softmax
# gives the same weights on ordinary rows but `nan` on the empty row ($-\infty - (-\infty)$);
# adding $-10^9$ avoids the `nan`, but the shift cancels in the softmax and the empty row
# gets the softmax of its padded scores — it attends to garbage:

# %%
from minis2s.functional.activations import softmax

scores = (keys @ q[:, :, None])[..., 0]
with np.errstate(invalid="ignore"):
    print("-inf on padding:\n", softmax(scores + np.where(mask > 0, 0.0, -np.inf)))
print("-1e9 on padding:\n", softmax(scores + np.where(mask > 0, 0.0, -1e9)))

# %% [markdown]
# ## 4. Attention in the decoder
#
# At step $t$ the query is the previous state $s_{t-1}$ (Bahdanau's choice). The context
# enters the cell's input — *input feeding*, so the cell knows what it attended to — and
# the readout, $\zeta_t = [s_t; \mathrm{ctx}_t; e_t]$ ($e_t$ the embedding of the token fed at step $t$). The decoder's docstring states the step:

# %%
from minis2s.nn import attention as attn
from minis2s.nn import decoder

print(decoder.__doc__)

# %% [markdown]
# `minis2s.nn.attention` puts the three kinds behind one interface: `keys_forward` prepares
# the keys once per batch (additive attention's $k'_s = k_s W_k^{\top}$ is one
# $(B \cdot S, H_{\text{enc}}) \times (H_{\text{enc}}, A)$ product), `step_forward` attends
# with one query:

# %%
show(attn.keys_forward, attn.step_forward)

# %% [markdown]
# ### Exercise: `decoder_step_forward`
#
# Before the library's version, write the step yourself from the docstring above, with the
# library's attention and cell (`attn.step_forward`, and `C.step_forward` of
# `minis2s.functional.cells`): the context from the query $s_{t-1}$, the cell on
# $[e_t; \mathrm{ctx}_t]$ (input feeding), then $\zeta_t = [s_t; \mathrm{ctx}_t; e_t]$. The grader runs it on three
# seeded one-layer LSTM decoders with additive attention and padded sources, and compares
# $\zeta_t$ (`z`), the new state and the attention weights with those of the library's
# `decoder.step_forward`. Watch for: which state is the query, the cell's input, and the
# order in $\zeta_t$.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` runs your
# function and the library's on the same seeded inputs and compares what they return; where
# they differ it says which output, where and by how much, and it names the mistake when it
# is a common one. (`check` prints its report and returns it: `report.passed` is True once
# you are done.)

# %%
from minis2s.exercises import references
from minis2s.functional import cells as C
from minis2s.nn import cells

show(C.step_forward, cells.weights)  # the two helpers the stub names, besides attn.step_forward


# %%
def decoder_step_forward(params, cfg, memory, states, e):
    """One step of the attentive decoder, one LSTM layer, input feeding (lesson 08, eq. 8.1-8.5).

    params: the model's parameter dict; cfg: its Seq2SeqConfig (cfg.attention, cfg.cell).
    memory: the encoder's outputs, memory.keys (B, S, A), memory.values (B, S, Henc),
        memory.mask (B, S).
    states: [(s_prev, c_prev)], the layer's state before the step, each (B, H).
    e: (B, D), the embedding of the token fed at this step.
    Use the library's pieces (imported as in lesson 08):
        (context, weights), _ = attn.step_forward(cfg.attention, params, query, memory.keys,
                                                  memory.values, memory.mask)
        (h, c), _ = C.step_forward(cfg.cell, x, state, cells.weights(params, "dec.l0."))
    with attn = minis2s.nn.attention, C = minis2s.functional.cells, cells = minis2s.nn.cells.
    Returns z (B, H + Henc + D) = zeta_t = [s_t; ctx_t; e_t], new_states [(h, c)], weights (B, S).
    """
    raise NotImplementedError(
        "write the context first: attention with the query s_{t-1} = states[0][0] (eq. 8.1-8.5)"
    )


report = check(decoder_step_forward)

# %% [markdown]
# The library's own function, graded the same way; this is what a pass looks like:

# %%
report = check(references.decoder_step_forward)

# %% [markdown]
# The decoder step of lesson 06 (eq. 6.3) with attention added: the context comes first,
# from the query $s_{t-1}$, then joins the cell's input and the readout:

# %%
show(decoder.step_forward)

# %% [markdown]
# ## 5. Backward
#
# The step receives $\overline{\mathrm{ctx}}$ $(B, H_v)$, the gradient of the context, and possibly
# $\bar\alpha$, a gradient on the returned weights (`None` in the model; the exercise grader
# sends one, so that both outputs are checked). Work back through (8.5), (8.4), (8.1).
#
# **The context** $\mathrm{ctx} = \sum_s \alpha_s v_s$ is linear in each factor (for one batch row, and
# one step $t$, whose subscript we drop):
#
# $$
# \bar\alpha_s = \overline{\mathrm{ctx}}\, v_s^{\top} \;\; (+\ \text{the upstream } \bar\alpha_s), \qquad \bar v_s = \alpha_s\, \overline{\mathrm{ctx}}
# \tag{8.6}
# $$
#
# **The masked softmax.** For real positions $s, j$, differentiating the quotient (8.4)
# gives $\partial \alpha_s / \partial \ell_j = \alpha_s(\delta_{sj} - \alpha_j)$, the softmax Jacobian of
# lesson 02; a padded $\alpha_s$ is the constant 0. By the chain rule,
# $\bar \ell_j = \sum_s \bar\alpha_s\, \alpha_s (\delta_{sj} - \alpha_j)$:
#
# $$
# \bar \ell_j = \alpha_j \Bigl(\bar\alpha_j - \sum_s \alpha_s \bar\alpha_s\Bigr)
# \tag{8.7}
# $$
#
# The factor $\alpha_j$ makes $\bar \ell_j = 0$ at every padded position, with no extra masking:
# no gradient reaches a padded key.
#
# **The additive score** $\ell_s = \tau_s w^\top$, $\tau_s = \tanh(u_s)$,
# $u_s = q W_q^{\top} + k'_s$. Through the product with $w$ and the tanh (eq. 3.3),
# $\bar u_s$ is the gradient of the tanh's input, $(A)$ per position; it flows unchanged
# into both terms of the sum. The query term $q W_q^{\top}$ is the **same** for every $s$
# (it is broadcast over the positions), so its gradient is the sum over $s$ — the
# "gradients add" rule once more:
#
# $$
# \bar u_s = \bar \ell_s\, w \odot (1 - \tau_s^2), \quad
# \bar k'_s = \bar u_s, \quad
# \bar q = \Bigl(\sum_s \bar u_s\Bigr) W_q, \quad
# \bar W_q = \sum_b \Bigl(\sum_s \bar u_{bs}\Bigr)^{\!\top} q_b, \quad
# \bar w = \sum_{b, s} \bar \ell_{bs}\, \tau_{bs}
# \tag{8.8}
# $$
#
# The key projection $k'_s = k_s W_k^{\top}$ was computed once per batch, so its backward
# runs once too, after all $T$ steps have added their $\bar k'$: $\bar W_k = \sum_{b,s}
# \bar k'^{\top}_{bs} k_{bs}$ and $\bar k_s = \bar k'_s W_k$, summed over steps.
#
# For dot attention $\ell_s = \kappa\, q k_s^\top$ ($\kappa = 1$ or $1/\sqrt H$), so
# $\bar q = \kappa \sum_s \bar \ell_s k_s$ and $\bar k_s = \kappa\, \bar \ell_s q$; for
# general attention write $\tilde q = q W$ (`u` in the code), then
# $\ell_s = \tilde q\, k_s^\top$ is a dot score: $\bar{\tilde q} = \sum_s \bar \ell_s k_s$,
# $\bar k_s = \bar \ell_s \tilde q$, $\bar q = \bar{\tilde q}\, W^\top$,
# $\bar W = q^\top \bar{\tilde q}$ (summed over the batch).

# %% [markdown]
# ### Exercise: `additive_attention_backward`
#
# Write the backward pass of additive attention for one query. Given
# `dout = (dcontext, dweights)` and the forward's cache (which holds `q`, `values`, `Wq`,
# `v` $= w$, the hidden layer `t` $= \tau = \tanh(q W_q^{\top} + k')$ and the `weights`), return
# `dq, dkeys_proj, dvalues, dWq, dv` (eq. 8.6–8.8). Watch for: the upstream `dweights`
# added to $\bar\alpha$, the softmax's subtracted sum (8.7), the tanh slope, and the sum over
# source positions in $\bar q$ and $\bar W_q$.
#
# The grader runs the library's own forward, `attention.additive_attention_forward`. Its cache
# is a `NamedTuple` whose fields are named as in the notation table at the top (`v` is $w$,
# `t` is $\tau$), so you read `cache.x` rather than unpacking a tuple. Here is `AdditiveAttentionCache`; the stub below lists its fields with
# their shapes:

# %%
from minis2s.functional import attention

show(attention.AdditiveAttentionCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def additive_attention_backward(dout, cache):
    """Backward of Bahdanau attention for one query (lesson 08, eq. 8.1, 8.4-8.8).

    dout = (dcontext (B, Hv), dweights (B, S)): the forward returns (context, weights).
    cache (minis2s.functional.attention.AdditiveAttentionCache, from additive_attention_forward):
        cache.q        (B, Hq)     the query
        cache.values   (B, S, Hv)
        cache.Wq       (A, Hq)
        cache.v        (A,)        the score vector w: scores_s = t_s . v (eq. 8.1)
        cache.t        (B, S, A)   tau = tanh(q Wq^T + keys_proj) (eq. 8.1)
        cache.weights  (B, S)      the attention weights alpha_s (eq. 8.4), 0 at padding
    Returns dq (B, Hq), dkeys_proj (B, S, A), dvalues (B, S, Hv), dWq (A, Hq), dv (A,).
    """
    raise NotImplementedError(
        "write eq. 8.6 first: dalpha_s = v_s . dcontext + dweights_s, dvalues_s = alpha_s dcontext"
    )


report = check(additive_attention_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.additive_attention_backward)

# %% [markdown]
# Here is the library's own version, to compare with yours: the context's backward (8.6) and
# the masked softmax's (8.7) are helpers that dot and general attention share, and the
# additive backward adds (8.8):

# %%
show(Fatt.masked_softmax_backward, Fatt._context_backward, Fatt.additive_attention_backward)

# %% [markdown]
# Dot and general attention reuse the two helpers with their own score backward; the
# decoder's attention layer (`minis2s.nn.attention`) runs the key projection's backward once
# and one of the three per step:

# %%
show(Fatt.dot_attention_backward, Fatt.general_attention_backward, attn.keys_backward, attn.step_backward)

# %% [markdown]
# **In the decoder.** One decoder step's backward undoes the step in reverse. The readout
# gradient $\bar\zeta_t$ splits into its three parts $[\bar s_t; \overline{\mathrm{ctx}}_t; \bar e_t]$; the
# state part joins the gradient arriving from step $t+1$ and goes through the cell; with
# input feeding the cell's input gradient splits again into embedding and context parts,
# and the context's two gradients add; attention's backward then yields $\bar q$ — which
# joins the gradient of $s_{t-1}$, since the query *is* $s_{t-1}$ — and this step's share
# of $\bar k'$ and $\bar v$, accumulated over all steps for the encoder. The readout
# backward is an affine backward (eq. 2.2); when training skipped the padded positions'
# readout, it puts the real rows' gradients back in place, with zeros for the padding:

# %%
show(decoder.step_backward, decoder.readout_backward)

# %% [markdown]
# Summed over the steps, the keys' and values' gradients reach the encoder outputs: the
# values directly, the keys through their projection (for additive attention):

# %%
show(decoder.memory_backward)

# %% [markdown]
# The gradient checker confirms every kind against finite differences, on padded batches,
# a batch of one with one position, and a batch where every row but one is mostly padding:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

print(format_table([r for c in suite.attention.CASES for r in suite.run(c)]))

# %% [markdown]
# ## 6. Dates, with and without attention
#
# The `dates` task turns a date written in one of ten formats and three cases into ISO
# form: `Tuesday, September 27, 1994` → `1994-09-27`, `9/27/94` → `1994-09-27`,
# `DEC 1ST, 2001` → `2001-12-01`. The output's characters come from different places in
# the input depending on the format — exactly what attention is for. We train the task's
# recipe (`minis2s/recipes.py`: a GRU encoder-decoder of size 64, Adam at $5 \cdot 10^{-3}$)
# twice, with additive attention and without.
#
# Both get the same number of updates: 900 steps each in fast mode — seconds on a CPU —
# and 6,000 without it, about what the one-minute budget of `benchmarks/RESULTS.md` buys
# on the project's development machine. This notebook's full run (2026-11-30) printed
# **100.00%** held-out exact match with attention and **2.60%** without (83.7% of the
# characters right); the one-minute benchmark in `benchmarks/RESULTS.md`, trained by time
# rather than steps, records 100.00% and 14.05%.

# %%
import pathlib
import tempfile

from minis2s.train import build_run
from minis2s.recipes import recipe
from minis2s.tasks import exact_match
from minis2s.train import TrainConfig

RUNS = pathlib.Path(tempfile.mkdtemp(prefix="minis2s-lesson07-"))
r = recipe("dates")
print("recipe:", r)
budget = {"minutes": None, "max_steps": 900 if FAST else 6000, "eval_every": 300 if FAST else 500}
data = {**r["data"], "n_test": 200} if FAST else r["data"]
runs = {}
for variant in ("additive", "none"):
    tc = TrainConfig(**{**r["train"], **budget})
    task, trainer = build_run({"kind": "toy", "name": "dates", "seed": 0, "data": data},
                              {**r["model"], "attention": variant}, tc, RUNS / variant, quiet=True)
    summary = trainer.fit()
    runs[variant] = (task, trainer, summary, exact_match(trainer.model, task, task.test))

print(f"\n{'attention':10s} {'steps':>6s} {'seconds':>8s} {'exact match':>12s} {'token accuracy':>15s}")
for variant, (task, trainer, summary, figures) in runs.items():
    print(f"{variant:10s} {summary['steps']:6d} {summary['train_seconds']:8.1f} "
          f"{figures['exact_match']:12.2%} {figures['token_accuracy']:15.2%}")

# %% [markdown]
# (The numbers above are on held-out dates the models never saw; the seconds count
# training only, validation excluded.) Without attention the model learns the *format* —
# most characters are right, the dashes always — but rarely a whole date: the day or the
# month is off. With attention it gets practically every date right, in far fewer steps.
#
# Attention does not make the impossible possible here. Dates are short, and the model
# without attention, trained about twice as long again, gets most of them right as well
# (we measured 99.8% after 11,400 steps). What attention changes is how *hard* the task is
# to learn: the decoder reads each digit where it is instead of from a compressed summary
# of the whole input. The advantage grows with the length of the input; on sentences
# (lesson 10) it is decisive.
#
# The loss curves show the same story:

# %%
from minis2s import plots

fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
for ax, variant in zip(axes, runs):
    plots.loss_curves(RUNS / variant, ax=ax)
    ax.set_title(f"dates, attention = {variant}")
plt.show()

# %% [markdown]
# ## 7. Heatmaps: where the decoder looks
#
# `plots.attention_heatmap` greedy-decodes one input and draws the weights $\alpha_s$ of every
# output step (rows) over the source characters (columns). Read each row as "to write this
# character, the decoder looked there":

# %%
from minis2s.inference import Translator

translator = Translator.load(RUNS / "additive")
examples = ["Tuesday, September 27, 1994", "9/27/94", "DEC 1ST, 2001", "1 january 1900"]
for src, out in zip(examples, translator.translate(examples)):
    print(f"{src:>28s} -> {out}")

fig, axes = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [2.2, 1]})
for ax, sentence in zip(axes, examples[:2]):
    plots.attention_heatmap(translator, sentence, ax=ax)
    ax.set_title(sentence)
plt.tight_layout()
plt.show()

# %% [markdown]
# The year digits attend to the year, the month digits to the month — its number, or the
# few letters of its name that tell it from the other months — and the day digits to the
# day. The weekday
# gets almost no attention: it is redundant with the date. Where a digit is copied, the
# weight sits on that digit; where it must be *computed* (`sep` → `09`), it spreads over
# the letters that decide it. Attention is not an explanation of the model, but it is a
# good picture of where information flows.

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 08](answers.md#lesson-08), to read after you have tried.
#
# **Q8.1.** Section 3 printed padded weights exactly 0 and "garbage in the padding changes
# nothing: True True". Why must padding get *exactly* zero weight, not just a tiny one? What
# goes wrong on an empty row with $-\infty$ added to the scores, and with $-10^9$?
#
# **Q8.2.** Without attention the dates model got most characters right but few whole dates;
# with attention nearly all. What does the model without attention learn, what does it fail
# at, and what does attention change — the possibility or the difficulty of the task?
#
# **Q8.3.** Why does scaled dot-product attention divide by $\sqrt H$ (8.2)? Use the softmax
# backward (8.7) to say what happens to the gradient when the scores are large.

# %% [markdown]
# ## Summary
#
# - Attention scores every encoder output against the decoder's state — additive (8.1),
#   dot / scaled dot (8.2), general (8.3) — normalises the scores over the real positions
#   (8.4) and averages the values (8.5). The key projection of additive attention is
#   computed once per batch.
# - Masking multiplies by the mask after the exponential: padded positions get exactly
#   zero weight, whatever they hold, and an empty row gets zero weights instead of `nan`.
# - Backward: context (8.6), softmax Jacobian (8.7, zero at padding), the additive
#   network (8.8) with sums over positions where a quantity was broadcast.
# - On dates, attention turns a model that learns the format into one that gets the
#   dates right.
#
# **Next:** [lesson 09](09_bidirectional_bridge.ipynb) — encoder outputs that have read
# the whole source (bidirectional), the bridge, and a gradient check of the whole model.
