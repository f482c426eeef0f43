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
# # Lesson 05 — The GRU
#
# **What you will learn**
#
# - the GRU (Cho et al., 2014) in PyTorch's form, with the reset gate *inside* the
#   product with $h_{t-1}$ (eq. 5.1–5.4);
# - how it differs from the LSTM: one state, three gates, an update gate that both forgets
#   and writes;
# - its backward pass (eq. 5.5–5.8) — and you will write the step backward;
# - padding (eq. 5.9), and the gradient-flow experiment once more.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, solutions

# %% [markdown]
# ## 1. The cell
#
# A GRU keeps a single state $h$. Its weights hold three row blocks in PyTorch's order
# $r$ (reset), $z$ (update), $n$ (new): $W_x$ is $(3H, D)$, $W_h$ is $(3H, H)$, $b_x, b_h$
# are $(3H)$, so `nn.GRU` weights load unchanged. Two products give all the projections:
#
# $$
# a^x = x W_x^{\top} + b_x = [\,a^x_r,\ a^x_z,\ a^x_n\,], \qquad
# a^h = h_{\text{prev}} W_h^{\top} + b_h = [\,a^h_r,\ a^h_z,\ a^h_n\,]
# \tag{5.1}
# $$
#
# The two gates are sigmoids (eq. 4.3) of the summed projections:
#
# $$
# r = \sigma(a^x_r + a^h_r), \qquad z = \sigma(a^x_z + a^h_z)
# \tag{5.2}
# $$
#
# The candidate state $n$ sees the previous state only through the reset gate, which
# multiplies the **already projected** $a^h_n = h_{\text{prev}} W_{h,n}^{\top} + b_{h,n}$:
#
# $$
# n = \tanh\bigl(a^x_n + r \odot a^h_n\bigr)
# \tag{5.3}
# $$
#
# Finally the update gate interpolates between the old state and the candidate:
#
# $$
# h = (1 - z) \odot n + z \odot h_{\text{prev}}
# \tag{5.4}
# $$
#
# $z \to 1$ copies the previous state; $z \to 0$ replaces it by $n$.
#
# **Where the reset goes.** Cho et al.'s original GRU resets the state *before* the
# product: $n = \tanh(a^x_n + (r \odot h_{\text{prev}}) W_{h,n}^{\top} + b_n)$. PyTorch and
# cuDNN put it *after* (5.3). Then $h_{\text{prev}} W_h^{\top}$ no longer depends on $r$, so one
# product computes all three blocks of $a^h$ at once, before any gate is known — faster. The
# two are different functions: weights trained with one do not work in the other. And since
# $r$ multiplies $b_{h,n}$ but not $b_{x,n}$, the GRU's two biases cannot be merged into one,
# unlike the RNN's and the LSTM's.

# %%
from minis2s.functional import gru

show(gru.gru_gates_forward, gru.gru_step_forward)

# %% [markdown]
# As for the LSTM, `gru_gates_forward` is (5.2)–(5.4) once, for the step and the sequence;
# the step adds the two products (5.1).
#
# If PyTorch is installed, we can confirm the layout and the placement of the reset gate
# against `torch.nn.GRUCell`, and see that Cho's original variant is a different function:

# %%
rng = np.random.default_rng(3)
Bn, D, H = 2, 4, 3
x, h_prev = rng.standard_normal((Bn, D)), rng.standard_normal((Bn, H))
Wx, Wh = rng.standard_normal((3 * H, D)), rng.standard_normal((3 * H, H))
bx, bh = rng.standard_normal(3 * H), rng.standard_normal(3 * H)
h, _ = gru.gru_step_forward(x, h_prev, Wx, Wh, bx, bh)

# Cho et al.'s variant: reset applied to h_prev before the product with Wh_n
from minis2s.functional.activations import sigmoid as sig

ax, ah = x @ Wx.T + bx, h_prev @ Wh.T + bh
r, z = sig(ax[:, :H] + ah[:, :H]), sig(ax[:, H : 2 * H] + ah[:, H : 2 * H])
n_cho = np.tanh(ax[:, 2 * H :] + (r * h_prev) @ Wh[2 * H :].T + bh[2 * H :])
h_cho = (1 - z) * n_cho + z * h_prev
print("max |h - h_cho| =", np.abs(h - h_cho).max(), "(a different function)")

try:
    import torch
except ImportError:
    print("PyTorch is not installed; skipping the comparison with torch.nn.GRUCell")
