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
# # Lesson 03 — The vanilla RNN and backpropagation through time
#
# **What you will learn**
#
# - the Elman RNN, one step and over a padded batch of sequences (eq. 3.1, 3.2, 3.8);
# - the backward pass of one step (eq. 3.3–3.6) — and you will write it;
# - backpropagation through time (BPTT): why gradients *add* over time steps (eq. 3.7–3.9);
# - why gradients vanish or explode over long sequences, measured and plotted (eq. 3.10);
# - gradient clipping by global norm and by value (eq. 3.11–3.13).
#
# Shapes use B batch, T time, D input size, H hidden size.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, solutions

# %% [markdown]
# ## 1. The RNN step
#
# An RNN reads a sequence $x_1, \dots, x_T$ one step at a time and keeps a hidden state
# $h_t$ that summarises what it has read. For a batch, $x_t$ is $(B, D)$ and $h_t$ is
# $(B, H)$:
#
# $$
# a_t = x_t W_x^{\top} + b_x + h_{t-1} W_h^{\top} + b_h
# \tag{3.1}
# $$
#
# $$
# h_t = \tanh(a_t)
# \tag{3.2}
# $$
#
# The weights follow PyTorch's `nn.RNN` layout (output features first), so its parameters
# load unchanged: $W_x$ = `weight_ih` $(H, D)$, $W_h$ = `weight_hh` $(H, H)$, and two
# biases $b_x, b_h$ $(H)$ — mathematically one bias, kept as two for PyTorch compatibility.
# The **same** $W_x, W_h, b$ are used at every time step.

# %%
from minis2s.functional import rnn

show(rnn.rnn_step_forward)

# %% [markdown]
# The forward caches its inputs and its output $h$: the backward needs nothing else.
#
# ## 2. One step backward
#
# The backward receives $\bar h = \partial L/\partial h_t$, shape $(B, H)$, and must return
# the gradient of every input. Go through the graph from the top.
#
# **Through the tanh.** The derivative of tanh is cheapest written through its output:
#
# $$
# \tanh'(a) = 1 - \tanh^2(a)
# \tag{3.3}
# $$
#
# so, elementwise (the Jacobian of a pointwise function is diagonal, lesson 01, eq. 1.2):
#
# $$
# \bar a_t = \bar h_t \odot (1 - h_t^2)
# \tag{3.4}
# $$
#
# **Through the matrix products.** Write (3.1) for one batch row $b$ and one hidden unit
# $j$: $a_{bj} = \sum_k x_{bk} W_{x,jk} + \sum_k h_{bk}^{\text{prev}} W_{h,jk} + \dots$. So
# $\partial a_{bj}/\partial x_{bk} = W_{x,jk}$, and by the chain rule (1.1)
# $\bar x_{bk} = \sum_j \bar a_{bj} W_{x,jk}$ — a matrix product:
#
# $$
# \bar x_t = \bar a_t W_x, \qquad \bar h_{t-1} \mathrel{+}= \bar a_t W_h
# \tag{3.5}
# $$
#
# (A quick check: $\bar a_t$ is $(B, H)$, $W_x$ is $(H, D)$, the product is $(B, D)$ like
# $x_t$. When shapes allow only one product, it is usually the right one.)
#
# **The parameters.** $W_{x,jk}$ touches $a_{bj}$ for *every* row $b$ and, in a sequence,
# at *every* step $t$. Gradients of a value used many times add (1.1), so
#
# $$
# \bar W_x = \sum_t \bar a_t^{\top} x_t, \qquad
# \bar W_h = \sum_t \bar a_t^{\top} h_{t-1}, \qquad
# \bar b_x = \bar b_h = \sum_t \sum_b \bar a_{t,b}
# \tag{3.6}
# $$
#
# For one step the sum over $t$ has a single term; the sum over the batch is inside the
# product $\bar a^{\top} x$ $(H, B)(B, D) = (H, D)$.
#
# The first of these, (3.4), is the backward of the library's stand-alone tanh pair, which
# applies the derivative (3.3) and whose cache is the tanh's output itself:

# %%
from minis2s.functional import activations

show(activations.tanh_forward, activations.tanh_backward)

