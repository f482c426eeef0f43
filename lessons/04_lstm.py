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
# # Lesson 04 — The LSTM
#
# **What you will learn**
#
# - the LSTM cell: four gates computed by one matrix product, a cell state and a hidden
#   state (eq. 4.1–4.6);
# - the gradient of every gate, derived step by step (eq. 4.7–4.10) — then you write the
#   step backward yourself;
# - the LSTM over a padded batch (eq. 4.11);
# - why the cell state lets gradients survive many steps: lesson 03's experiment, repeated.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, solutions

# %% [markdown]
# ## 1. The cell
#
# Lesson 03 ended with the problem: carried back one step, an RNN's gradient is multiplied
# by $\operatorname{diag}(1 - h^2)\,W_h$, and over many steps that product vanishes or
# explodes. The LSTM (Hochreiter & Schmidhuber, 1997; the forget gate is from Gers et al.,
# 2000) adds a second state, the **cell** $c_t$, updated by *addition* under the control of
# gates.
#
# One matrix product computes the pre-activations of all four gates at once. $W_x$ is
# $(4H, D)$ and $W_h$ is $(4H, H)$, their row blocks in PyTorch's order $i, f, g, o$, so
# `nn.LSTM` weights load unchanged:
#
# $$
# a = x W_x^{\top} + b_x + h_{\text{prev}} W_h^{\top} + b_h = [\,a_i,\ a_f,\ a_g,\ a_o\,]
# \qquad (B, 4H)
# \tag{4.1}
# $$
#
# Three gates squash their block to $(0, 1)$ with the logistic sigmoid:
#
# $$
# i = \sigma(a_i), \qquad f = \sigma(a_f), \qquad o = \sigma(a_o)
# \tag{4.2}
# $$
#
# $$
# \sigma(x) = \frac{1}{1 + e^{-x}}, \qquad \sigma'(x) = \frac{e^{-x}}{(1 + e^{-x})^2} = \sigma(x)\,\bigl(1 - \sigma(x)\bigr)
# \tag{4.3}
# $$
#
# The *candidate* $g$ is a tanh, like the RNN's state:
#
# $$
# g = \tanh(a_g)
# \tag{4.4}
# $$
#
# The **input gate** $i$ decides how much of $g$ to write, the **forget gate** $f$ how much
# of the old cell to keep:
#
# $$
# c = f \odot c_{\text{prev}} + i \odot g
# \tag{4.5}
# $$
#
# and the **output gate** $o$ how much of the squashed cell to expose as the hidden state:
#
# $$
# h = o \odot \tanh(c)
# \tag{4.6}
# $$
#
# The library implements (4.2)–(4.6) once, in `lstm_gates_forward`, one line per equation;
# the step adds (4.1), and the sequence (section 3) calls the same function at every step.
# Its cache, `LSTMGatesCache`, keeps the gates under their names:

# %%
from minis2s.functional import lstm

show(lstm.LSTMGatesCache, lstm.lstm_gates_forward, lstm.lstm_step_forward)

# %% [markdown]
# Like the tanh (eq. 3.3), the sigmoid's derivative (4.3) is written through its output,
# so the forward caches the activations and never the pre-activations. The library's
# stand-alone sigmoid pair (its `sigmoid` never takes `exp` of a positive number, so it
# cannot overflow):

# %%
from minis2s.functional import activations

show(activations.sigmoid_forward, activations.sigmoid_backward)

