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
# # Lesson 12 — Multi-head attention, layer norm and the Transformer layer
#
# **What you will learn**
#
# - from lesson 08's one query to **self-attention**: every position of a sequence queries
#   every other at once, one matrix product instead of a loop over time;
# - **scaled** dot-product attention, and why the scale is $1/\sqrt{d}$: measured, not
#   asserted (eq. 12.1–12.4);
# - **multi-head** attention, the heads cut out of the features by a reshape that copies
#   nothing;
# - key-padding and **causal** masks, applied to the scores before the softmax — and a
#   demonstration that the output at $t$ cannot see what comes after $t$;
# - the backward pass (eq. 12.5–12.6) — you will write it;
# - **layer normalisation** and its backward (eq. 12.7–12.8) — you will write that too;
# - the position-wise feed-forward network, ReLU and GELU (eq. 12.9–12.11), sinusoidal
#   **positional encodings** (eq. 12.12–12.13);
# - residual connections and **pre- versus post-norm** layers, and why they let deep stacks
#   train: the gradient at the first layer of a deep stack, measured (eq. 12.14–12.17);
# - the encoder and decoder layers, gradient-checked and compared with PyTorch's.
#
# Shapes: B batch, T target (query) length, S source (key) length, D the model size
# ($d_{\text{model}}$), h the number of heads ($n_h$ in the math: $h$ is a hidden state),
# d = D / h the head size, F the feed-forward hidden size.
#
# **Notation.** Rows are vectors, as in every lesson: a layer is $x W^{\top}$.
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $t$, $s$ | a query position, a key position | |
# | $x_t$ | the input at position $t$ $(D)$ | `x`, `query` |
# | $Q, K, V$ | queries, keys, values: projections of the inputs ($V$ is the values; the vocabulary size is $|\mathcal V|$) | `q`, `k`, `v` |
# | $Q_j, K_j, V_j$ | head $j$'s slice, $(T, d)$ / $(S, d)$ | `cache.Q[:, j]`, ... |
# | $\ell_{ts}$ | the score of key $s$ for query $t$ (the softmax's logit) | `scores` (`dl` its gradient) |
# | $M_{ts}$ | the mask: 1 where query $t$ may see key $s$ | `mask` |
# | $\alpha_{ts}$ | attention weight | `weights` |
# | $C_j$, $C$ | head $j$'s context, the heads side by side | `C` |
# | $\operatorname{mean}(x), \operatorname{sd}(x), \hat x$ | a row's mean, spread and standardised values ($\sigma$ stays the sigmoid, $\mu$ momentum's coefficient) | `xhat`, `rstd` $=1/\operatorname{sd}$ |
# | $\gamma, \beta$ | layer norm's gain and bias $(D)$ | `gamma`, `beta` |
# | $\mathrm{PE}$ | the sinusoidal position table $(T, D)$ | `sinusoidal_table` |
# | $\bar x$ | the gradient of the loss with respect to $x$ | `dx` |

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, solutions
from minis2s.functional import activations as Fa
from minis2s.functional import attention as Fatt
from minis2s.functional import layernorm, multihead, positional, transformer

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. From one query to a whole sequence
#
# In lesson 08 the decoder, at step $t$, asked one question — its state $q$ — of the
# encoder's outputs, and got one context back (eq. 8.2, 8.4–8.5). **Self-attention** asks a
# question at *every* position of a sequence at once: position $t$'s query $Q_t$ is scored
# against every position's key $K_s$, and the weights average the values $V_s$. Nothing is
# recurrent: the $T$ queries are independent, so the whole step is matrix products, and a
# position reaches any other in one step instead of $|t - s|$.
#
# The queries, keys and values are three affine maps (eq. 2.1) of the inputs — of the same
# sequence for self-attention, of the decoder (queries) and the encoder (keys, values) for
# cross-attention. Lesson 08's scaled dot score, run for all $t$ at once, is one product
# $Q K^{\top}$. Here it is checked against lesson 08's function, called once per query:

# %%
Bn, T, D = 2, 5, 8
x = rng.standard_normal((Bn, T, D))
q, k, v = x @ rng.standard_normal((D, D)).T, x @ rng.standard_normal((D, D)).T, x
real = np.ones((Bn, T))

loop = np.stack([Fatt.dot_attention_forward(q[:, t], k, v, real, scaled=True)[0][0] for t in range(T)], axis=1)
scores = q @ k.transpose(0, 2, 1) / np.sqrt(D)  # (B, T, T): every query against every key
weights = np.exp(scores - scores.max(-1, keepdims=True))
weights /= weights.sum(-1, keepdims=True)
print("one product vs lesson 08 in a loop over t: max |difference| =",
      np.abs(weights @ v - loop).max())

