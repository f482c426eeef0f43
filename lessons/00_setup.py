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
# # Lesson 00 — Set-up: backends, the strict backend, and how these lessons work
#
# **What you will learn**
#
# - how to run the lessons (in Jupyter, and as tests with `pytest --nbmake`);
# - how minis2s chooses between NumPy, CuPy and the *strict* backend, and how to switch;
# - what the strict backend refuses, and why each refusal matters on a GPU;
# - how a lesson is laid out: derivation, the library's own code, an exercise graded by `check(...)`;
# - what `MINIS2S_FAST=1` does.
#
# **Running the lessons.** From the repository root:
#
# ```bash
# python3 -m venv .venv && .venv/bin/pip install -e ".[lessons]"
# .venv/bin/jupyter lab lessons/
# ```
#
# To run every lesson top to bottom as a test (what CI does), in small mode:
#
# ```bash
# MINIS2S_FAST=1 .venv/bin/python -m pytest --nbmake lessons -q
# ```
#
# Every lesson starts with a set-up cell that imports `FAST` and `show(...)` from
# [`course.py`](course.py), next to the lessons. `show` prints the **library's own source** of
# a function — never a copy, so the lesson and the code cannot drift apart. Importing `course`
# also lets `import minis2s` find the checkout next to `lessons/` if you skipped
# `pip install -e .`.

# %%
import numpy as np

from course import FAST, show

# %% [markdown]
# ## 1. One module knows the array library
#
# Every computation in minis2s is written once and runs on the CPU (NumPy) or on an NVIDIA
# GPU (CuPy). The trick, borrowed from Chainer, is that math code never names NumPy or
# CuPy. It asks `minis2s/backend.py` for the array module that owns its arguments:
#
# ```python
# xp = B.get_array_module(x)   # numpy, cupy or the strict stand-in
# h = xp.tanh(a)
# ```
#
# `backend.py` is the only file in the package that imports `numpy` or `cupy`. Here is the
# function every op calls:

# %%
import minis2s
from minis2s import backend as B

show(B.get_array_module)

# %% [markdown]
# So a library function runs on whatever kind of array you give it. The *current backend*
# decides what `B.to_device(...)` creates, and what new arrays (parameters, buffers) live on.
# There are three:
#
# | backend  | arrays                   | use it for |
# |----------|--------------------------|------------|
# | `numpy`  | `numpy.ndarray`          | the CPU reference (the default) |
# | `cupy`   | `cupy.ndarray` on the GPU | training on an NVIDIA GPU (`pip install -e ".[gpu]"`) |
# | `strict` | NumPy with a GPU array's manners | catching GPU bugs on a CPU-only machine |
#
# Choose one with the environment variable `MINIS2S_BACKEND=numpy|cupy|strict` (read once,
# at first use), or in code with `minis2s.set_backend(name)`, or for one block with
# `with B.use(name):`.

# %%
import os

print("current backend:", minis2s.get_backend())
print("MINIS2S_BACKEND =", os.environ.get("MINIS2S_BACKEND", "(not set: numpy)"))
print("GPU with CuPy available:", B.gpu_available())

with B.use("strict") as xp:
    x = B.to_device([1.0, 2.0, 3.0], "float64")
    print("inside `with B.use('strict')`:", minis2s.get_backend(), type(x).__name__)
print("after the block:", minis2s.get_backend())

# %% [markdown]
# Asking for CuPy where there is none fails with one line that says what to install — it
# never falls back silently to the CPU:

# %%
if B.gpu_available():
    with B.use("cupy"):
        y = B.to_device([1.0, 2.0, 3.0])
        print("on the GPU:", type(y), "back on the host:", B.to_host(y))
else:
    try:
        minis2s.set_backend("cupy")
    except B.BackendError as err:
        print("BackendError:", err)
    print("still on:", minis2s.get_backend())


# %% [markdown]
# ## 2. What the strict backend catches, and why
#
# A GPU runs *asynchronously*: Python queues kernels and carries on, and the GPU works
# through the queue. Anything that needs a *value* on the host — `float(loss)`,
# `x.item()`, `if (x > 0).any():` — makes Python wait until the whole queue has drained. One
# such line in a training step can halve its speed, and nothing fails: it is just slow. Other
# habits from NumPy do fail on CuPy, but only when you finally run on a GPU.
#
# CI has no GPU. The `strict` backend is NumPy wearing a CuPy array's manners, so these
# mistakes fail loudly on any machine. Every backend-aware test in `tests/` runs on
# `numpy`, `strict` and (with a GPU) `cupy`. It refuses:
#
# 1. **implicit device→host conversion**: `float(x)`, `int(x)`, `bool(x)`, `x.item()`,
#    `x.tolist()` — each is a hidden synchronisation on a GPU;
# 2. **a host `numpy.ndarray` mixed into device math** — a `TypeError` on CuPy;
# 3. **`ufunc.at`** (`np.add.at`) — spelled differently on CuPy; use `B.scatter_add`;
# 4. **`xp.random`** — NumPy and CuPy generators differ; parameters are drawn on the host with
#    `B.rng(seed)` and moved, so one seed gives the same model everywhere.
#
# Let us trip each one.

