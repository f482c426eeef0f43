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
# # Lesson 01 — Gradients: graphs, the chain rule, and checking them numerically
#
# **What you will learn**
#
# - to see a computation as a graph and push gradients backwards through it (the chain rule);
# - why a backward pass computes a *vector–Jacobian product* and never a Jacobian;
# - finite differences: one-sided versus centered, and the trade-off in choosing $\varepsilon$;
# - how `minis2s.gradcheck` checks every backward pass in the library (eq. 1.4–1.6), and how
#   to read its report.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show


# %% [markdown]
# ## 1. A computational graph
#
# Take $f(x, y, z) = (x + y)\,z$. Name the intermediate value $q = x + y$, so $f = q z$. The
# **forward pass** evaluates the graph from inputs to output; with $x=-2, y=5, z=-4$ it gives
# $q = 3$ and $f = -12$.
#
# ```
# x ──┐
#     (+)── q ──┐
# y ──┘         (×)── f
# z ────────────┘
# ```
#
# The **backward pass** walks the graph in reverse. Each node knows only its *local*
# derivatives ($\partial f/\partial q = z$, $\partial q/\partial x = 1$) and multiplies them
# by the gradient arriving from above, the *upstream* gradient. For a scalar loss $L$ that
# depends on $x$ through intermediate values $y_1, \dots, y_m$:
#
# $$
# \frac{\partial L}{\partial x} \;=\; \sum_{j=1}^{m} \frac{\partial L}{\partial y_j}\,\frac{\partial y_j}{\partial x}
# \qquad \text{(not implemented in code)}
# \tag{1.1}
# $$
#
# Read it as *upstream × local, summed over every path out of $x$*. The sum matters: when a
# value feeds several places (a bias added to every row of a batch, a hidden state that
# feeds both an output and the next time step), **its gradients add**.
#
# Here: $\partial f/\partial z = q = 3$, $\partial f/\partial q = z = -4$, and the addition
# passes the upstream gradient unchanged to both inputs, so
# $\partial f/\partial x = \partial f/\partial y = -4$.
#
# In minis2s every differentiable operation is a pair of plain functions:
# `forward(inputs) -> (out, cache)` keeps in `cache` exactly what the backward needs, and
# `backward(dout, cache) -> grads` returns one gradient per input, in the forward's argument
# order. We write `dx` for $\partial L/\partial x$; it always has the shape of `x`.

# %%
def add_forward(x, y):
    return x + y, None


def add_backward(dout, cache):
    return dout, dout  # the local derivatives are 1: addition routes the gradient


def mul_forward(x, y):
    return x * y, (x, y)


def mul_backward(dout, cache):
    x, y = cache
    return dout * y, dout * x  # multiplication swaps its inputs


x, y, z = -2.0, 5.0, -4.0
q, add_cache = add_forward(x, y)
f, mul_cache = mul_forward(q, z)

df = 1.0  # dL/df with L = f
dq, dz = mul_backward(df, mul_cache)
dx, dy = add_backward(dq, add_cache)
print(f"f = {f}   df/dx = {dx}   df/dy = {dy}   df/dz = {dz}")