# %% [markdown]
# ## 2. Scaled dot-product attention, and why $1/\sqrt{d}$
#
# If the entries of $Q_t$ and $K_s$ are independent with mean 0 and variance 1, their dot
# product is a sum of $d$ such products: its variance is $d$. Scores with a spread of
# $\sqrt{d}$ push the softmax into saturation — one weight near 1, the rest near 0 — where its
# Jacobian $\alpha_j(\delta_{js} - \alpha_s)$ (eq. 8.7) is near zero and the queries and keys
# barely learn. Dividing by $\sqrt{d}$ brings the scores back to variance 1 whatever the head
# size. Measured on random unit-variance queries and keys:

# %%
print("    d | var(score)  var(scaled) | largest weight     | softmax gradient norm")
print("      |                         | unscaled  scaled   | unscaled  scaled")
for d in (4, 16, 64, 256, 1024):
    Qr, Kr = rng.standard_normal((2000, d)), rng.standard_normal((2000, 16, d))
    raw = (Kr @ Qr[:, :, None])[..., 0]  # 2000 queries, 16 keys each
    row = []
    for sc in (raw, raw / np.sqrt(d)):
        a = np.exp(sc - sc.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        g = rng.standard_normal(a.shape)  # a random upstream gradient through eq. 8.7
        dl = a * (g - (a * g).sum(-1, keepdims=True))
        row.append((a.max(-1).mean(), np.linalg.norm(dl, axis=-1).mean()))
    print(f"{d:5d} | {raw.var():9.1f}  {(raw / np.sqrt(d)).var():9.2f}   | "
          f"{row[0][0]:7.3f}  {row[1][0]:7.3f}   | {row[0][1]:7.4f}  {row[1][1]:7.4f}")

# %% [markdown]
# Unscaled, the largest weight climbs towards 1 and the gradient through the softmax shrinks
# as $d$ grows; scaled, both stay put. (Random vectors are the situation at initialisation;
# a trained model can still learn sharp weights where it needs them.)
#
# ## 3. Multi-head attention
#
# One softmax per query gives one way of averaging. **Multi-head** attention runs $n_h$
# attentions side by side, each on its own $d = D/n_h$ features, so one head can follow
# syntax while another copies a word. The projections are the usual affine maps (eq. 2.1),
# then each is cut into $n_h$ heads:
#
# $$
# Q = x_q W_q^{\top} + b_q,\quad K = x_k W_k^{\top} + b_k,\quad V = x_v W_v^{\top} + b_v,\qquad
# Q = [\,Q_1 \mid \dots \mid Q_{n_h}\,],\ Q_j \in \mathbb{R}^{T \times d}
# \tag{12.1}
# $$
#
# Each head scores its queries against its keys, scaled, where the mask allows:
#
# $$
# \ell_{ts} = \frac{Q_{j,t}\, K_{j,s}^{\top}}{\sqrt d}\quad\text{where } M_{ts} = 1
# \ (\text{key } s \text{ is real, and } s \le t \text{ if causal})
# \tag{12.2}
# $$
#
# $$
# \alpha_{ts} = \frac{M_{ts}\, e^{\ell_{ts}}}{\sum_{s'} M_{ts'}\, e^{\ell_{ts'}}}
# \qquad\text{(lesson 08's masked softmax, eq. 8.4, over } s)
# \tag{12.3}
# $$
#
# and the heads' contexts, side by side, go through a last affine map (with dropout on the
# weights in training, eq. 7.11: $\tilde\alpha$):
#
# $$
# C_j = \tilde\alpha\, V_j,\qquad C = [\,C_1 \mid \dots \mid C_{n_h}\,],\qquad y = C W_o^{\top} + b_o
# \tag{12.4}
# $$
#
# A padded query position's output is set to 0, as the recurrent layers do.
#
# ### The heads are a view
#
# Cutting $(B, T, D)$ into $(B, n_h, T, d)$ is a `reshape` to $(B, T, n_h, d)$ — head $j$ is the
# slice of features $jd \dots (j+1)d$ — then a `transpose` that moves the head axis forward.
# Neither copies: NumPy only changes the strides with which it reads the same buffer.
# Merging back has to copy once, because the transposed array is not contiguous:

# %%
h = 2
qx = rng.standard_normal((Bn, T, D))
heads = multihead.split_heads(qx, h)
print("split shape", heads.shape, "| shares memory with q:", np.shares_memory(heads, qx),
      "| strides (bytes)", heads.strides)
qx[0, 1, 5] = 42.0  # feature 5 of position 1 is feature 1 of head 1
print("heads[0, 1, 1, 1] after writing into q:", heads[0, 1, 1, 1])
merged = multihead.merge_heads(heads)
print("merge restores q:", np.array_equal(merged, qx), "| merge is a copy:", not np.shares_memory(merged, qx))
show(multihead.split_heads, multihead.merge_heads, multihead.attention_mask)

# %% [markdown]
# ### Masks act before the softmax
#
# A mask applied *after* the softmax (zeroing the weights of the future) would leave rows
# that no longer sum to 1, and the exponentials of the hidden positions would still have set
# the denominator: the future would leak into the present through it. The masked softmax
# (eq. 12.3) removes them from the sum itself. The test: change the inputs at positions after
# $t$ and look at the output at $t$ — it must not move, not by one rounding error. The same
# for padded keys, whatever they hold:

# %%
def mha_params(D, rng):
    ps = []
    for _ in range(4):
        ps += [rng.standard_normal((D, D)) / np.sqrt(D), 0.1 * rng.standard_normal(D)]
    return ps


params = mha_params(D, rng)
x = rng.standard_normal((Bn, T, D))
(y, w), _ = multihead.multihead_attention_forward(x, x, x, *params, h, causal=True)
t = 2
x_changed = x.copy()
x_changed[:, t + 1:] = 100 * rng.standard_normal((Bn, T - t - 1, D))  # a different future
(y2, _), _ = multihead.multihead_attention_forward(x_changed, x_changed, x_changed, *params, h, causal=True)
print(f"causal: outputs at positions <= {t} moved by", np.abs(y2[:, :t + 1] - y[:, :t + 1]).max(),
      "| after it by", np.abs(y2[:, t + 1:] - y[:, t + 1:]).max().round(2))
print("weights of query 2 over the keys (head 0, row 0):", w[0, 0, t].round(3))

mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=float)
(y, _), _ = multihead.multihead_attention_forward(x, x, x, *params, h, key_mask=mask, query_mask=mask)
x_changed = x.copy()
x_changed[1, 3:] = 1e3 * rng.standard_normal((2, D))  # garbage in the padding
(y2, _), _ = multihead.multihead_attention_forward(x_changed, x_changed, x_changed, *params, h,
                                                   key_mask=mask, query_mask=mask)
