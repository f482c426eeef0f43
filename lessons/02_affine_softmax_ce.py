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
# # Lesson 02 — Affine maps, embeddings, softmax and cross-entropy
#
# **What you will learn**
#
# - the affine map $y = x W^\top + b$ and its backward pass, derived by indices (eq. 2.1–2.2);
# - embeddings with a padding row, and why their backward must *add* repeated ids (eq. 2.3–2.4);
# - softmax and log-softmax, the max shift that keeps them finite, and their backward passes
#   (eq. 2.5–2.8);
# - cross-entropy over a padded batch of sequences, with label smoothing, and its famously
#   simple gradient $p - y^{\text{ls}}$ (eq. 2.9–2.11).
#
# You write two backward passes yourself: the affine map, and the masked softmax
# cross-entropy. Shapes: B batch, T time, D input features, H output features, V vocabulary
# size (written $|\mathcal V|$ in the math: V is lesson 12's values matrix).

# %%
import numpy as np

from course import show

# %%
from minis2s.exercises import check, solutions

# %% [markdown]
# ## 1. The affine map
#
# A fully connected layer maps each row of $x$ $(B, D)$ to $H$ outputs. minis2s stores the
# weight as $W$ $(H, D)$ — output features first, PyTorch's `nn.Linear` layout — so
#
# $$
# y = x W^{\top} + b, \qquad y_{bj} = \sum_k x_{bk} W_{jk} + b_j
# \tag{2.1}
# $$
#
# **Backward.** Given $\bar y = \partial L/\partial y$ $(B, H)$, apply the chain rule (1.1)
# entry by entry, summing over every place an entry is used.
#
# - $x_{bk}$ appears in $y_{bj}$ for every $j$, with coefficient $W_{jk}$:
#   $\bar x_{bk} = \sum_j \bar y_{bj} W_{jk}$.
# - $W_{jk}$ appears in $y_{bj}$ for every row $b$, with coefficient $x_{bk}$:
#   $\bar W_{jk} = \sum_b \bar y_{bj} x_{bk}$.
# - $b_j$ appears in $y_{bj}$ for every row $b$, with coefficient 1:
#   $\bar b_j = \sum_b \bar y_{bj}$.
#
# As matrix products:
#
# $$
# \bar x = \bar y\, W, \qquad \bar W = \bar y^{\top} x, \qquad \bar b = \textstyle\sum_b \bar y_b
# \tag{2.2}
# $$
#
# Check the shapes: $(B, H)(H, D) = (B, D)$ like $x$; $(H, B)(B, D) = (H, D)$ like $W$. The
# sums over the batch in $\bar W$ and $\bar b$ are the "gradients add" rule: every row uses
# the same parameters.
#
# The library's forward also takes a *time-distributed* input $(B, T, D)$, as a decoder's
# output layer needs. It flattens the $B \cdot T$ rows into one matrix, so the product is a
# single large one:

# %%
from minis2s.functional import linear

show(linear.affine_forward)

# %% [markdown]
# ### Exercise: `affine_backward`
#
# Write the backward of the affine map: given `dy` $(B, H)$ and the cache (`cache.x`,
# `cache.W`), return `dx, dW, db` (eq. 2.2). Before you type, say what shape each must
# have.
#
# The grader runs the library's own forward, `linear.affine_forward`. Its cache is a
# `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather than
# unpacking a tuple. Here is `AffineCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import linear