# %% [markdown]
# ## 2. Vectors: the backward pass is a vector–Jacobian product
#
# When $y = g(x)$ maps a vector $x \in \mathbb{R}^n$ to $y \in \mathbb{R}^m$, (1.1) in matrix
# form says: given the upstream gradient $\bar y = \partial L/\partial y$ (`dout`),
#
# $$
# \bar x \;=\; J^{\top} \bar y, \qquad J_{jk} = \frac{\partial y_j}{\partial x_k}
# \qquad \text{(not implemented in code)}
# \tag{1.2}
# $$
#
# The backward pass computes this product **without ever forming $J$**. For an elementwise
# function $J$ is diagonal, so the product is an elementwise multiply; for $y = x W^\top$
# (lesson 02) it is a matrix product with $W$. A $(B, T, H)$ activation with $B=64, T=50,
# H=512$ has 1.6 million entries: its Jacobian would have $2.6 \times 10^{12}$.
#
# Example: $y = \tanh(x)$ elementwise has $J = \operatorname{diag}(1 - y^2)$, so
# $\bar x = \bar y \odot (1 - y^2)$ — computed from the *output* $y$, which is why the
# forward caches $y$.
#
# ## 3. Finite differences
#
# How do we know a backward pass is right? Compare it with the definition of the derivative.
# The **one-sided** difference and its error, from Taylor's theorem:
#
# $$
# \frac{f(x + \varepsilon) - f(x)}{\varepsilon} \;=\; f'(x) + \frac{\varepsilon}{2} f''(x) + O(\varepsilon^2)
# \qquad \text{(not implemented in code)}
# \tag{1.3}
# $$
#
# Its *truncation error* shrinks only linearly in $\varepsilon$.
#
# ## 4. One scalar to check a whole backward pass
#
# A backward pass maps `dout` to gradients. To compare it with finite differences we need a
# scalar function of the inputs whose gradient *is* what backward returns. Pick a random
# `dout` (one array per output $y_k$) and define
#
# $$
# L \;=\; \sum_k \langle \bar y_k,\, y_k \rangle \;=\; \sum_k \sum_{\text{entries}} \bar y_k \odot y_k
# \tag{1.4}
# $$
#
# Then $\partial L/\partial y_k = \bar y_k$ exactly, so by (1.2) $\partial L/\partial x$ is
# precisely `backward(dout, cache)`. A random `dout` mixes every row of $J$: a wrong entry
# anywhere in the Jacobian shows up (with probability one).
#
# ## 5. Centered differences
#
# Subtract the Taylor expansions of $f(x+\varepsilon)$ and $f(x-\varepsilon)$: the even
# terms cancel and
#
# $$
# \frac{\partial L}{\partial x_i} \;\approx\; \frac{L(x + \varepsilon e_i) - L(x - \varepsilon e_i)}{2\varepsilon},
# \qquad \text{error } \frac{\varepsilon^2}{6} L''' + O(\varepsilon^4)
# \tag{1.5}
# $$
#
# with $e_i$ the $i$-th unit vector. The truncation error is now $O(\varepsilon^2)$.
#
# ### The $\varepsilon$ trade-off
#
# Smaller $\varepsilon$ is not always better. $L$ is computed with a relative rounding error
# of about the unit roundoff $u$ ($1.1\times10^{-16}$ in float64, $6\times10^{-8}$ in
# float32), and the difference divides that error by $\varepsilon$. The total error is about
#
# $$\text{one-sided: } \tfrac{\varepsilon}{2}|f''| + \tfrac{2u|f|}{\varepsilon},
# \qquad \text{centered: } \tfrac{\varepsilon^2}{6}|f'''| + \tfrac{u|f|}{\varepsilon},$$
#
# smallest near $\varepsilon \approx \sqrt{u}$ (one-sided) and $\varepsilon \approx u^{1/3}$
# (centered). Let us measure it on $f = \tanh$ at $x = 0.5$, where the exact derivative is
# $1 - \tanh^2(0.5)$.

# %%
x0 = 0.5
exact = 1 - np.tanh(x0) ** 2
eps = np.logspace(-15, -1, 57 if FAST else 141)


def one_sided(dtype, e):
    x, e = dtype(x0), dtype(e)
    return (np.tanh(x + e) - np.tanh(x)) / e


def centered(dtype, e):
    x, e = dtype(x0), dtype(e)
    return (np.tanh(x + e) - np.tanh(x - e)) / (2 * e)


curves = {
    "one-sided, float64 (eq. 1.3)": (one_sided, np.float64),
    "centered, float64 (eq. 1.5)": (centered, np.float64),
    "centered, float32": (centered, np.float32),
}
plt.figure(figsize=(10, 4.5))
for label, (rule, dtype) in curves.items():
    err = np.array([abs(float(rule(dtype, e)) - exact) / exact for e in eps])
    err = np.maximum(err, 1e-17)  # an exact hit would be log(0)
    best = err.argmin()
    plt.loglog(eps, err, label=f"{label}: best {err[best]:.0e} at eps={eps[best]:.0e}")