print("key padding: outputs moved by", np.abs(y2 - y).max(), "| padded outputs:", np.abs(y2[1, 3:]).max())

# %% [markdown]
# The forward, in two parts: the heads between the projections (eq. 12.2–12.4), and the
# whole layer around them (eq. 12.1, 12.4). In self-attention the three projections read the
# same input, so the layer stacks $[W_q; W_k; W_v]$ into one $(3D, D)$ product (`key=None`),
# as torch's `in_proj_weight` does: the same numbers, in a third of the GEMM calls.

# %%
show(multihead.attention_heads_forward, multihead.multihead_attention_forward)

# %% [markdown]
# ## 4. The backward pass
#
# Go backwards through eq. 12.4. $C_j = \tilde\alpha V_j$ is a matrix product, so (eq. 2.2
# with the roles read off the shapes), per head, and through dropout (eq. 7.12) to
# $\bar\alpha$:
#
# $$
# \bar{\tilde\alpha} = \bar C_j V_j^{\top},\qquad \bar V_j = \tilde\alpha^{\top} \bar C_j
# \tag{12.5}
# $$
#
# where $\bar C_j$ is $\bar C$ cut into heads *the same way the forward cut $Q$* (the
# backward of a merge is a split), and $\bar y$ reached $\bar C$ through $W_o$ (eq. 2.2).
# The softmax backward is lesson 08's (eq. 8.7), row by row; then the scores' product and
# its scale:
#
# $$
# \bar\ell_{ts} = \alpha_{ts}\Bigl(\bar\alpha_{ts} - \sum_{s'} \alpha_{ts'}\bar\alpha_{ts'}\Bigr),
# \qquad \bar Q_j = \frac{\bar\ell\, K_j}{\sqrt d},\qquad \bar K_j = \frac{\bar\ell^{\top} Q_j}{\sqrt d}
# \tag{12.6}
# $$
#
# and the heads' $\bar Q_j, \bar K_j, \bar V_j$ merge back to $(B, T, D)$ before the
# projections' backward (eq. 2.2). A masked $(t, s)$ has $\alpha_{ts} = 0$, so $\bar\ell_{ts} = 0$:
# padded keys and the future get exactly no gradient, with no extra masking. One curiosity:
# $b_k$ adds $Q_t\, b_k^{\top}$ to every score of row $t$ alike, which the softmax ignores,
# so $\bar b_k = 0$ exactly (torch's is 0 too).
#
# ### Exercise: `attention_heads_backward`
#
# Write the backward of the heads (eq. 12.5–12.6): given `dout = (dC, dweights)` — the
# forward returns the merged contexts and the weights — return `dq, dk, dv`, each merged
# back to $(B, \cdot, D)$. The grader runs the library's forward,
# `multihead.attention_heads_forward`, on a causal, padded batch with two heads. Its cache is
# an `AttentionHeadsCache`: the heads `Q`, `K`, `V`, the (already masked) `weights`, the
# dropout mask `drop` (None here) and the `scale`. Watch for: splitting `dC` and merging
# the results in the right order, the $1/\sqrt d$, the softmax's subtracted sum, and using
# the forward's weights rather than recomputing them.

# %%
show(multihead.AttentionHeadsCache)