show(linear.AffineCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def affine_backward(dy, cache):
    """Backward of y = x W^T + b (lesson 02, eq. 2.1-2.2).

    dy: (B, H), the gradient of the loss with respect to y.
    cache (minis2s.functional.linear.AffineCache, from affine_forward):
        cache.x  (B, D)  the input
        cache.W  (H, D)  the weight, PyTorch's (out, in) layout
    Returns dx (B, D), dW (H, D), db (H,).
    """
    raise NotImplementedError("write eq. 2.2 first: dx = dy W, dW = dy^T x, db = the sum of dy over the rows")


report = check(affine_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.affine_backward)

# %% [markdown]
# Here is the library's own version, to compare with yours. It flattens a time-distributed
# $\bar y$ the way the forward flattens $x$, so $\bar W$ and $\bar b$ sum over all $B \cdot T$
# rows in one product:

# %%
show(linear.affine_backward)

# %% [markdown]
# ## 2. Embeddings
#
# A token id is an integer in $[0, |\mathcal V|)$. An embedding table $E$ $(|\mathcal V|, D)$ turns it into a
# vector by row lookup:
#
# $$
# \text{out}_{b,t} = E_{\,\text{ids}_{b,t}}
# \tag{2.3}
# $$
#
# This equals multiplying a one-hot vector by $E$, so the backward is (2.2)'s $\bar W$ rule
# with one-hot rows: row $v$ of $\bar E$ collects the gradient of **every** position that
# reads token $v$:
#
# $$
# \bar E_v = \sum_{(b, t)\,:\, \text{ids}_{b,t} = v} \overline{\text{out}}_{b,t},
# \qquad \bar E_{\text{pad}} = 0
# \tag{2.4}
# $$
#
# Padded positions hold the id `padding_idx`; the forward returns the zero vector there, so
# the padding row is a constant and receives no gradient (as in `torch.nn.Embedding`). The
# sum over repeated ids is where `dE[ids] += dout` goes wrong (lesson 00): `B.scatter_add`
# adds repeats correctly on every backend.

# %%
show(linear.embedding_forward)

# %% [markdown]
# ### Exercise: `embedding_backward`
#
# Write the embedding's backward (eq. 2.4): given `dout`, $(B, T, D)$, return `dE`, $(|\mathcal V|, D)$.
# The grader's ids repeat (token 1 is read three times) and hold the padding id, so both
# halves of (2.4) are tested: the sum over repeated ids and the zero padding row.
#
# The grader runs the library's own forward, `linear.embedding_forward`. Its cache is a
# `NamedTuple`; here is `EmbeddingCache`, whose fields the stub below lists with their shapes.
# It keeps the table's shape, not the table: the gradient does not depend on $E$'s values.

# %%
show(linear.EmbeddingCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def embedding_backward(dout, cache):
    """Backward of the row lookup out[b, t] = E[ids[b, t]] (lesson 02, eq. 2.3-2.4).

    dout: (B, T, D), the gradient of the loss with respect to out.
    cache (minis2s.functional.linear.EmbeddingCache, from embedding_forward):
        cache.ids          (B, T)  the token ids read; an id may repeat, and padded positions
                                   hold padding_idx
        cache.E_shape      (V, D)  the table's shape (the backward needs no values of E)
        cache.E_dtype              the table's dtype
        cache.padding_idx  int     the padding id, whose row is a constant zero vector (or None)
    Returns dE (V, D): row v is the sum of dout over every position reading v; the padding row
    is 0 (eq. 2.4).
    """
    raise NotImplementedError(
        "write eq. 2.4 first: dE = zeros (V, D), add every position's dout into the row of its id "
        "(B.scatter_add or np.add.at), then set the padding row to 0"
    )


report = check(embedding_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.embedding_backward)

# %% [markdown]
# Here is the library's own version, to compare with yours:

# %%
show(linear.embedding_backward)

# %%
E = np.arange(12, dtype=float).reshape(4, 3)  # V=4 tokens, D=3
ids = np.array([[1, 2, 1], [3, 0, 0]])        # row 1 is padded (id 0) after one token
out, cache = linear.embedding_forward(ids, E, padding_idx=0)
dE = linear.embedding_backward(np.ones_like(out), cache)
print("out[1] (the padded steps are zero vectors):\n", out[1])
print("dE[:, 0] (token 1 is read twice, the padding row gets nothing):", dE[:, 0])

# %% [markdown]
# ## 3. Softmax, and the max shift
#
# A decoder's output layer produces a score (a *logit*) $x_k$ for each of the $|\mathcal V|$ tokens.
# Softmax turns them into probabilities. Subtracting the row maximum $x^{*}$ first changes
# nothing mathematically (it cancels between numerator and denominator) and keeps every
# exponent $\le 0$, so nothing overflows:
#
# $$
# \operatorname{softmax}(x)_k = \frac{e^{x_k - x^{*}}}{\sum_j e^{x_j - x^{*}}}, \qquad x^{*} = \max_j x_j
# \tag{2.5}
# $$

# %%
from minis2s.functional import activations

logits = np.array([[1000.0, 999.0, 990.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
print("naive softmax:  ", naive)
print("shifted (2.5):  ", activations.softmax(logits))
show(activations.softmax)

# %% [markdown]
# **Backward.** With $p = \operatorname{softmax}(x)$, $\partial p_k/\partial x_j = p_k(\delta_{kj} - p_j)$
# (differentiate the quotient). By (1.2), $\bar x_j = \sum_k \bar p_k\, p_k (\delta_{kj} - p_j)
# = p_j \bar p_j - p_j \sum_k p_k \bar p_k$:
#
# $$
# \bar x = p \odot \Bigl(\bar p - \textstyle\sum_k p_k \bar p_k\Bigr)
# \tag{2.6}
# $$
#
# The $(|\mathcal V|, |\mathcal V|)$ Jacobian is never built: one dot product per row is enough.

# %%
show(activations.softmax_backward)

# %% [markdown]
# ## 4. Log-softmax
#
# A loss needs $\log p$, and $\log(\operatorname{softmax}(x))$ computed in two steps fails
# when a probability underflows to 0: its log is $-\infty$. Write the log directly, with the
# same shift:
#
# $$
# \operatorname{log\_softmax}(x)_k = x_k - x^{*} - \log \sum_j e^{x_j - x^{*}}
# \tag{2.7}
# $$
#
# Its derivative: $\partial y_k / \partial x_j = \delta_{kj} - p_j$, so
#
# $$
# \bar x = \bar y - \operatorname{softmax}(x) \textstyle\sum_k \bar y_k
# \tag{2.8}
# $$
#
# and the forward's output is all the backward needs, since $\operatorname{softmax}(x) = e^{y}$.

# %%
x = np.array([[0.0, -800.0]])
with np.errstate(divide="ignore"):
    print("log(softmax(x)):", np.log(activations.softmax(x)))
print("log_softmax(x): ", activations.log_softmax(x))
show(activations.log_softmax, activations.log_softmax_backward)

# %% [markdown]
# ## 5. Cross-entropy over a padded batch, with label smoothing
#
# A decoder predicts a distribution $p = \operatorname{softmax}(a)$ over $|\mathcal V|$ tokens at
# each target position; the target is the token $y$. The loss is the negative
# log-probability of the target. *Label smoothing* (Szegedy et al., 2016) moves a fraction
# $\varepsilon_{\text{ls}}$ (code `label_smoothing`, `cache.eps`; lesson 01's $\varepsilon$ is
# the finite-difference step) of the target's mass uniformly over all $|\mathcal V|$
# classes, which discourages over-confident predictions. Per real token, with PyTorch's
# definition:
#
# $$
# L_{b,t} = -(1 - \varepsilon_{\text{ls}}) \log p_y - \frac{\varepsilon_{\text{ls}}}{|\mathcal V|} \sum_k \log p_k
# = -\sum_k y^{\text{ls}}_k \log p_k, \qquad y^{\text{ls}} = (1 - \varepsilon_{\text{ls}})\,\text{onehot}(y) + \frac{\varepsilon_{\text{ls}}}{|\mathcal V|}
# \tag{2.9}
# $$
#
# A batch of sequences is padded to a common length $T$. With the mask $M = 1$ on real tokens and $0$
# on padding, the loss is the mean over the $N$ real tokens only, so padding costs nothing
# and a batch with long sequences is not weighted differently from one with short ones:
#
# $$
# L = \frac{1}{N} \sum_{(b, t)\,:\, M_{b,t} = 1} L_{b,t}, \qquad N = \sum_{b,t} M_{b,t}
# \tag{2.10}
# $$
#
# **Backward.** Write $\log p_k = a_k - \operatorname{LSE}(a)$ (the logits $a$: the softmax's
# pre-activation, code `logits`) with $\operatorname{LSE}(a) = \log \sum_j e^{a_j}$, whose
# derivative is $p_j$. Since $\sum_k y^{\text{ls}}_k = 1$,
# $L_{b,t} = -\sum_k y^{\text{ls}}_k a_k + \operatorname{LSE}(a)$, and so $\partial L_{b,t}/\partial a_j = p_j - y^{\text{ls}}_j$.
# With the mean (2.10) and an upstream gradient $\bar L$ (usually 1):
#
# $$
# \bar a_{b,t} = \bar L \, (p_{b,t} - y^{\text{ls}}_{b,t}) \, \frac{M_{b,t}}{N}
# \tag{2.11}
# $$
#
# Every token pushes its logits toward its target distribution, in proportion to how wrong
# it is; padding gets exactly zero. Here is the library's forward; it computes the
# log-probabilities with (2.7), so the backward can recover $p$ from them. The backward is
# yours to write in the exercise at the end of this section, and the cells before it only
# call the library's:

# %%
from minis2s.functional import losses

show(losses.softmax_cross_entropy_forward)

# %% [markdown]
# Padding really is free. Fill the padded positions with garbage logits and the loss does
# not move, and their gradient is exactly zero:

# %%
rng = np.random.default_rng(0)
Bn, T, V = 3, 4, 6
logits = rng.standard_normal((Bn, T, V))
targets = rng.integers(0, V, size=(Bn, T))
mask = np.arange(T)[None, :] < np.array([4, 2, 1])[:, None]  # lengths 4, 2, 1

loss, cache = losses.softmax_cross_entropy_forward(logits, targets, mask=mask)
garbage = np.where(mask[..., None], logits, 1e3 * rng.standard_normal((Bn, T, V)))
loss_garbage, cache_garbage = losses.softmax_cross_entropy_forward(garbage, targets, mask=mask)
dz = losses.softmax_cross_entropy_backward(1.0, cache_garbage)

print(f"loss {float(loss):.6f}, with garbage in the padding {float(loss_garbage):.6f}")
print("gradient at padded positions is exactly 0:", np.all(dz[~mask] == 0))
print("each real token's gradient sums to 0 over V (p and q are distributions):",
      np.allclose(dz[mask].sum(axis=-1), 0))

# %% [markdown]
# With label smoothing the best prediction is no longer one-hot: the loss is smallest at
# $p = y^{\text{ls}}$, where the gradient (2.11) vanishes. Let us confirm both the minimum and, if
# PyTorch is installed, that our numbers equal `torch.nn.functional.cross_entropy` with
# `label_smoothing` (padding marked with `ignore_index`):

# %%
eps = 0.1
y = np.array([2])
q = np.full((1, V), eps / V)
q[0, y] += 1 - eps
for name, z in (("logits = log q (p = q)", np.log(q)), ("confident: 10 on the target", 10 * np.eye(V)[y])):
    l, c = losses.softmax_cross_entropy_forward(z, y, label_smoothing=eps)
    print(f"{name:28s} loss {float(l):.4f}  |gradient| {np.abs(losses.softmax_cross_entropy_backward(1.0, c)).max():.1e}")

try:
    import torch
except ImportError:
    print("PyTorch is not installed; skipping the comparison")
else:
    padded_targets = torch.from_numpy(np.where(mask, targets, -100))
    z = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(z.reshape(-1, V), padded_targets.reshape(-1), ignore_index=-100, label_smoothing=eps)
    ref.backward()
    ours, c = losses.softmax_cross_entropy_forward(logits, targets, mask=mask, label_smoothing=eps)
    print("torch loss - ours:", ref.item() - float(ours))
    print("max |torch grad - ours|:", np.abs(z.grad.numpy() - losses.softmax_cross_entropy_backward(1.0, c)).max())

# %% [markdown]
# The gradient checks of every op in this lesson, padding and the all-but-one-padded batch
# included:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

wanted = ("affine", "embedding", "softmax", "log_softmax", "cross-entropy")
chosen = [c for c in suite.CASES if c.name.startswith(wanted)]
print(format_table([r for c in chosen for r in suite.run(c)]))

# %% [markdown]
# ### Exercise: `softmax_cross_entropy_backward`
#
# Write the backward of the masked mean cross-entropy (no label smoothing here, so
# $y^{\text{ls}} = \text{onehot}(y)$). The cache holds the raw `logits` and their log-probabilities
# `logp` (2.7), the `targets`, the float `mask` and `n` $= N$. Return `dlogits`
# (eq. 2.11). Take $p$ from `logp`, or compute it from `logits` with the max shift (2.5):
# the grader also tries logits around $\pm 1000$, where an unshifted `exp` fails.
#
# The grader runs the library's own forward, `losses.softmax_cross_entropy_forward`. Its cache
# is a `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather than
# unpacking a tuple. Here is `CrossEntropyCache`; the stub below lists its fields with their
# shapes:

# %%
from minis2s.functional import losses

show(losses.CrossEntropyCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def softmax_cross_entropy_backward(dloss, cache):
    """Backward of the masked mean cross-entropy (lesson 02, eq. 2.5, 2.9-2.11).

    dloss: a 0-d array, the gradient of the final loss with respect to this loss (often 1).
    cache (minis2s.functional.losses.CrossEntropyCache, from softmax_cross_entropy_forward):
        cache.logits    (B, T, V)  the raw scores z; p = softmax(z) subtracts each row's max
                                   before exp (eq. 2.5) ...
        cache.logp      (B, T, V)  ... or read it off log p = log_softmax(z) (eq. 2.7)
        cache.targets   (B, T)     the target class ids y (0 at padding)
        cache.mask      (B, T)     M: 1.0 on real tokens, 0.0 on padding
        cache.n         0-d        N, the number of real tokens (at least 1; eq. 2.10)
        cache.eps       float      label smoothing, 0 here: q = onehot(y)
        cache.nll_sum, cache.n_tokens  0-d  for perplexity; not needed here
    Returns dlogits (B, T, V): dloss * (p - onehot(y)) * M / N per token (eq. 2.11).
    """
    raise NotImplementedError(
        "write eq. 2.5 (p = softmax(logits), max-shifted) and eq. 2.11: dlogits = (p - onehot(y)) M / N"
    )


report = check(softmax_cross_entropy_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.softmax_cross_entropy_backward)

# %% [markdown]
# ### Exercise: `label_smoothed_cross_entropy_backward`
#
# Now with label smoothing, $\varepsilon_{\text{ls}} = 0.1$ (`cache.eps`): the target distribution is $y^{\text{ls}}$
# of (2.9), and the gradient (2.11) is $\bar L\,(p - y^{\text{ls}})\, M / N$. Mind how $y^{\text{ls}}$ spreads
# $\varepsilon_{\text{ls}}$: over all $|\mathcal V|$ classes, the target included, as PyTorch does — not over the
# $|\mathcal V| - 1$ others, which is the other convention in the literature. The grader runs the same
# forward, `losses.softmax_cross_entropy_forward`, with `label_smoothing=0.1`, and grades your
# function against the same library backward, which handles every $\varepsilon_{\text{ls}}$.

# %%
def label_smoothed_cross_entropy_backward(dloss, cache):
    """Backward of the masked mean cross-entropy with label smoothing eps > 0 (lesson 02,
    eq. 2.9-2.11).

    dloss: a 0-d array, the gradient of the final loss with respect to this loss (often 1).
    cache (minis2s.functional.losses.CrossEntropyCache, from softmax_cross_entropy_forward):
        cache.logits    (B, T, V)  the raw scores z
        cache.logp      (B, T, V)  log p = log_softmax(z) (eq. 2.7): p = exp(logp)
        cache.targets   (B, T)     the target class ids y (0 at padding)
        cache.mask      (B, T)     M: 1.0 on real tokens, 0.0 on padding
        cache.n         0-d        N, the number of real tokens (at least 1; eq. 2.10)
        cache.eps       float      label smoothing, > 0 here: eps / V of the mass goes to every
                                   class, the target included (eq. 2.9)
        cache.nll_sum, cache.n_tokens  0-d  for perplexity; not needed here
    Returns dlogits (B, T, V): dloss * (p - q) * M / N per token, with
    q = (1 - eps) onehot(y) + eps / V (eq. 2.9, 2.11).
    """
    raise NotImplementedError(
        "write eq. 2.9 first: q = (1 - eps) onehot(y) + eps / V, then eq. 2.11: dlogits = (p - q) M / N"
    )


report = check(label_smoothed_cross_entropy_backward)

# %% [markdown]
# The library's backward passes this exercise too; `exercise=` says which one to grade, since
# both are answered by the same function:

# %%
report = check(solutions.softmax_cross_entropy_backward, exercise="label_smoothed_cross_entropy")

# %% [markdown]
# Here is the library's own version, to compare with both of yours. It reads $p = e^{\log p}$
# off the cache, handles every $\varepsilon_{\text{ls}}$ ($y^{\text{ls}}$ of eq. 2.9), and builds $(p - y^{\text{ls}})\, M / N$
# in one buffer, term by term:

# %%
show(losses.softmax_cross_entropy_backward)

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 02](answers.md#lesson-02), to read after you have tried.
#
# **Q2.1.** The naive softmax of `[1000, 999, 990]` printed `nan`, the shifted one (2.5)
# finite probabilities. Why does the shift not change the result, why can it no longer
# overflow, and why is the underflow it still allows harmless for softmax but not for
# `log(softmax(x))` (2.7)?
#
# **Q2.2.** Garbage logits of size $10^3$ in the padded positions left the loss unchanged and
# their gradient exactly zero. Explain both from (2.10)–(2.11). Why divide by the number of
# real tokens $N$ rather than by $B \cdot T$?
#
# **Q2.3.** With label smoothing $\varepsilon_{\text{ls}} = 0.1$, the "confident" logits (10 on the
# target) gave a higher loss and a non-zero gradient, while logits $\log y^{\text{ls}}$ gave a zero
# gradient. Why is a one-hot prediction no longer optimal, and which way does (2.11) push the
# target's logit of a confident model?

# %% [markdown]
# ## Summary
#
# - Affine: $y = x W^\top + b$ (2.1); $\bar x = \bar y W$, $\bar W = \bar y^\top x$,
#   $\bar b = \sum_b \bar y_b$ (2.2) — the sums over rows because every row shares $W$ and $b$.
# - Embedding: a row lookup (2.3) whose gradient adds over repeated ids and leaves the padding
#   row at zero (2.4).
# - Softmax and log-softmax with the max shift (2.5, 2.7); their backward passes need one
#   reduction per row, never the Jacobian (2.6, 2.8).
# - Cross-entropy with label smoothing $-\sum_k y^{\text{ls}}_k \log p_k$ (2.9), averaged over real
#   tokens (2.10), has gradient $(p - y^{\text{ls}})\, M / N$ (2.11).
#
# **Next:** [lesson 03](03_rnn_bptt.ipynb) — a network with memory: the recurrent neural
# network and backpropagation through time.