else:
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih", Wx), ("weight_hh", Wh), ("bias_ih", bx), ("bias_hh", bh)):
            getattr(cell, name).copy_(torch.from_numpy(value))
        h_torch = cell(torch.from_numpy(x), torch.from_numpy(h_prev)).numpy()
    print("max |h - torch.nn.GRUCell| =", np.abs(h - h_torch).max())

# %% [markdown]
# ## 2. GRU versus LSTM
#
# | | LSTM (lesson 04) | GRU |
# |---|---|---|
# | state | $h$ and a cell $c$ | $h$ only |
# | gates | $i, f, o$ and candidate $g$: $4H$ rows | $r, z$ and candidate $n$: $3H$ rows |
# | keep old / write new | independent $f$ and $i$ | coupled: $z$ and $1 - z$ |
# | output | $o \odot \tanh(c)$, gated | $h$ itself |
# | previous state in the candidate | $h_{\text{prev}} W_h^\top$, ungated | $r \odot (h_{\text{prev}} W_{h,n}^\top + b_{h,n})$ |
# | parameters | $4H(D + H + 2)$ | $3H(D + H + 2)$ |
#
# Neither wins everywhere; on sequence-to-sequence tasks of the size we train here they
# are usually close, and the GRU is cheaper per step.

# %%
D, H = 256, 512
for cell, gates in (("RNN", 1), ("GRU", 3), ("LSTM", 4)):
    print(f"{cell:5s} D={D}, H={H}: {gates * H * (D + H + 2):>9,} parameters")

# %% [markdown]
# ## 3. Backward
#
# The step receives $\bar h$. Start from (5.4), $h = (1-z) \odot n + z \odot h_{\text{prev}}$:
# each factor's gradient is the other factor, and $h_{\text{prev}}$ gets a **direct** path
# that does not pass through any matrix:
#
# $$
# \bar n = \bar h \odot (1 - z), \qquad
# \bar z = \bar h \odot (h_{\text{prev}} - n), \qquad
# \bar h_{\text{prev}} \mathrel{+}= \bar h \odot z
# \tag{5.5}
# $$
#
# Through the tanh (eq. 3.3) into $n$'s pre-activation $a^x_n + r \odot a^h_n$, which is a sum
# (so $a^x_n$ receives the gradient unchanged) containing a product (so $a^h_n$ and $r$ each
# receive it times the other factor):
#
# $$
# \bar a^x_n = \bar n \odot (1 - n^2), \qquad
# \bar a^h_n = \bar a^x_n \odot r, \qquad
# \bar r = \bar a^x_n \odot a^h_n
# \tag{5.6}
# $$
#
# Through the sigmoids (eq. 4.3), from their outputs. The gates see $a^x$ and $a^h$ only
# through their sum, so both get the same gradient:
#
# $$
# \bar a^x_{r} = \bar a^h_{r} = \bar r \odot r (1 - r), \qquad
# \bar a^x_{z} = \bar a^h_{z} = \bar z \odot z (1 - z)
# \tag{5.7}
# $$
#
# Through the two products (5.1). Unlike the LSTM, $a^x$ and $a^h$ have *different*
# gradients (their $n$ blocks differ by the factor $r$), so each weight and bias gets its
# own:
#
# $$
# \bar x = \bar a^x W_x, \quad
# \bar h_{\text{prev}} = \bar h \odot z + \bar a^h W_h, \quad
# \bar W_x = \textstyle\sum_t \bar a^{x\top}_t x_t, \quad
# \bar W_h = \textstyle\sum_t \bar a^{h\top}_t h_{t-1}, \quad
# \bar b_x = \textstyle\sum \bar a^x, \quad
# \bar b_h = \textstyle\sum \bar a^h
# \tag{5.8}
# $$
#
# As for the LSTM, the library splits this backward into a gate backward, (5.5)–(5.7), and a
# step backward that adds the products of (5.8). The gradient checker confirms both against
# finite differences, on their own and inside a step; their code follows the exercise:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

names = ["gru gates", "gru step B=3", "gru step B=1"]
print(format_table([r for c in suite.CASES if c.name in names for r in suite.run(c)]))