# %%
def attention_heads_backward(dout, cache):
    """Backward of the heads of multi-head attention, between the projections (lesson 12, eq. 12.2-12.6).

    dout = (dC (B, T, D), dweights (B, h, T, S)): the forward returns (C, weights), C the heads'
    contexts side by side, C[:, t] = [C_1 | ... | C_h] at position t.
    cache (minis2s.functional.multihead.AttentionHeadsCache, from attention_heads_forward):
        cache.Q        (B, h, T, d)  the query heads: q.reshape(B, T, h, d).transpose(0, 2, 1, 3)
        cache.K        (B, h, S, d)  the key heads, split the same way
        cache.V        (B, h, S, d)  the value heads
        cache.weights  (B, h, T, S)  alpha (eq. 12.3), already masked: exactly 0 where key s is
                                     padding, where s > t (causal), and on a padded query's row
        cache.drop     None here     the dropout mask of alpha (no dropout in this exercise)
        cache.scale    float         1 / sqrt(d), the scores' scale (eq. 12.2)
    Returns dq (B, T, D), dk (B, S, D), dv (B, S, D), heads merged back like C.
    """
    raise NotImplementedError(
        "write eq. 12.5 first: split dC into heads like the forward split q, then dalpha = dC V^T and dV = alpha^T dC"
    )


report = check(attention_heads_backward)

# %% [markdown]
# The library's backward, graded the same way — what a pass looks like:

# %%
report = check(solutions.attention_heads_backward)

# %% [markdown]
# And its source, to compare with yours; the whole layer's backward adds the projections'
# (eq. 2.2) around it. The masked softmax's backward is lesson 08's:

# %%
show(multihead.attention_heads_backward, multihead.multihead_attention_backward, Fatt.masked_softmax_backward)

# %% [markdown]
# ## 5. Layer normalisation
#
# A deep stack needs its activations kept at a steady scale. **Layer norm** standardises
# each position's $D$ features by their own mean and spread — per row, so nothing mixes
# positions or sentences, unlike batch norm, and padding cannot leak — then rescales them
# feature by feature with a learned gain $\gamma$ and bias $\beta$ ($\epsilon = 10^{-5}$, as
# torch):
#
# $$
# \operatorname{mean}(x) = \frac1D\sum_k x_k,\quad \operatorname{sd}(x) = \sqrt{\frac1D\sum_k (x_k - \operatorname{mean}(x))^2 + \epsilon},\quad
# \hat x = \frac{x - \operatorname{mean}(x)}{\operatorname{sd}(x)},\quad y = \gamma \odot \hat x + \beta
# \tag{12.7}
# $$
#
# Backward: $\bar\beta$ and $\bar\gamma$ sum over every row (every position of every
# sentence shares them); $\bar{\hat x} = \bar y \odot \gamma$. Every $x_k$ moves the mean and
# the spread, so $\bar x$ has three terms: the direct one, one through the mean
# ($\partial\operatorname{mean}(x)/\partial x_k = 1/D$) and one through the spread
# ($\partial\operatorname{sd}(x)/\partial x_k = \hat x_k / D$). Collected, with means over the $D$
# features of the row:
#
# $$
# \bar x = \frac{1}{\operatorname{sd}(x)}\Bigl(\bar{\hat x} - \operatorname{mean}(\bar{\hat x})
# - \hat x \odot \operatorname{mean}(\bar{\hat x} \odot \hat x)\Bigr),\qquad
# \bar\gamma = \sum_{\text{rows}} \bar y \odot \hat x,\qquad \bar\beta = \sum_{\text{rows}} \bar y
# \tag{12.8}
# $$
#
# The two subtracted means say that $\bar x$ has no component along the directions that
# layer norm throws away: adding a constant to a row, or scaling it, changes nothing (the
# scale up to $\epsilon$'s small share of $\operatorname{sd}(x)$).

# %%
xs = rng.standard_normal((2, 3, 6)) * 5 + 3
ys, cache = layernorm.layernorm_forward(xs, np.ones(6), np.zeros(6))
print("row means", ys.mean(-1).round(12).ravel(), "\nrow std  ", ys.std(-1).round(5).ravel())
dx, _, _ = layernorm.layernorm_backward(rng.standard_normal(ys.shape), cache)
# dx . xhat is (1 - mean(xhat^2)) sum(dxhat xhat) / sd: 0 but for eps's share of sd
print("sum of dx over each row (the mean direction):", np.abs(dx.sum(-1)).max(),
      "| dx . xhat per row (the scale direction):", np.abs((dx * cache.xhat).sum(-1)).max())

# %% [markdown]
# ### Exercise: `layernorm_backward`
#
# Write eq. 12.8. The grader runs `layernorm.layernorm_forward` on a $(3, 4, 5)$ input; its
# cache, a `LayerNormCache`, holds `xhat`, `rstd` $= 1/\operatorname{sd}(x)$ per row, $(B, T, 1)$, and
# `gamma`. Watch for: the means over the right axis, both subtracted terms, and
# $\bar\gamma, \bar\beta$ summed over batch *and* time.

# %%
show(layernorm.LayerNormCache, layernorm.layernorm_forward)