# %%
def attempt(label, thunk):
    try:
        thunk()
        print(f"{label:28s} allowed")
    except (TypeError, AttributeError) as err:
        print(f"{label:28s} {type(err).__name__}: {err}")


with B.use("strict") as xp:
    x = B.to_device([1.0, 2.0, 3.0], "float64")
    total = x.sum()  # a 0-d device array, as on CuPy -- not a Python float
    attempt("float(x.sum())", lambda: float(total))
    attempt("x.sum().item()", lambda: total.item())
    attempt("if x.sum() > 1:", lambda: bool(total > 1))
    attempt("x + numpy array", lambda: x + np.ones(3))
    attempt("np.add.at(x, [0, 0], 1)", lambda: np.add.at(x, [0, 0], 1.0))
    attempt("xp.random", lambda: xp.random)
    attempt("xp.tanh(x) @ x", lambda: xp.tanh(x) @ x)  # ordinary math is fine

# %% [markdown]
# When you *do* want a value on the host — to print a loss every 100 steps, say — ask for it
# explicitly with `B.to_host(x)` (an array) or `B.to_float(x)` (a 0-d array). The
# synchronisation is then visible in the code, where a reviewer can see it and decide
# whether it belongs in the hot loop.

# %%
with B.use("strict"):
    x = B.to_device([1.0, 2.0, 3.0], "float64")
    print("B.to_float(x.sum()) =", B.to_float(x.sum()))
    print("B.to_host(x * 2)    =", B.to_host(x * 2))

# %% [markdown]
# Repeated indices are the classic trap behind rule 3. The embedding backward (lesson 02)
# must *add* the gradient of every occurrence of a token. Fancy-index assignment
# `dE[ids] += g` does not: with a repeated id, the last write wins. `B.scatter_add` sums
# repeats on every backend:

# %%
ids = np.array([0, 0, 2])       # token 0 appears twice
g = np.ones((3, 2))

wrong = np.zeros((3, 2))
wrong[ids] += g                 # row 0 gets 1, not 2
right = np.zeros((3, 2))
B.scatter_add(right, ids, g)    # row 0 gets 2
print("dE[ids] += g      ->", wrong[:, 0])
print("B.scatter_add(...) ->", right[:, 0])

# %% [markdown]
# The lessons themselves work on small host (NumPy) arrays, in float64, so that you can
# print and plot anything. Every library function follows its arguments
# (`get_array_module`), so the same calls run on the GPU when you pass CuPy arrays.
#
# ## 3. How the lessons work
#
# Each lesson has the same rhythm:
#
# 1. **Derivation.** Numbered equations, such as (3.2) $h_t = \tanh(a_t)$. The numbers
#    are the ones the library cites: a backward line in `minis2s/functional/rnn.py` that
#    reads `# eq. 3.4` implements equation 3.4 of lesson 03. An equation no code implements
#    (a step of a derivation, a cost estimate) says so: "(not implemented in code)".
# 2. **The library's code**, printed with `show(...)` from the installed source.
# 3. **Checks.** A finite-difference gradient check (lesson 01 explains it) confirms the code
#    matches the derivation, in float64, to a relative error below $10^{-7}$.
# 4. **Exercises.** You write a backward pass yourself in a stub cell; `check(your_function)`
#    grades it and, when it is wrong, says *which* gradient is wrong and gives a hint.
#    Until you fill in a stub, `check` reports "not implemented yet" and the notebook keeps
#    running. The cell after it grades the reference solution, so you see what a pass looks
#    like. Some exercises are forward passes and algorithms — a numerical gradient, a
#    decoding loop, an optimizer step, BLEU: `check` runs yours and the library's on the same
#    seeded inputs, compares what they return, and says where they first differ.
#
# The exercises come from `minis2s.exercises`: `stubs` (the functions you fill in),
# `solutions` (the reference answers) and `check`, which grades your backward against the
# library's own forward; that forward's cache has fields named after the lesson's symbols
# (`cache.x`, `cache.h_prev`, ...). Here is the list, and the grader's verdict on an
# untouched stub:

# %%
from minis2s.exercises import check, list_exercises, solutions, stubs

print(list_exercises())
report = check(stubs.affine_backward)


# %% [markdown]
# `check` never raises: an unfinished stub, an exception in your code or a wrong number of
# return values each become a line of the report, so a notebook always runs to the end.
# The verdict comes from the float64 gradient check alone; the hints come from comparing
# your gradients with the reference solution and a catalogue of common mistakes. Here is a
# deliberately broken affine backward (lesson 02), which returns $\partial L/\partial W$
# transposed:

# %%
def affine_backward(dy, cache):
    dx, dW, db = solutions.affine_backward(dy, cache)
    return dx, dW.T, db  # a deliberate mistake


report = check(affine_backward)  # the exercise is read from the function's name
print("passed:", report.passed)

# %% [markdown]
# ### Exercise: `stable_softmax`
#
# The first exercise checked by its output, and the idiom of section 1 in practice: write
# the softmax of each row of a (B, V) array so that it runs on every backend — take `xp`
# from the array, never call NumPy on it, read nothing back — and does not overflow. Lesson
# 02 derives it (eq. 2.5): subtract each row's largest logit before `exp`, which changes
# nothing mathematically. The grader compares your output with the library's
# `activations.softmax` on rows of ordinary logits, rows near 1000 and rows far below the
# others, then runs it again on the strict backend.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell. (`check` prints its
# report and returns it: `report.passed` is True once you are done.)

# %%
from minis2s.exercises import references


# %%
def stable_softmax(x):
    """Softmax of each row, on any backend (lesson 00; eq. 2.5 of lesson 02).

    x: (B, V) logits -- a NumPy, CuPy or strict array. Take the array module from the array,
    xp = B.get_array_module(x) (B = minis2s.backend), and use xp.exp, never numpy's.
    Returns p (B, V), an array of the same backend: p[b] = exp(x[b] - max_k x[b, k]) divided
    by its sum. Subtracting the row's max changes nothing mathematically and keeps exp from
    overflowing at logits of 1000. Nothing may be read back to the host (no float(), .item()).
    """
    raise NotImplementedError("take the array module first, xp = B.get_array_module(x), then subtract each row's max")


report = check(stable_softmax)

# %% [markdown]
# The reference solution — the library's softmax — graded the same way; this is what a pass
# looks like:

# %%
report = check(references.stable_softmax)

# %% [markdown]
# And the library's version, to compare with yours (lesson 02 derives it):

# %%
from minis2s.functional import activations

show(activations.softmax)

# %% [markdown]
# ## 4. Fast mode
#
# Set `MINIS2S_FAST=1` before starting Jupyter (or pytest) and the lessons shrink their
# sizes and step counts so that each runs in well under a minute on a laptop CPU. The maths
# and the conclusions are the same; the plots are just coarser. `course.py` turns it into
# the flag `FAST` that the set-up cell imports:

# %%
print("FAST =", FAST)

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 00](answers.md#lesson-00), to read after you have tried.
#
# **Q0.1.** The strict backend refuses `float(x)` on an array, although on a CPU it costs
# nothing. What would one such call per training step do on a GPU, why would no test notice it
# there, and what does the library write instead when it *does* want a value on the host?
#
# **Q0.2.** The cell comparing `dE[ids] += g` with `B.scatter_add` printed row 0 as 1 and as
# 2. Explain why the fancy-index update loses a contribution, and which rule of lesson 01 says
# the embedding's gradient must be the sum.
#
# **Q0.3.** Why are parameters drawn on the host with `B.rng(seed)` and then moved to the
# device, rather than drawn with `xp.random` where they live?

# %% [markdown]
# ## Summary
#
# - Math code asks `B.get_array_module(x)` for its array library; only `backend.py` imports
#   NumPy or CuPy. Switch with `MINIS2S_BACKEND`, `minis2s.set_backend` or `B.use`.
# - The strict backend makes GPU-only mistakes fail on a CPU: hidden host syncs, host arrays
#   in device math, `ufunc.at`, `xp.random`. Ask for host values explicitly with
#   `B.to_host` / `B.to_float`.
# - Lessons: derivation → the library's own code → a gradient check → an exercise graded by
#   `check(...)`.
#
# **Next:** [lesson 01](01_gradients.ipynb) — computational graphs, the chain rule, and how
# to *check* a gradient numerically.