# %% [markdown]
# ### Exercise: `rnn_step_backward`
#
# Write the backward pass of one RNN step: given `dh` $= \partial L/\partial h$, shape
# $(B, H)$, and the forward's cache, return `dx, dh_prev, dWx, dWh, dbx, dbh`
# (eq. 3.4, 3.5, 3.6). The library's version comes after the exercise: try it first.
#
# The grader runs the library's own forward, `rnn.rnn_step_forward`. Its cache is a
# `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather than
# unpacking a tuple. Here is `RNNStepCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import rnn

show(rnn.RNNStepCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def rnn_step_backward(dh, cache):
    """Backward of h = tanh(x Wx^T + bx + h_prev Wh^T + bh) (lesson 03, eq. 3.1-3.6).

    dh: (B, H), the gradient of the loss with respect to h.
    cache (minis2s.functional.rnn.RNNStepCache, from rnn_step_forward):
        cache.x       (B, D)
        cache.h_prev  (B, H)
        cache.Wx      (H, D)
        cache.Wh      (H, H)
        cache.h       (B, H)  the new state, tanh(a) (eq. 3.2)
    Returns dx (B, D), dh_prev (B, H), dWx (H, D), dWh (H, H), dbx (H,), dbh (H,).
    """
    raise NotImplementedError("write eq. 3.4 first: da = dh * (1 - h^2)")


report = check(rnn_step_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.rnn_step_backward)

# %% [markdown]
# Here is the library's own version, to compare with yours: one line per equation, reading
# the cache's fields (`cache.h`, `cache.Wx`) by the symbols above:

# %%
show(rnn.rnn_step_backward)

# %% [markdown]
# ## 3. Backpropagation through time
#
# Unroll the RNN over $T$ steps and it is an ordinary (deep) computational graph with shared
# weights. In a sequence model each $h_t$ is used twice: as the output $y_t$ at step $t$
# (read by a loss, or an attention layer) and as the input of step $t+1$. Its gradient is
# the sum of both paths. Write $\bar h^{\text{rec}}_t$ for the part that reaches $h_t$
# through step $t+1$ — the *carried* gradient, `dh` in the code — with
# $\bar h^{\text{rec}}_T$ the gradient of the final state:
#
# $$
# \bar h_t = \bar y_t + \bar h^{\text{rec}}_t, \qquad
# \bar h^{\text{rec}}_{t-1} = \bar a_t W_h
# \tag{3.7}
# $$
#
# So BPTT is one loop from $t = T$ down to $1$: add the gradient arriving from the output
# to the carried one, go through the tanh (3.4), carry $\bar a_t W_h$ on to step $t-1$
# (3.5), and accumulate the parameter gradients (3.6).
#
# **Padding.** A batch holds sequences of different lengths, padded to a common $T$. With
# the mask $M_t = 1$ on a row's real tokens and $0$ on its padding, a padded step must not change
# anything:
#
# $$
# M_t = 0:\quad h_t = h_{t-1}, \qquad y_t = M_t\, h_t = 0
# \tag{3.8}
# $$
#
# so the final state of every row is its state after its *last real* token, as in PyTorch's
# packed sequences. Backward, the padded step is the identity on the carried state and
# nothing flows into its tanh. Its output $y_t$ is the constant 0, so its gradient
# $\bar y_t$ goes nowhere: only the carried gradient passes on, unchanged:
#
# $$
# M_t = 0:\quad \bar a_t = 0, \qquad \bar h^{\text{rec}}_{t-1} = \bar h^{\text{rec}}_t
# \tag{3.9}
# $$

# %% [markdown]
# ### Exercise: `rnn_backward`
#
# Write BPTT over a padded batch: given `dout = (dhs, dh_last)` — the gradients of every
# output $h_t$, shape $(B, T, H)$, and of the final state, $(B, H)$ — and the cache of
# `rnn.rnn_forward` (the inputs, the mask and every state $h_t$; `cache.step(t)` is step
# $t$'s own cache), return `dx, dh0, dWx, dWh, dbx, dbh` (eq. 3.7-3.9, with 3.8 for the
# padding). Call a step backward inside your loop: your own from the exercise above, or
# `solutions.rnn_step_backward`. The grader knows the
# classic mistakes: weights not summed over time, the recurrent gradient dropped, padding
# treated as real, the loop run forwards, `dh_last` forgotten.
#
# The grader runs the library's own forward, `rnn.rnn_forward`. Its cache is a `NamedTuple`
# whose fields are the lesson's symbols, so you read `cache.x` rather than unpacking a tuple.
# Here is `RNNCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import rnn

show(rnn.RNNCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def rnn_backward(dout, cache):
    """Backpropagation through time over a padded batch (lesson 03, eq. 3.7-3.9).

    dout = (dhs, dh_last): dhs (B, T, H), the gradient of every output h_t; dh_last (B, H),
    the gradient of the final state.
    cache (minis2s.functional.rnn.RNNCache, from rnn_forward):
        cache.step(t)  step t's own RNNStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.rnn_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (H, D)
        cache.Wh       (H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 3.8)
    Returns dx (B, T, D), dh0 (B, H), dWx (H, D), dWh (H, H), dbx (H,), dbh (H,).
    """
    raise NotImplementedError(
        "write eq. 3.7 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, and send M_t dh through a step backward"
    )


report = check(rnn_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.rnn_backward)

# %% [markdown]
# The library's sequence functions follow the equations, with one efficiency twist: because
# the parameter gradients (3.6) are sums over time, the backward stores every $\bar a_t$ in
# one $(B, T, H)$ buffer and forms $\bar W_x, \bar W_h, \bar x$ as *single* matrix products
# after the loop; the forward likewise projects all inputs $x_t W_x^\top$ in one product
# before it. Only $h_{t-1} W_h^\top$ and the tanh stay inside the time loop.

# %%
show(rnn.rnn_forward, rnn.rnn_backward)

# %% [markdown]
# Let us see the padding rules hold: a batch of lengths 5, 2 and 0.

# %%
rng = np.random.default_rng(0)
Bn, T, D, H = 3, 5, 4, 3
lengths = np.array([5, 2, 0])
x = rng.standard_normal((Bn, T, D))
h0 = rng.standard_normal((Bn, H))
Wx, Wh = 0.5 * rng.standard_normal((H, D)), 0.5 * rng.standard_normal((H, H))
bx, bh = np.zeros(H), np.zeros(H)

(hs, h_last), cache = rnn.rnn_forward(x, h0, Wx, Wh, bx, bh, lengths=lengths)
dx, dh0, dWx, dWh, dbx, dbh = rnn.rnn_backward((np.ones_like(hs), np.ones_like(h_last)), cache)

print("outputs at padded steps are 0:         ", np.all(hs[1, 2:] == 0), np.all(hs[2] == 0))
print("row 1 ends in its state after token 2:  ", np.array_equal(h_last[1], hs[1, 1]))
print("an empty row keeps h0:                  ", np.array_equal(h_last[2], h0[2]))
print("dx at padded steps is 0:                ", np.all(dx[1, 2:] == 0), np.all(dx[2] == 0))
print("an empty row passes dh_last to dh0:     ", np.array_equal(dh0[2], np.ones(H)))

# %% [markdown]
# And the gradient checker of lesson 01 confirms the whole BPTT, padding included, through
# the library's own check cases:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

names = ["rnn sequence padded mask", "rnn sequence one real row", "rnn sequence B=1 T=1"]
print(format_table([r for c in suite.CASES if c.name in names for r in suite.run(c)]))

# %% [markdown]
# ## 4. Vanishing and exploding gradients
#
# Follow a gradient from the last state back to step $t$. Each step back multiplies it by
# the tanh slope (3.4) and by $W_h$ (3.5). With row vectors,
#
# $$
# \bar h_t \;=\; \bar h_T \prod_{s=T}^{t+1} \operatorname{diag}(1 - h_s^2)\, W_h,
# \qquad
# \lVert \bar h_t \rVert \;\le\; \lVert \bar h_T \rVert \,\lVert W_h \rVert_2^{\,T-t}
# \qquad \text{(not implemented in code)}
# \tag{3.10}
# $$
#
# since $0 < 1 - h^2 \le 1$. A product of $T - t$ similar matrices behaves like a power: when
# the largest singular value of $W_h$, its spectral norm $\lVert W_h \rVert_2$, is below 1 the gradient **vanishes** exponentially, and
# the RNN cannot learn dependencies longer than a few steps; when $W_h$ is large the gradient
# can **explode** (a large $W_h$ is necessary, not sufficient: the tanh may saturate and
# damp it).
#
# Let us measure it. We run an RNN over $T$ random inputs with $W_h$ drawn as
# $\text{scale} \cdot \mathcal{N}(0, 1/H)$ (spectral radius about `scale`), put a random
# gradient on the *last* state only, and record $\lVert \bar h_t \rVert$ as BPTT carries it
# back — written with the step pair, so you can see each step of (3.10):

# %%
Bn, T, D, H = (4, 30, 8, 16) if FAST else (8, 60, 16, 32)
x = np.random.default_rng(0).standard_normal((Bn, T, D))


def rnn_params(scale, seed=1):
    g = np.random.default_rng(seed)
    Wx = g.standard_normal((H, D)) / np.sqrt(D)
    Wh = scale * g.standard_normal((H, H)) / np.sqrt(H)
    return Wx, Wh, np.zeros(H), np.zeros(H)


def rnn_state_grad_norms(scale):
    params = rnn_params(scale)
    h, caches = np.zeros((Bn, H)), []
    for t in range(T):
        h, cache = rnn.rnn_step_forward(x[:, t], h, *params)
        caches.append(cache)
    dh = np.random.default_rng(2).standard_normal((Bn, H))  # dL/dh_T: L reads the last state
    norms = np.empty(T)
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh)  # dL/dh_t
        _, dh, *_ = rnn.rnn_step_backward(dh, caches[t])
    return norms


plt.figure(figsize=(7, 4))
for scale in (0.5, 1.0, 2.0, 3.0):
    norms = rnn_state_grad_norms(scale)
    plt.semilogy(np.arange(1, T + 1), norms, label=f"scale {scale}: |dL/dh_1| / |dL/dh_T| = {norms[0] / norms[-1]:.0e}")
plt.xlabel("time step t")
plt.ylabel("||dL/dh_t||")
plt.title("RNN: the gradient of the last state, carried back in time")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read each curve from right ($t = T$, where the gradient enters) to left. With a small
# $W_h$ the gradient reaching the first steps is many orders of magnitude smaller: those
# steps get almost no learning signal. With a large $W_h$ it grows by orders of magnitude,
# and one unlucky batch can produce an update that wrecks the weights. Only a narrow band of
# scales keeps it roughly constant — and training moves $W_h$ out of any band you start in.
#
# Lesson 04's LSTM fixes the vanishing side by changing the architecture. The exploding side
# has a blunt and effective fix: clipping.
#
# ## 5. Gradient clipping
#
# Before each optimizer step, measure the **global norm** of all parameter gradients
# together, as one long vector:
#
# $$
# \lVert g \rVert = \sqrt{\textstyle\sum_{\text{arrays } \bar W} \sum \bar W^2}
# \tag{3.11}
# $$
#
# and if it exceeds `max_norm`, scale *every* gradient by the same factor:
#
# $$
# g \leftarrow g \cdot \min\!\Big(1, \frac{\mathrm{max\_norm}}{\lVert g \rVert + 10^{-6}}\Big)
# \tag{3.12}
# $$
#
# This keeps the direction of the update and only shortens it. The older alternative clamps
# each entry:
#
# $$
# g \leftarrow \operatorname{clip}(g, -\text{clip\_value}, \text{clip\_value})
# \tag{3.13}
# $$
#
# which bounds the entries but bends the direction. Both are computed on the device: the
# scale in (3.12) stays a 0-d array and is never read back to the host.

# %%
from minis2s.functional import clip

show(clip.global_norm, clip.clip_grad_norm, clip.clip_grad_value)

# %% [markdown]
# Take the exploding configuration (scale 3), compute its parameter gradients with the
# library's BPTT, and clip them both ways:

# %%
params = rnn_params(3.0)
(hs, h_last), cache = rnn.rnn_forward(x, np.zeros((Bn, H)), *params)
dh_last = np.random.default_rng(2).standard_normal((Bn, H))
_, _, *grads = rnn.rnn_backward((None, dh_last), cache)  # dWx, dWh, dbx, dbh


def flat(gs):
    return np.concatenate([g.ravel() for g in gs])


def cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


by_norm = [g.copy() for g in grads]
norm_before = clip.clip_grad_norm(by_norm, max_norm=1.0)
by_value = [g.copy() for g in grads]
clip.clip_grad_value(by_value, clip_value=0.1)

print(f"global norm before clipping: {float(norm_before):.3g}")
for label, clipped in (("clip_grad_norm(max_norm=1)", by_norm), ("clip_grad_value(0.1)", by_value)):
    print(f"{label:28s} norm {float(clip.global_norm(clipped)):7.3g}, "
          f"cosine with the unclipped gradient {cosine(flat(clipped), flat(grads)):.6f}")

# %% [markdown]
# Clipping by norm leaves the cosine at exactly 1: same direction, shorter step. Clipping by
# value changes the direction. minis2s's trainer clips by global norm.
#
# ## 6. Truncated BPTT, for long sequences
#
# BPTT over $T$ steps keeps every step's cache until the backward pass: memory grows as
# $O(T)$, and the weights are updated once per sequence. A sentence is short, but a language
# model reads a whole text — millions of tokens — as one sequence. **Truncated BPTT** cuts
# the text into windows of $T$ tokens and trains on one window at a time:
#
# - *forward*, window $k$ starts from the state window $k - 1$ ended in — the state is
#   **carried**, so the model still reads the text as one sequence;
# - *backward*, the gradient stops at the window's start: the carried state is a constant of
#   window $k$, and the gradient (3.7) that reaches it, $\bar h^{\text{rec}}_0$ (`dh0`), is
#   **dropped** — window $k - 1$'s graph is gone by then.
#
# With $h^{(k)}_t$ the state after step $t$ of window $k$ and $L^{(k)}$ that window's loss,
#
# $$
# h^{(k)}_0 = h^{(k-1)}_T \text{ held constant}, \qquad
# \bar W^{(k)} = \frac{\partial L^{(k)}}{\partial W}\Big|_{h^{(k)}_0 \text{ fixed}}, \qquad
# \bar h^{(k)}_0 \text{ dropped}
# \tag{3.14}
# $$
#
# Each window costs $O(T)$ memory however long the text, and the weights are updated after
# every window. The price: a loss at step $t$ of a window sends gradient back at most $t$
# steps, so the model is never *told* to use what it read more than $T$ steps earlier
# (it can still use it — the carried state holds it). By (3.10) such long paths carry
# little gradient anyway in a vanilla RNN, which is why truncation costs little here.
#
# minis2s's recurrent language model (`minis2s.models.lm`) is the decoder of lesson 06
# without a source: embeddings, recurrent layers, a readout. `forward_backward` takes the
# state to start from and returns the final state to carry; `layers_backward` runs BPTT in
# each layer and never looks at `dh0`:

# %%
from minis2s.models import lm as lm_model

show(lm_model.LanguageModel.forward_backward, lm_model.layers_backward)

# %% [markdown]
# The batches come from `minis2s.data.lm`: the corpus becomes one stream of ids, laid out
# as $B$ parallel rows (each row a consecutive stretch of the text), and every row is cut
# into windows of $T$ columns; window $k + 1$ of a row continues where window $k$ ended, so
# its batch says `carry=True`:

# %%
from minis2s.data import lm as lm_data

show(lm_data.stream_rows, lm_data.stream_windows)

# %% [markdown]
# A small stream of random "sentences" and an untrained RNN language model in float64.
# First, the forward of truncated BPTT is exact: the loss of window 2, started from the
# state window 1 carried over, equals the loss of the same columns inside one forward over
# both windows — and differs when window 2 starts from zeros instead:

# %%
import time
import tracemalloc

from minis2s import backend as B
from minis2s.data.lm import join_stream, stream_windows
from minis2s.models.lm import LanguageModel, LMConfig

rng = np.random.default_rng(0)
V = 40
n_sentences = 80 if FAST else 400
stream = join_stream([list(rng.integers(4, V, size=n)) for n in rng.integers(4, 12, size=n_sentences)])
with B.precision("float64"):
    lm = LanguageModel(LMConfig(vocab=V, cell="rnn", emb=16, hidden=32), seed=0)
(whole,) = stream_windows(stream, n_rows=4, bptt=len(stream))  # one window: full BPTT
L = whole.x.shape[1]
print(f"a stream of {len(stream)} tokens as 4 rows of {L}")

windows = stream_windows(stream, n_rows=4, bptt=10)
(_, nll_1, _), state = lm.forward_backward(windows[0].x, windows[0].y, windows[0].mask, backward=False, train=False)
(_, nll_2, _), _ = lm.forward_backward(windows[1].x, windows[1].y, windows[1].mask, state, backward=False, train=False)
(_, nll_2_fresh, _), _ = lm.forward_backward(windows[1].x, windows[1].y, windows[1].mask, None, backward=False, train=False)
first_20 = stream_windows(stream, n_rows=4, bptt=20)[0]
(_, nll_12, _), _ = lm.forward_backward(first_20.x, first_20.y, first_20.mask, backward=False, train=False)
print(f"window 2 from the carried state:          {B.to_float(nll_2):.12f}")
print(f"the same 10 columns in one forward over 20: {B.to_float(nll_12 - nll_1):.12f}")
print(f"window 2 from a zero state:               {B.to_float(nll_2_fresh):.12f}")

# %% [markdown]
# The backward is where truncation changes something. We sum each window's gradient over
# the whole stream (each window's mean loss times its tokens, so every token counts once)
# for windows of $T$ = 2 to the whole row, and compare it with full BPTT over the row;
# beside it the peak memory one window needs (`tracemalloc` sees NumPy's buffers) and the
# time of the pass over the stream:

# %%
def summed_gradient(bptt):
    """The gradient of the summed loss over the stream, windows of `bptt`, with time and peak memory."""
    total = {k: np.zeros_like(g) for k, g in lm.grads.items()}
    state, peak, seconds = None, 0, 0.0
    for w in stream_windows(stream, n_rows=4, bptt=bptt):
        tracemalloc.start()
        start = time.perf_counter()
        (_, _, n), state = lm.forward_backward(w.x, w.y, w.mask, state if w.carry else None, train=False)
        seconds += time.perf_counter() - start
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        for k in total:
            total[k] += B.to_float(n) * lm.grads[k]  # the window's mean loss times its tokens: its summed loss
    return np.concatenate([g.ravel() for g in total.values()]), peak, seconds


full, _, _ = summed_gradient(L)  # full BPTT over each row
print(f"{'window T':>8s} {'peak memory':>12s} {'time':>8s} {'|g_T - g_full| / |g_full|':>26s}")
for bptt in (2, 5, 10, 20, 50, L):
    g, peak, seconds = summed_gradient(bptt)
    print(f"{bptt:8d} {peak / 2**20:9.2f} MiB {seconds * 1e3:6.0f} ms {np.linalg.norm(g - full) / np.linalg.norm(full):26.2e}")

# %% [markdown]
# Memory grows linearly with $T$: the window's caches are what BPTT keeps. The gradient
# gets closer to full BPTT's as $T$ grows — what is dropped (3.14) are the paths longer
# than the window — and the error falls quickly, as (3.10) predicts for gradients that
# vanish over a few steps. Very short windows also cost *time*: the same tokens in many
# small calls, each with its fixed overhead and smaller matrix products. Language models
# are usually trained with $T$ of 35 to a few hundred.

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 03](answers.md#lesson-03), to read after you have tried.
#
# **Q3.1.** In the plot of section 4 the gradient reaching $t = 1$ shrinks by orders of
# magnitude at scale 0.5 and grows at scale 3. Explain both with (3.10), and why a large $W_h$
# is "necessary, not sufficient" for an explosion.
#
# **Q3.2.** `clip_grad_norm` left the cosine with the unclipped gradient at exactly 1;
# `clip_grad_value` did not. Why? And why does `clip_grad_norm` multiply by its factor even
# when the factor is 1, instead of testing `if norm > max_norm:`?
#
# **Q3.3.** Section 6 printed that window 2's loss from the carried state equals its part of
# one forward over both windows, while the summed gradient of windows of $T$ differs from full
# BPTT's, less and less as $T$ grows, and the peak memory grows with $T$. Which terms of the
# gradient does (3.14) drop, why do they shrink with $T$, and why is the forward exact when
# the backward is not?

# %% [markdown]
# ## Summary
#
# - RNN step: $h_t = \tanh(x_t W_x^\top + h_{t-1} W_h^\top + b)$ (3.1–3.2); backward: through
#   the tanh (3.3, 3.4), then matrix products with the same weights (3.5), parameter
#   gradients summed over batch and time (3.6).
# - BPTT: $h_t$ feeds the output and the next step, so their gradients add (3.7). Padded
#   steps copy the state forward and the gradient backward (3.8, 3.9).
# - Carried back over many steps, the gradient is a product of Jacobians (3.10): it vanishes
#   or explodes exponentially. Clip by global norm (3.11–3.12) to tame explosions.
# - Truncated BPTT (3.14) carries the state across windows of $T$ steps and drops its
#   gradient: memory $O(T)$ however long the text, at the price of the gradient paths
#   longer than the window.
#
# **Next:** [lesson 04](04_lstm.ipynb) — the LSTM, whose cell state gives gradients a path
# that does not pass through $W_h$ at every step.