# %%
def layernorm_backward(dy, cache):
    """Backward of layer normalisation over the last axis (lesson 12, eq. 12.7-12.8).

    dy: (B, T, D), the gradient of the loss with respect to y = gamma * xhat + beta.
    cache (minis2s.functional.layernorm.LayerNormCache, from layernorm_forward):
        cache.xhat   (B, T, D)  the standardised input (x - mean) / sd, row by row (eq. 12.7)
        cache.rstd   (B, T, 1)  1 / sd of each row
        cache.gamma  (D,)       the gain
    Returns dx (B, T, D), dgamma (D,), dbeta (D,).
    """
    raise NotImplementedError(
        "write eq. 12.8 first: dxhat = dy * gamma, then dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sd, means over the D features"
    )


report = check(layernorm_backward)

# %%
report = check(solutions.layernorm_backward)

# %%
show(layernorm.layernorm_backward)

# %% [markdown]
# ## 6. The position-wise feed-forward network
#
# Attention mixes positions; the feed-forward network then transforms each position on its
# own, the same two-layer network at every $t$ (usually $F = 4D$):
#
# $$
# \mathrm{FFN}(x) = \mathrm{act}(x W_1^{\top} + b_1)\, W_2^{\top} + b_2
# \qquad\text{(dropout on the hidden layer in training)}
# \tag{12.9}
# $$
#
# with the activation ReLU (Vaswani et al.) or GELU (BERT, GPT), whose slopes the backward
# needs (torch's $\operatorname{relu}'(0) = 0$; GELU in its tanh form):
#
# $$
# \operatorname{relu}(x) = \max(0, x),\qquad \operatorname{relu}'(x) = [x > 0]
# \tag{12.10}
# $$
#
# $$
# \operatorname{gelu}(x) \approx \tfrac{x}{2}\bigl(1 + \tanh a\bigr),\quad
# a = \sqrt{2/\pi}\,(x + 0.044715\,x^3),\qquad
# \operatorname{gelu}'(x) = \tfrac12(1 + \tanh a) + \tfrac{x}{2}(1 - \tanh^2 a)\,\frac{da}{dx}
# \tag{12.11}
# $$

# %%
grid = np.linspace(-4, 4, 401)
fig, ax = plt.subplots(1, 2, figsize=(9, 3))
for name, (fwd, bwd) in transformer.ACTIVATIONS.items():
    yv, c = fwd(grid)
    ax[0].plot(grid, yv, label=name)
    ax[1].plot(grid, bwd(np.ones_like(grid), c), label=name)
ax[0].set_title("activation")
ax[1].set_title("slope (its backward of 1)")
ax[0].legend()
plt.tight_layout()
plt.show()

W1, b1 = rng.standard_normal((16, D)) / np.sqrt(D), np.zeros(16)
W2, b2 = rng.standard_normal((D, 16)) / 4, np.zeros(D)
u = rng.standard_normal((Bn, T, D))
f1, _ = transformer.feedforward_forward(u, W1, b1, W2, b2, "gelu")
u[:, 3] += 1.0  # change position 3 only
f2, _ = transformer.feedforward_forward(u, W1, b1, W2, b2, "gelu")
print("positions whose FFN output moved:", np.flatnonzero(np.abs(f2 - f1).max(axis=(0, 2)) > 0))
show(Fa.relu_backward, Fa.gelu_backward, transformer.feedforward_backward)

# %% [markdown]
# ## 7. Positions
#
# Attention is blind to order: permute the inputs, and the outputs permute with them. The
# order has to be written into the inputs. Vaswani et al. add to each position a vector of
# sinusoids whose wavelengths grow geometrically from $2\pi$ to $10000 \cdot 2\pi$:
#
# $$
# \mathrm{PE}_{t, 2i} = \sin\!\bigl(t / 10000^{2i/D}\bigr),\qquad
# \mathrm{PE}_{t, 2i+1} = \cos\!\bigl(t / 10000^{2i/D}\bigr)
# \tag{12.12}
# $$
#
# A shift by $k$ positions is a rotation of each (sin, cos) pair, the same for every $t$,
# so $\mathrm{PE}_t \cdot \mathrm{PE}_{t+k}$ depends on $k$ only — relative position is
# easy to read off. The token embedding is scaled by $\sqrt D$ so that it is not drowned by
# the position part, whose entries are of order 1; the position table $P$ is either
# $\mathrm{PE}$ or learned:
#
# $$
# x_t = \sqrt{D}\; E[y_t] + P[t]
# \tag{12.13}
# $$