plt.axvline(1e-6, color="gray", ls=":", label="gradcheck's eps = 1e-6")
plt.xlabel("eps")
plt.ylabel("relative error of the derivative")
plt.title("Truncation error falls with eps, rounding error grows as 1/eps")
plt.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the plot from the right: the truncation error falls with slope 1 (one-sided) or 2
# (centered); then, past the minimum, rounding takes over and the error grows like
# $1/\varepsilon$ (noisily: rounding errors are erratic). At their best, centered differences
# in float64 reach $10^{-11}$ or so, one-sided ones only about $10^{-8}$, and in float32 even
# centered differences stay above about $10^{-6}$.
#
# That is why every gradient check in minis2s runs **centered differences in float64 with
# $\varepsilon = 10^{-6}$**, a little below the optimum where the curve is flat.
#
# ## 6. Comparing two gradients: relative error
#
# An absolute difference means nothing without a scale (is $10^{-4}$ small? not if the
# gradient is $10^{-5}$). The checker compares the analytic gradient $a$ and the numerical
# one $n$, over all checked coordinates of one input, by
#
# $$
# \text{rel. error}(a, n) \;=\; \frac{\lVert a - n \rVert}{\max(\lVert a \rVert + \lVert n \rVert,\ \text{tiny})}
# \tag{1.6}
# $$
#
# with Euclidean norms. It is a *norm*, not a per-coordinate maximum: a coordinate whose
# true gradient is about 0 would otherwise turn harmless rounding into a false alarm. In
# float64, a correct backward gives about $10^{-9}$ or less; minis2s requires
# $\le 10^{-7}$. A bug typically gives $10^{-2}$ to $1$.

# %% [markdown]
# ### Exercise: `numerical_gradient`
#
# Write (1.5) yourself: `numerical_gradient(f, x, coords, eps)` perturbs one entry of `x` at
# a time, in place, evaluates `f()` on both sides, and puts the entry back. The grader calls
# it on $f(x) = \sum_i w_i \tanh x_i + \frac12 (\sum_i x_i)^2$, whose second term ties every
# coordinate to all the others, with $\varepsilon = 10^{-3}$ so that the one-sided error of
# section 5 is far above rounding, and compares your list of differences, and `x` after the
# call, with the library's `gradcheck.numerical_gradient`. Watch for: both sides of
# (1.5), the $2\varepsilon$, and the entry restored before the next coordinate.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` runs your
# function and the library's on the same seeded inputs and compares what they return; where
# they differ it says which output, where and by how much, and it names the mistake when it
# is a common one. (`check` prints its report and returns it: `report.passed` is True once
# you are done.)

# %%
from minis2s.exercises import check, references


# %%
def numerical_gradient(f, x, coords, eps=1e-6):
    """Centered differences of a scalar function at some coordinates of x (lesson 01, eq. 1.5).

    f: a function of no arguments returning a float; it reads x, so changing x[idx] changes f().
    x: a float64 array, perturbed in place one entry at a time; every entry must hold its
       original value again when you return.
    coords: a list of index tuples into x, e.g. [(0, 1), (2, 3)].
    Returns a list of floats, one per coordinate in order: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
    """
    raise NotImplementedError("write eq. 1.5 for one coordinate first: (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)")


report = check(numerical_gradient)

# %% [markdown]
# The library's own function, graded the same way; this is what a pass looks like:

# %%
report = check(references.numerical_gradient)

# %% [markdown]
# ## 7. The library's gradient checker
#
# `minis2s/gradcheck.py` implements (1.4)–(1.6). Here is its module docstring, then the
# three functions that do the work:

# %%
from minis2s import gradcheck as G

print(G.__doc__)
show(G.numerical_gradient, G.rel_error, G.gradcheck)

# %% [markdown]
# Its inputs go in a dict; `wrt` names those the backward returns gradients for, in order.
# Let us check the `mul` pair from section 1 on arrays:

# %%
from minis2s.gradcheck import format_table, gradcheck