# %% [markdown]
# ## 2. The gradient of every gate
#
# A step has two outputs, $h$ and $c$, so its backward receives two upstream gradients:
# $\bar h = \partial L/\partial h$ and $\bar c = \partial L/\partial c$ (from the next step's
# cell, or from the loss). Walk the graph from the top.
#
# **The cell.** $c$ reaches the loss directly ($\bar c$) and through $h = o \odot \tanh(c)$.
# The two paths add (eq. 1.1):
#
# $$
# \bar c_{\text{total}} = \bar c + \bar h \odot o \odot \bigl(1 - \tanh^2(c)\bigr)
# \tag{4.7}
# $$
#
# **The gates.** Each enters (4.5) or (4.6) through a product, and the derivative of a
# product with respect to one factor is the other factor:
#
# $$
# \bar i = \bar c_{\text{total}} \odot g, \quad
# \bar f = \bar c_{\text{total}} \odot c_{\text{prev}}, \quad
# \bar g = \bar c_{\text{total}} \odot i, \quad
# \bar o = \bar h \odot \tanh(c), \quad
# \bar c_{\text{prev}} = \bar c_{\text{total}} \odot f
# \tag{4.8}
# $$
#
# **Through the squashing functions** (4.3 and 3.3), from their outputs:
#
# $$
# \bar a_{i,f,o} = \bar{s} \odot s\,(1 - s) \ \text{ for each gate } s \in \{i, f, o\}, \qquad
# \bar a_g = \bar g \odot (1 - g^2)
# \tag{4.9}
# $$
#
# **Through the one matrix product** (4.1), exactly as for the RNN (eq. 3.5, 3.6), with
# $\bar a = [\bar a_i, \bar a_f, \bar a_g, \bar a_o]$ of shape $(B, 4H)$:
#
# $$
# \bar x = \bar a W_x, \quad
# \bar h_{\text{prev}} = \bar a W_h, \quad
# \bar W_x = \textstyle\sum_t \bar a_t^{\top} x_t, \quad
# \bar W_h = \textstyle\sum_t \bar a_t^{\top} h_{t-1}, \quad
# \bar b_x = \bar b_h = \textstyle\sum_t \sum_b \bar a_{t,b}
# \tag{4.10}
# $$
#
# The library splits this backward in two, as it splits the forward: a gate backward,
# (4.7)–(4.9), and a step backward that adds (4.10). The gradient checker confirms both against
# finite differences, the gate math on its own (`lstm gates`: inputs $a$ and
# $c_{\text{prev}}$) and inside a step, for every input and parameter; their code follows
# the exercise:

# %%
from minis2s import suite
from minis2s.gradcheck import format_table

names = ["lstm gates", "lstm step B=3", "lstm step B=1"]
print(format_table([r for c in suite.CASES if c.name in names for r in suite.run(c)]))

# %% [markdown]
# ### Exercise: `lstm_step_backward`
#
# Write the backward pass of one LSTM step. `dout = (dh, dc)`, each $(B, H)$; the
# cache holds the inputs and every gate (`cache.i`, `cache.f`, `cache.g`, `cache.o`,
# `cache.tanh_c`). Return `dx, dh_prev, dc_prev, dWx, dWh, dbx, dbh` (eq. 4.7–4.10), with the
# gate blocks of the $4H$ axis in the order $i, f, g, o$. The usual slips: forgetting the
# direct $\bar c$ in (4.7), and using the sigmoid slope for the $g$ block.
#
# The grader runs the library's own forward, `lstm.lstm_step_forward`. Its cache is a
# `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather than
# unpacking a tuple. Here is `LSTMStepCache`; the stub below lists its fields with their
# shapes:

# %%
from minis2s.functional import lstm