# %%
PE = positional.sinusoidal_table(64, 32, np.zeros(1))
fig, ax = plt.subplots(1, 2, figsize=(11, 3.2))
im = ax[0].imshow(PE.T, aspect="auto", cmap="RdBu", origin="lower")
ax[0].set_xlabel("position t")
ax[0].set_ylabel("feature")
ax[0].set_title("sinusoidal PE (eq. 12.12)")
fig.colorbar(im, ax=ax[0])
ax[1].plot(PE @ PE[10], label="PE_t . PE_10")
ax[1].plot(PE @ PE[40], label="PE_t . PE_40")
ax[1].set_xlabel("position t")
ax[1].legend()
plt.tight_layout()
plt.show()
print("PE_t . PE_(t+3) for t = 0, 10, 40:", [round(float(PE[t] @ PE[t + 3]), 10) for t in (0, 10, 40)])
x_perm = rng.standard_normal((1, T, D))
perm = rng.permutation(T)
(ya, _), _ = multihead.multihead_attention_forward(x_perm, x_perm, x_perm, *params, h)
(yb, _), _ = multihead.multihead_attention_forward(x_perm[:, perm], x_perm[:, perm], x_perm[:, perm], *params, h)
print("attention without positions is permutation-equivariant:", np.allclose(ya[:, perm], yb))
show(positional.sinusoidal_table, positional.token_position_forward, positional.token_position_backward)

# %% [markdown]
# ## 8. Residual connections, pre- and post-norm
#
# A Transformer stacks $n_{\text{layers}}$ layers (6 in the original, dozens in large models). A sublayer
# $f$ (attention or the FFN) is wrapped in a **residual connection** — its output is added
# to its input — and a layer norm, either after the sum (post-norm, Vaswani et al., torch's
# default) or before the sublayer (pre-norm, `norm_first=True`, GPT-2 and most large models):
#
# $$
# y = \mathrm{LN}\bigl(x + \mathrm{dropout}(f(x))\bigr)\qquad\text{(post-norm)}
# \tag{12.14}
# $$
#
# $$
# y = x + \mathrm{dropout}\bigl(f(\mathrm{LN}(x))\bigr)\qquad\text{(pre-norm)}
# \tag{12.15}
# $$
#
# An **encoder layer** is two sublayers: self-attention over the real positions (eq.
# 12.1–12.4 with query = key = value), then the FFN (12.9). A **decoder layer** has three:
# *causal* self-attention, cross-attention — queries from the decoder, keys and values from
# the encoder's output, the memory $\mathrm{mem}$, over its real positions — then the FFN:
#
# $$
# \text{encoder: } y = \mathrm{sub}_{\mathrm{FFN}}\bigl(\mathrm{sub}_{\mathrm{MHA}(x,x,x)}(x)\bigr),\qquad
# \text{decoder: } y = \mathrm{sub}_{\mathrm{FFN}}\bigl(\mathrm{sub}_{\mathrm{MHA}(x,\mathrm{mem},\mathrm{mem})}
# (\mathrm{sub}_{\mathrm{MHA}_{\text{causal}}(x,x,x)}(x))\bigr)
# \tag{12.16}
# $$
#
# Why the residual: the backward of a sum passes the upstream gradient to *both* terms,
#
# $$
# y = x + f(x) \;\Rightarrow\; \bar x = \bar y + \Bigl(\frac{\partial f}{\partial x}\Bigr)^{\!\top}\bar y
# \tag{12.17}
# $$
#
# so through $n_{\text{layers}}$ residual layers there is a path on which $\bar y$ reaches the first layer
# unchanged — an identity, not a product of $n_{\text{layers}}$ Jacobians that shrink or grow
# geometrically, which is exactly what happened to the plain RNN in lesson 03. Pre-norm keeps
# that path clean (nothing sits on it); post-norm puts a layer norm on it at every layer.
# Measured: the gradient norm at the input of a stack of $n_{\text{layers}}$ layers, relative to the norm
# at its output, with no residual and no norm (attention then FFN, plain), post-norm and
# pre-norm, at a standard initialisation:

# %%
def layer_params(D, F, rng):
    p = {}
    for n in transformer.ENCODER_PARAMS:
        base = n.split("_", 1)[1]
        if n.startswith("ln"):
            p[n] = np.ones(D) if base == "g" else np.zeros(D)
        elif base in ("W1", "W2"):
            fan_in = D if base == "W1" else F
            p[n] = rng.standard_normal((F, D) if base == "W1" else (D, F)) / np.sqrt(fan_in)
        elif base[0] == "W":
            p[n] = rng.standard_normal((D, D)) / np.sqrt(D)
        else:
            p[n] = np.zeros(F if base == "b1" else D)
    return p


def plain_forward(x, p, heads):
    """A layer without residuals or norms: FFN(MHA(x, x, x))."""
    (a, _), c1 = multihead.multihead_attention_forward(x, x, x, *[p["sa_" + n] for n in transformer.MHA_PARAMS],
                                                       heads)
    f, c2 = transformer.feedforward_forward(a, *[p["ff_" + n] for n in transformer.FFN_PARAMS])
    return f, (c1, c2)


def plain_backward(df, caches):
    c1, c2 = caches
    da = transformer.feedforward_backward(df, c2)[0]
    dq, dk, dv, *_ = multihead.multihead_attention_backward((da, None), c1)
    return dq + dk + dv