# %% [markdown]
# ### Exercise: `gru_step_backward`
#
# Write the backward pass of one GRU step. Given `dh` $(B, H)$ and the forward's cache
# (which holds the gates `cache.r`, `cache.z`, `cache.n` and `cache.ah_n`), return
# `dx, dh_prev, dWx, dWh, dbx, dbh` (eq. 5.5–5.8). Block order in the $3H$ axis: $r, z, n$.
# Watch for: the direct path $\bar h \odot z$ in $\bar h_{\text{prev}}$, the factor $r$ in
# $\bar a^h_n$ but not in $\bar a^x_n$, and $\bar b_x \ne \bar b_h$.
#
# The grader runs the library's own forward, `gru.gru_step_forward`. Its cache is a
# `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather than
# unpacking a tuple. Here is `GRUStepCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import gru

show(gru.GRUStepCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def gru_step_backward(dh, cache):
    """Backward of one GRU step, gates r, z, n in PyTorch's order (lesson 05, eq. 5.1-5.8).

    dh: (B, H), the gradient of the loss with respect to h = (1 - z) * n + z * h_prev.
    cache (minis2s.functional.gru.GRUStepCache, from gru_step_forward):
        cache.x       (B, D)
        cache.h_prev  (B, H)
        cache.Wx      (3H, D)  row blocks r, z, n
        cache.Wh      (3H, H)
        cache.r, .z   (B, H)   reset and update gates (eq. 5.2)
        cache.n       (B, H)   candidate tanh(ax_n + r * ah_n) (eq. 5.3)
        cache.ah_n    (B, H)   h_prev Wh_n^T + bh_n, the term r scales (eq. 5.1)
    Returns dx (B, D), dh_prev (B, H), dWx (3H, D), dWh (3H, H), dbx (3H,), dbh (3H,).
    The gradients of x Wx^T + bx (dax) and of h_prev Wh^T + bh (dah) differ in the n block.
    """
    raise NotImplementedError("write eq. 5.5 first: dn = dh * (1 - z), dz = dh * (h_prev - n)")


report = check(gru_step_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.gru_step_backward)

# %% [markdown]
# ## 4. Over a padded batch
#
# The sequence functions follow lessons 03 and 04: $h_t$ feeds the output and the next
# step, so their gradients add; and a padded step is the identity:
#
# $$
# M_t = 0:\quad h_t = h_{t-1},\ y_t = 0; \qquad
# \text{backward } \bar a^x_t = \bar a^h_t = 0,\ \bar h \text{ passes the step unchanged}
# \tag{5.9}
# $$

# %% [markdown]
# ### Exercise: `gru_backward`
#
# Write BPTT of the GRU over a padded batch: given `dout = (dhs, dh_last)` and the cache of
# `gru.gru_forward`, return `dx, dh0, dWx, dWh, dbx, dbh` (eq. 5.5–5.9). As for the LSTM,
# `cache.step(t)` is step $t$'s own `GRUStepCache`: call a step backward on it inside your
# loop, your own from the exercise above or `solutions.gru_step_backward`. Careful with
# padding: the step backward of a padded row returns `dh_prev = 0` (its $\bar h$ was masked),
# but (5.9) says the carried $\bar h$ passes that step unchanged, and `dh_last` reaches each
# row's last real step only that way.
#
# The grader runs the library's own forward, `gru.gru_forward`. Here is its cache,
# `GRUCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import gru

show(gru.GRUCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def gru_backward(dout, cache):
    """Backpropagation through time of the GRU over a padded batch (lesson 05, eq. 5.5-5.9).

    dout = (dhs, dh_last): dhs (B, T, H), the gradient of every output h_t; dh_last (B, H), the
    gradient of the final state -- a row's state after its last real token.
    cache (minis2s.functional.gru.GRUCache, from gru_forward):
        cache.step(t)  step t's own GRUStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.gru_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (3H, D)
        cache.Wh       (3H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 5.9)
        cache.gates    a list of T GRUGatesCache, step t's gates (cache.step(t) holds them)
    Returns dx (B, T, D), dh0 (B, H), dWx (3H, D), dWh (3H, H), dbx (3H,), dbh (3H,).
    """
    raise NotImplementedError(
        "write eq. 5.9 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send M_t dh through a "
        "step backward, and pass dh unchanged where M_t = 0"
    )


report = check(gru_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.gru_backward)

# %% [markdown]
# Here is the library's own version of both exercises, to compare with yours. The gate
# backward is (5.5)–(5.7) line by line. It returns only the direct path $\bar h \odot z$ as
# `dh_prev` and leaves $\bar a^h W_h$ to the caller, who owns $W_h$: the step backward adds it
# with the other products of (5.8). As for the LSTM, the step's cache holds every field of the gates' cache,
# so the step backward passes it on as it is:

# %%
show(gru.gru_gates_backward, gru.gru_step_backward)

# %% [markdown]
# The sequence functions call the gate functions directly, with the projections of lesson 03
# outside the time loop:

# %%
show(gru.gru_forward, gru.gru_backward)
names = ["gru sequence padded lengths", "gru sequence one real row"]
print(format_table([r for c in suite.CASES if c.name in names for r in suite.run(c)]))

# %% [markdown]
# ## 5. Gradient flow through the update gate
#
# The direct path in (5.5), $\bar h_{\text{prev}} \mathrel{+}= \bar h \odot z$, plays the role of
# the LSTM's $\bar c_{\text{prev}} = \bar c_{\text{total}} \odot f$: elementwise, no matrix.
# When $z$ is near 1, the gradient survives. The experiment of lessons 03 and 04 once more,
# varying the update-gate bias $b_z$:

# %%
Bn, T, D, H = (4, 30, 8, 16) if FAST else (8, 60, 16, 32)
x = np.random.default_rng(0).standard_normal((Bn, T, D))


def gru_state_grad_norms(update_bias, scale=1.0):
    g = np.random.default_rng(1)
    Wx = g.standard_normal((3 * H, D)) / np.sqrt(D)
    Wh = scale * g.standard_normal((3 * H, H)) / np.sqrt(H)
    bx, bh = np.zeros(3 * H), np.zeros(3 * H)
    bx[H : 2 * H] = update_bias  # the z block (order r, z, n)
    h, caches = np.zeros((Bn, H)), []
    for t in range(T):
        h, cache = gru.gru_step_forward(x[:, t], h, Wx, Wh, bx, bh)
        caches.append(cache)
    dh, norms = np.random.default_rng(2).standard_normal((Bn, H)), np.empty(T)
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh)  # dL/dh_t
        _, dh, *_ = gru.gru_step_backward(dh, caches[t])
    return norms


steps = np.arange(1, T + 1)
plt.figure(figsize=(7, 4))
for update_bias in (0.0, 1.0, 3.0):
    plt.semilogy(steps, gru_state_grad_norms(update_bias), label=f"GRU, update-gate bias {update_bias:g}")
plt.xlabel("time step t")
plt.ylabel("||dL/dh_t||")
plt.title("GRU: the gradient of the last state, carried back in time")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# As with the LSTM's forget gate: with $z \approx 0.5$ the gradient fades step by step, with
# $z$ near 1 it reaches the start of the sequence. The price of $z \approx 1$ is a state
# that changes slowly — the gates are what the network learns to set, per unit and per
# step.

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 05](answers.md#lesson-05), to read after you have tried.
#
# **Q5.1.** The GRU's gradient plot with update-gate biases 0, 1 and 3 looks like the LSTM's
# with forget biases 0, 1 and 3. Which term of (5.5) plays the role of the LSTM's $\bar c
# \odot f$, and what is the price, in the forward pass (5.4), of starting with $z$ near 1?
#
# **Q5.2.** The printed parameter counts are in the ratio 1 : 3 : 4 for RNN, GRU and LSTM.
# Where does each factor of $H(D + H + 2)$ come from, and why can the GRU's two biases of the
# candidate, $b_{x,n}$ and $b_{h,n}$, not be merged into one (5.3), although the RNN's two
# biases could (3.1)?

# %% [markdown]
# ## Summary
#
# - GRU (PyTorch form): $r, z$ sigmoids of summed projections (5.1–5.2); candidate
#   $n = \tanh(a^x_n + r \odot a^h_n)$ with the reset *after* the product (5.3);
#   $h = (1 - z) \odot n + z \odot h_{\text{prev}}$ (5.4). Two biases that cannot be merged.
# - Versus the LSTM: one state, three gates ($\frac34$ of the parameters), keep and write
#   coupled by $z$.
# - Backward: through the interpolation (5.5), the tanh and the reset product (5.6), the
#   sigmoids (5.7), then two products with separate $\bar a^x, \bar a^h$ (5.8). Padding
#   copies the state (5.9).
# - The direct path $\bar h \odot z$ carries gradients across many steps when $z \approx 1$.
#
# **Next:** [lesson 06](06_encoder_decoder.ipynb) — two of these cells become an encoder
# and a decoder, trained with teacher forcing (and the optimizers that train them).