rng = np.random.default_rng(0)
inputs = {"x": rng.standard_normal((3, 4)), "y": rng.standard_normal((3, 4))}
print(format_table(gradcheck(mul_forward, mul_backward, inputs, wrt=("x", "y"), op="mul")))


# %% [markdown]
# Now a realistic bug. Adding a bias $b \in \mathbb{R}^H$ to every row of $x \in
# \mathbb{R}^{B \times H}$ uses $b$ once per row, so by (1.1) its gradient is the **sum**
# over rows. Averaging instead is a common slip. The report says *which* input is wrong:

# %%
def add_bias_forward(x, b):
    return x + b, None


def add_bias_backward_buggy(dout, cache):
    return dout, dout.mean(axis=0)  # should be dout.sum(axis=0): b fans out to every row


inputs = {"x": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
print(format_table(gradcheck(add_bias_forward, add_bias_backward_buggy, inputs, wrt=("x", "b"), op="add bias")))

# %% [markdown]
# The gradient for `x` passes; the one for `b` is off by a factor $B = 4$, which (1.6) turns
# into a relative error of $(4-1)/(4+1) = 0.6$.
#
# The checker insists on float64 — in float32, as the plot showed, even a correct gradient
# would miss $10^{-7}$ by orders of magnitude:

# %%
try:
    gradcheck(mul_forward, mul_backward, {"x": np.ones(3, np.float32), "y": np.ones(3, np.float32)}, wrt=("x", "y"))
except TypeError as err:
    print("TypeError:", err)

# %% [markdown]
# ## 8. The catalogue of checks
#
# Every op in the library has *cases* listed in `minis2s/suite/` (one plain list per
# functional module: search for a case's name to find it): small float64 inputs in
# one situation each (a padded batch, $B=1$, $T=1$, a batch that is all padding but one
# row). The tests run every case on every backend, and the command line prints them all:
#
# ```bash
# python -m minis2s gradcheck          # the table, and exit code 1 if any check fails
# python -m minis2s gradcheck --model  # whole models, every parameter (lesson 09)
# ```
#
# Here are a few of the cases, run directly:

# %%
from minis2s import suite

print(len(suite.CASES), "cases, for example:", [c.name for c in suite.CASES[:4]])
chosen = ["affine 2-D", "embedding padding_idx"] if FAST else ["affine 2-D", "embedding padding_idx", "rnn sequence padded mask"]
results = [r for c in suite.CASES if c.name in chosen for r in suite.run(c)]
print(format_table(results))

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 01](answers.md#lesson-01), to read after you have tried.
#
# **Q1.1.** The ε plot shows the best centered difference in float64 about three orders of
# magnitude more accurate than the best one-sided one, at a larger ε. Explain both facts from
# the error terms of (1.3) and (1.5) and the rounding term $u|f|/\varepsilon$.
#
# **Q1.2.** Why does minis2s check gradients in float64? Use the float32 curve of the same
# plot and the tolerance $10^{-7}$ of (1.6).
#
# **Q1.3.** The checker multiplies the outputs by a *random* upstream gradient (1.4). Show
# that for softmax an upstream gradient of all ones would let a backward that returns zeros
# pass the check (use eq. 2.6 of lesson 02), and say why a random one cannot be fooled that
# way.

# %% [markdown]
# ## Summary
#
# - Backward = the chain rule (1.1), evaluated as vector–Jacobian products (1.2), one node at
#   a time, from upstream gradient and cached forward values. Gradients of a value used
#   several times add up.
# - To check a backward pass: a random upstream gradient turns the op into a scalar (1.4);
#   centered differences (1.5) in float64 with $\varepsilon = 10^{-6}$ estimate its gradient;
#   the norm-based relative error (1.6) must be at most $10^{-7}$.
# - `minis2s.gradcheck.gradcheck(forward, backward, inputs, wrt)` does all of it and says
#   which input is wrong; `python -m minis2s gradcheck` runs it over the whole library.
#
# **Next:** [lesson 02](02_affine_softmax_ce.ipynb) — the first real layers: affine maps,
# embeddings, softmax and the cross-entropy loss, with your first graded exercises.