def input_gradient_ratio(kind, N, D=32, F=64, heads=4, seed=0):
    r = np.random.default_rng(seed)
    layers = [layer_params(D, F, r) for _ in range(N)]
    x = r.standard_normal((4, 10, D))
    caches = []
    for p in layers:
        if kind == "plain":
            x, c = plain_forward(x, p, heads)
        else:
            x, c = transformer.encoder_layer_forward(x, p, heads, norm_first=(kind == "pre-norm"))
        caches.append(c)
    dy = r.standard_normal(x.shape)
    dx = dy
    for c in reversed(caches):
        dx = plain_backward(dx, c) if kind == "plain" else transformer.encoder_layer_backward(dx, c)[0]
    return np.linalg.norm(dx) / np.linalg.norm(dy)


depths = (1, 2, 4, 8) if FAST else (1, 2, 4, 8, 16, 32)
print("  N |     plain    post-norm   pre-norm   (|dx at layer 1| / |dy at layer N|)")
for N in depths:
    ratios = [input_gradient_ratio(kind, N) for kind in ("plain", "post-norm", "pre-norm")]
    print(f"{N:3d} | " + "  ".join(f"{r_:9.2e}" for r_ in ratios))

# %% [markdown]
# Without residuals the gradient at the first layer shrinks geometrically with depth: each
# attention averages its values and each ReLU halves the variance, and nothing restores
# the scale. With residual connections it stays of order 1 at every depth — in pre-norm
# it even grows slowly, as every layer adds its own path to the identity; in post-norm the
# layer norm on the residual path rescales it at every layer, which is why post-norm stacks
# are known to need a learning-rate warm-up (lesson 07's schedules) to train when deep.
#
# The library's layers, and the sublayer wrapper that implements eq. 12.14–12.15 and
# 12.17:

# %%
show(transformer.encoder_layer_forward, transformer.encoder_layer_backward)

# %%
show(transformer.decoder_layer_forward, transformer.decoder_layer_backward)

# %% [markdown]
# ## 9. Every op, gradient-checked
#
# The catalogue `minis2s.suite` checks each op against centered differences in float64
# (lesson 01, eq. 1.5–1.6) on padded batches, causal and cross attention, dropout, and a
# batch of one with one position. (The key bias is left out of the attention checks: its
# gradient is exactly 0, so both sides are rounding noise, see section 4.)

# %%
from minis2s import suite
from minis2s.gradcheck import format_table
from minis2s.suite import transformer as transformer_cases

names = [c.name for c in transformer_cases.CASES]
if FAST:  # the layers' checks take the longest: one of each kind
    names = [n for n in names if "layer " not in n or n in ("encoder layer pre-norm padded",
                                                            "decoder layer post-norm padded")]
results = [r for c in transformer_cases.CASES if c.name in names for r in suite.run(c)]
print(format_table(results))

# %% [markdown]
# ## 10. The same numbers as PyTorch
#
# With the same weights, `torch.nn.MultiheadAttention`, `torch.nn.LayerNorm` and
# `torch.nn.TransformerEncoderLayer` (in float64) give the same outputs and gradients.
# torch packs $W_q, W_k, W_v$ into one `in_proj_weight`, and its `key_padding_mask` is True
# at *padding* — the opposite sense of ours. (Skipped if torch is not installed.)

# %%
try:
    import torch
except ImportError:
    torch = None
    print("torch is not installed: parity skipped")