show(lstm.LSTMStepCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def lstm_step_backward(dout, cache):
    """Backward of one LSTM step, gates i, f, g, o in PyTorch's order (lesson 04, eq. 4.1-4.10).

    dout = (dh, dc), each (B, H): the gradients of the loss with respect to h and c.
    cache (minis2s.functional.lstm.LSTMStepCache, from lstm_step_forward):
        cache.x               (B, D)
        cache.h_prev          (B, H)
        cache.c_prev          (B, H)
        cache.Wx              (4H, D)  row blocks i, f, g, o
        cache.Wh              (4H, H)
        cache.i, .f, .o       (B, H)   sigmoid gates (eq. 4.2)
        cache.g               (B, H)   tanh candidate (eq. 4.4)
        cache.tanh_c          (B, H)   tanh(c) of the new cell c = f * c_prev + i * g, so
                                       h = o * tanh_c (eq. 4.5-4.6)
    Returns dx (B, D), dh_prev (B, H), dc_prev (B, H), dWx (4H, D), dWh (4H, H), dbx (4H,),
    dbh (4H,). Stack the gate gradients as da = [da_i, da_f, da_g, da_o], (B, 4H).
    """
    raise NotImplementedError("write eq. 4.7 first: dc_total = dc + dh * o * (1 - tanh(c)^2)")


report = check(lstm_step_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.lstm_step_backward)

# %% [markdown]
# ## 3. The LSTM over a padded batch
#
# Over a sequence, BPTT works as for the RNN: $h_t$ feeds the output and the next step, and
# so does $c_t$ (the next step's $c_{\text{prev}}$). Padding follows the same rule as
# eq. 3.8 and 3.9, for both states:
#
# $$
# M_t = 0:\quad h_t = h_{t-1},\ c_t = c_{t-1},\ y_t = 0; \qquad
# \text{backward } \bar a_t = 0,\ (\bar h, \bar c) \text{ pass the step unchanged}
# \tag{4.11}
# $$

# %% [markdown]
# ### Exercise: `lstm_backward`
#
# Write BPTT of the LSTM over a padded batch: given `dout = (dhs, dh_last, dc_last)` — the
# gradients of every output $h_t$, $(B, T, H)$, and of the final state $(h, c)$, each $(B, H)$
# — and the cache of `lstm.lstm_forward`, return `dx, dh0, dc0, dWx, dWh, dbx, dbh`
# (eq. 4.7–4.11). `cache.step(t)` is step $t$'s own `LSTMStepCache`: call a step backward on
# it inside your loop, your own from the exercise above or `solutions.lstm_step_backward`.
# What is new over lesson 03 is the second state: $\bar c$ is carried through the padded
# steps exactly like $\bar h$, and `dc_last` enters each row at its last real step. The grader
# knows the classic mistakes: a loop that stops before $t = 0$, $\bar c$ not carried through
# padding, $\bar y_t$ added at padded steps, padding treated as real, the final state's
# gradients forgotten.
#
# The grader runs the library's own forward, `lstm.lstm_forward`. Here is its cache,
# `LSTMCache`; the stub below lists its fields with their shapes:

# %%
from minis2s.functional import lstm

show(lstm.LSTMCache)


# %% [markdown]
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` grades your
# function with the gradient checker of lesson 01 and, if a gradient is wrong, says which one
# and why. Until you fill it in, it reports that the exercise is not implemented yet. (`check`
# prints its report and returns it: `report.passed` is True once you are done.)

# %%
def lstm_backward(dout, cache):
    """Backpropagation through time of the LSTM over a padded batch (lesson 04, eq. 4.7-4.11).

    dout = (dhs, dh_last, dc_last): dhs (B, T, H), the gradient of every output h_t; dh_last and
    dc_last (B, H), the gradients of the final state (h, c) -- a row's state after its last
    real token.
    cache (minis2s.functional.lstm.LSTMCache, from lstm_forward):
        cache.step(t)  step t's own LSTMStepCache: pass it to a step backward (yours from the
                       previous exercise, or minis2s.exercises.solutions.lstm_step_backward)
        cache.mask     (B, T, 1) bool  M_t: True on real tokens (each row real, then padded)
        cache.x        (B, T, D)
        cache.h0       (B, H)
        cache.Wx       (4H, D)
        cache.Wh       (4H, H)
        cache.h        (B, T, H)  the state after every step, carried over padding (eq. 4.11)
        cache.gates    a list of T LSTMGatesCache, step t's gates (cache.step(t) holds them)
    Returns dx (B, T, D), dh0 (B, H), dc0 (B, H), dWx (4H, D), dWh (4H, H), dbx (4H,), dbh (4H,).
    """
    raise NotImplementedError(
        "write eq. 4.11 first: loop t from T-1 down to 0, dh = dh + M_t dhs_t, send (M_t dh, M_t dc) "
        "through a step backward, and pass (dh, dc) unchanged where M_t = 0"
    )


report = check(lstm_backward)

# %% [markdown]
# The reference solution — the library's own backward — graded the same way; this is what a
# pass looks like:

# %%
report = check(solutions.lstm_backward)

# %% [markdown]
# Here is the library's own version of both exercises, to compare with yours. The gate
# backward is (4.7)–(4.9) line by line, and stacks the four blocks of $\bar a$ in the order of
# $a$; the step backward adds (4.10). The step's cache, `LSTMStepCache`, holds every field of
# the gates' cache besides the step's inputs, so the step backward hands it to the gate
# backward as it is:

# %%
show(lstm.lstm_gates_backward, lstm.lstm_step_backward)

# %% [markdown]
# The sequence functions call the gate functions directly. As in lesson 03, all input
# projections happen in one product before the loop and all weight gradients in one product
# after it; inside the loop, only $h_{t-1} W_h^{\top}$ and the gate math remain.

# %%
show(lstm.lstm_forward, lstm.lstm_backward)

# %%
names = ["lstm sequence padded mask", "lstm sequence one real row"]
print(format_table([r for c in suite.CASES if c.name in names for r in suite.run(c)]))

# %% [markdown]
# ## 4. Why the cell state lets gradients flow
#
# Look at (4.8) again: from $c_t$ to $c_{t-1}$ the gradient is multiplied by $f_t$,
# **elementwise** — no matrix $W_h$, no tanh slope. Along the cell path alone, carried from
# step $T$ back to step $t$:
#
# $$\frac{\partial c_T}{\partial c_t}\Big|_{\text{cell path}} = \operatorname{diag}\Big(\prod_{s=t+1}^{T} f_s\Big)$$
#
# When the forget gates sit near 1, this product stays near 1 however long the sequence:
# the "constant error carousel". The network *learns* when to keep and when to forget; what
# matters is that it *can* keep a gradient without multiplying it by the same matrix at
# every step. (Other paths, through $h$ and $W_h$, still exist and still vanish; the cell path
# is the one that survives.)
#
# Let us repeat lesson 03's experiment: random inputs, $W_h$ drawn at scale 1 (where the RNN
# lost orders of magnitude), a random gradient on the last state only, and the norm of the
# state gradient $(\bar h_t, \bar c_t)$ as BPTT carries it back. We vary the forget-gate bias
# $b_f$, which sets how close to 1 the forget gates start:

# %%
from minis2s.functional import rnn

Bn, T, D, H = (4, 30, 8, 16) if FAST else (8, 60, 16, 32)
x = np.random.default_rng(0).standard_normal((Bn, T, D))


def rnn_state_grad_norms(scale=1.0):
    # lesson 03's experiment, for comparison
    g = np.random.default_rng(1)
    params = (g.standard_normal((H, D)) / np.sqrt(D), scale * g.standard_normal((H, H)) / np.sqrt(H), np.zeros(H), np.zeros(H))
    h, caches = np.zeros((Bn, H)), []
    for t in range(T):
        h, cache = rnn.rnn_step_forward(x[:, t], h, *params)
        caches.append(cache)
    dh, norms = np.random.default_rng(2).standard_normal((Bn, H)), np.empty(T)
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh)
        _, dh, *_ = rnn.rnn_step_backward(dh, caches[t])
    return norms


def lstm_state_grad_norms(forget_bias, scale=1.0):
    g = np.random.default_rng(1)
    Wx = g.standard_normal((4 * H, D)) / np.sqrt(D)
    Wh = scale * g.standard_normal((4 * H, H)) / np.sqrt(H)
    bx, bh = np.zeros(4 * H), np.zeros(4 * H)
    bx[H : 2 * H] = forget_bias  # the f block (gate order i, f, g, o)
    h, c, caches, f_mean = np.zeros((Bn, H)), np.zeros((Bn, H)), [], 0.0
    for t in range(T):
        (h, c), cache = lstm.lstm_step_forward(x[:, t], h, c, Wx, Wh, bx, bh)
        caches.append(cache)
        f_mean += cache.f.mean() / T  # the forget gate, by name
    dh, dc = np.random.default_rng(2).standard_normal((Bn, H)), np.zeros((Bn, H))
    norms = np.empty(T)
    for t in reversed(range(T)):
        norms[t] = np.sqrt(np.sum(dh**2) + np.sum(dc**2))  # the state (h_t, c_t)
        _, dh, dc, *_ = lstm.lstm_step_backward((dh, dc), caches[t])
    return norms, f_mean


steps = np.arange(1, T + 1)
plt.figure(figsize=(7, 4))
rnn_norms = rnn_state_grad_norms()
plt.semilogy(steps, rnn_norms, "k--", label="RNN (lesson 03), scale 1")
print(f"T = {T} steps; ratio = |grad at t = 1| / |grad at t = T|, per step = ratio^(1/(T-1))")
print(f"  RNN:                         ratio {rnn_norms[0] / rnn_norms[-1]:.2g}")
for forget_bias in (0.0, 1.0, 3.0):
    norms, f_mean = lstm_state_grad_norms(forget_bias)
    plt.semilogy(steps, norms, label=f"LSTM, forget bias {forget_bias:g} (mean f = {f_mean:.2f})")
    ratio = norms[0] / norms[-1]
    print(f"  LSTM, b_f = {forget_bias:g} (mean f = {f_mean:.2f}): ratio {ratio:.2g}, "
          f"per step {ratio ** (1 / (T - 1)):.2f}")
plt.xlabel("time step t")
plt.ylabel("||dL/d(h_t, c_t)||")
plt.title("LSTM: the gradient of the last state, carried back in time")
plt.legend(fontsize=8)
plt.show()

# %% [markdown]
# Read the printed ratios (full mode, $T = 60$; fast mode, $T = 30$, in brackets). With
# $b_f = 0$ the forget gates average about 0.5 and the state gradient keeps about 0.63 of
# itself per step: over the sequence it falls to about $2 \cdot 10^{-12}$
# ($2 \cdot 10^{-6}$) — it vanishes like the RNN's. With $b_f = 1$, the library's setting
# (mean $f$ about 0.7), it keeps about 0.82 per step: a far slower decay, but still down to
# about $8 \cdot 10^{-6}$ ($3 \cdot 10^{-3}$) by the first step — a head start, not a free
# path. Only with $b_f = 3$ (mean $f$ above 0.9,
# 0.96–0.98 per step) does a sizeable part reach the first step, roughly a quarter to a
# third of it — diminished, but not vanished.
#
# So the forget bias sets how fast an untrained LSTM forgets, and through it how far back
# a gradient reaches. minis2s (like most LSTM code since Jozefowicz et al., 2015, who found
# that a bias of 1 closed most of the gap to the GRU) initialises it to 1: the gates start
# mostly open, and training can open them further where the task needs a long memory. A
# larger bias carries gradients further from the start, at the price of gates that begin
# by forgetting almost nothing.

# %%
from minis2s.nn import cells

show(cells.init_params)

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 04](answers.md#lesson-04), to read after you have tried.
#
# **Q4.1.** Section 4 printed the state gradient keeping about 0.63, 0.82 and 0.96–0.98 of
# itself per step for forget biases 0, 1 and 3. Relate these per-step factors to the mean
# forget gate and to (4.8): what multiplies the gradient from $c_t$ to $c_{t-1}$, and why does
# that product behave so differently from the RNN's (3.10)?
#
# **Q4.2.** With a bias of 3 the gradient reaches the first step; why does the library still
# initialise the forget bias to 1? What does a bias of 3 do to the forward pass of an
# untrained LSTM?
#
# **Q4.3.** The backward writes each gate's slope through its output, $\sigma' = \sigma(1 -
# \sigma)$ and $\tanh' = 1 - \tanh^2$ (4.9). What does this save in the cache, and why is it
# exact rather than an approximation?

# %% [markdown]
# ## Summary
#
# - One product gives all four gate pre-activations (4.1); sigmoid gates $i, f, o$ (4.2,
#   4.3), a tanh candidate $g$ (4.4); the cell is updated by addition (4.5) and exposed
#   through $o$ (4.6).
# - Backward: $c$ collects its direct gradient and the one through $h$ (4.7); each gate's
#   gradient is "the other factor" (4.8), times its slope written through its output (4.9);
#   then the same matrix products as the RNN (4.10). Padding copies both states (4.11).
# - From $c_t$ to $c_{t-1}$ the gradient is only multiplied by $f_t$: with forget gates near 1
#   it survives long sequences. The forget-gate bias sets where the gates start: at 1 (the
#   library's) the gradient decays far more slowly than at 0, but only a bias near 3 carries
#   a sizeable part of it over 30–60 steps (the ratios printed in section 4).
#
# **Next:** [lesson 05](05_gru.ipynb) — the GRU, which gets the same effect with one state
# and three gates.