if torch is not None:
    D_t, h_t, F_t = 8, 2, 16
    lengths = np.array([5, 3])
    real_t = (np.arange(T)[None] < lengths[:, None]).astype(float)
    pad_t = torch.from_numpy(real_t == 0)
    x_t = rng.standard_normal((2, T, D_t))
    dy_t = rng.standard_normal((2, T, D_t)) * real_t[..., None]
    worst = {}

    # multi-head attention
    mp = mha_params(D_t, rng)
    mha = torch.nn.MultiheadAttention(D_t, h_t, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate(mp[0:6:2])))
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate(mp[1:6:2])))
        mha.out_proj.weight.copy_(torch.from_numpy(mp[6]))
        mha.out_proj.bias.copy_(torch.from_numpy(mp[7]))
    xt = torch.tensor(x_t, requires_grad=True)
    yt, _ = mha(xt, xt, xt, key_padding_mask=pad_t)
    (yt * torch.from_numpy(dy_t)).sum().backward()
    (y, _), c = multihead.multihead_attention_forward(x_t, x_t, x_t, *mp, h_t, key_mask=real_t, query_mask=real_t)
    dq, dk, dv, *_ = multihead.multihead_attention_backward((dy_t, None), c)
    worst["MultiheadAttention y"] = np.abs(y - yt.detach().numpy() * real_t[..., None]).max()
    worst["MultiheadAttention dx"] = np.abs(dq + dk + dv - xt.grad.numpy()).max()

    # layer norm
    g, b = rng.standard_normal(D_t), rng.standard_normal(D_t)
    ln = torch.nn.LayerNorm(D_t, dtype=torch.float64)
    with torch.no_grad():
        ln.weight.copy_(torch.from_numpy(g))
        ln.bias.copy_(torch.from_numpy(b))
    xt = torch.tensor(x_t, requires_grad=True)
    (ln(xt) * torch.from_numpy(dy_t)).sum().backward()
    y, c = layernorm.layernorm_forward(x_t, g, b)
    dx, dg, db = layernorm.layernorm_backward(dy_t, c)
    worst["LayerNorm y"] = np.abs(y - ln(xt).detach().numpy()).max()
    worst["LayerNorm dx, dgamma"] = max(np.abs(dx - xt.grad.numpy()).max(), np.abs(dg - ln.weight.grad.numpy()).max())

    # an encoder layer, pre- and post-norm
    for norm_first in (False, True):
        p = layer_params(D_t, F_t, rng)
        for n in ("ln1_g", "ln2_g", "ln1_b", "ln2_b"):
            p[n] = p[n] + 0.3 * rng.standard_normal(D_t)
        enc = torch.nn.TransformerEncoderLayer(D_t, h_t, F_t, dropout=0.0, batch_first=True,
                                               norm_first=norm_first, dtype=torch.float64)
        with torch.no_grad():
            sa = enc.self_attn
            sa.in_proj_weight.copy_(torch.from_numpy(np.concatenate([p["sa_Wq"], p["sa_Wk"], p["sa_Wv"]])))
            sa.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["sa_bq"], p["sa_bk"], p["sa_bv"]])))
            sa.out_proj.weight.copy_(torch.from_numpy(p["sa_Wo"]))
            sa.out_proj.bias.copy_(torch.from_numpy(p["sa_bo"]))
            for lin, n in ((enc.linear1, "1"), (enc.linear2, "2")):
                lin.weight.copy_(torch.from_numpy(p["ff_W" + n]))
                lin.bias.copy_(torch.from_numpy(p["ff_b" + n]))
            for norm, n in ((enc.norm1, "1"), (enc.norm2, "2")):
                norm.weight.copy_(torch.from_numpy(p[f"ln{n}_g"]))
                norm.bias.copy_(torch.from_numpy(p[f"ln{n}_b"]))
        xt = torch.tensor(x_t, requires_grad=True)
        yt = enc(xt, src_key_padding_mask=pad_t)
        (yt * torch.from_numpy(dy_t)).sum().backward()
        y, c = transformer.encoder_layer_forward(x_t, p, h_t, mask=real_t, norm_first=norm_first)
        dx, grads = transformer.encoder_layer_backward(dy_t, c)
        kind = "pre-norm" if norm_first else "post-norm"
        worst[f"TransformerEncoderLayer {kind} y"] = np.abs(y - yt.detach().numpy() * real_t[..., None]).max()
        worst[f"TransformerEncoderLayer {kind} dx, dW1"] = max(np.abs(dx - xt.grad.numpy()).max(),
                                                                np.abs(grads["ff_W1"] - enc.linear1.weight.grad.numpy()).max())
    for what, err in worst.items():
        print(f"{what:45s} max |ours - torch| = {err:.1e}")
    assert max(worst.values()) < 1e-10

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 12](answers.md#lesson-12), to read after you have tried.
#
# **Q12.1.** The scaled scores had variance about 1 at $d = 1024$, the unscaled ones about
# $d$. What does a softmax over scores of variance $d$ look like, and what does that do to
# the gradient that reaches $Q$ and $K$ through (12.6)?
#
# **Q12.2.** A causal mask applied *after* the softmax (zeroing the future weights of an
# already normalised row) still gives zero weight to the future. Why is it wrong anyway?
# Say what the row sums to and what the backward of (12.5)–(12.6) then computes.
#
# **Q12.3.** In the table of gradients reaching the first of $n_{\text{layers}}$ layers, the stack without
# residuals lost about three orders of magnitude from 8 to 32 layers, the residual stacks
# almost none. Which term of the derivative of $x + f(x)$ explains it, and why does pre-norm
# keep that term cleaner than post-norm?

# %% [markdown]
# ## Summary
#
# - Self-attention scores every position against every other in one product; multi-head
#   attention (12.1–12.4) does it in $n_h$ subspaces cut out of the features by a view.
# - The $1/\sqrt d$ keeps the scores at unit variance, out of the softmax's flat tails.
# - Masks act on the scores before the softmax: padded keys and the future get exactly
#   zero weight, and exactly zero gradient (12.5–12.6).
# - Layer norm (12.7–12.8) standardises each position on its own; its backward removes
#   the two directions it ignores (the row's mean and scale).
# - The FFN (12.9–12.11) transforms each position alone; sinusoids (12.12–12.13) tell the
#   positions apart.
# - Residual connections (12.14–12.17) give the gradient an identity path through the
#   stack: without them a deep stack's first layer gets nearly nothing.
#
# **Next:** the Transformer model — a stack of these encoder and decoder layers, trained
# on the tasks of lessons 06–10.
