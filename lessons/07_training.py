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
# # Lesson 07 — Training: optimizers, schedules, dropout and the training loop
#
# **What you will learn**
#
# - the optimizers beyond lesson 06's momentum, written out by hand: weight decay, Nesterov,
#   Adam with its bias correction, AdamW (eq. 7.1–7.6), each checked against `torch.optim`;
# - learning-rate schedules: step decay, cosine, warm-up, reduce-on-plateau (eq. 7.7–7.10);
# - dropout and its backward pass (eq. 7.11–7.12), and an experiment that shows what it
#   does: the same model over-fits a small training set without it;
# - minis2s's training loop, a training run with its loss curve, and the TensorBoard
#   event files every run writes.
#
# The optimizer, schedule and dropout equations carry the numbers that
# `minis2s/optim.py`, `minis2s/schedules.py` and `minis2s/functional/dropout.py` cite.
# Shapes: B batch, S source length, T target length, D embedding size, H hidden size,
# V vocabulary size ($|\mathcal V|$ in the math).
#
# The first cell keeps NumPy's matrix library (BLAS) to one thread; lesson 11 explains why.

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
from minis2s import backend as B
from minis2s import train

# %% [markdown]
# ## 1. Optimizers, written out by hand
#
# An optimizer turns the gradients into an update of `model.params`. It must update the
# arrays **in place**: the model holds references to them, and rebinding a name would
# silently detach it. Lesson 06 wrote SGD (6.8) and momentum (6.9). With parameters $\theta$,
# gradient $g$, learning rate $\eta$ and step count $t = 1, 2, \dots$, here are the others:
#
# **Weight decay (L2).** Adding $\frac{\lambda}{2}\lVert \theta \rVert^2$ to the loss adds its
# gradient $\lambda \theta$ to $g$:
#
# $$
# g \leftarrow g + \lambda\, \theta
# \tag{7.1}
# $$
#
# **Nesterov** momentum (as Sutskever et al., 2013 write it) takes the gradient at the
# look-ahead point $\phi = \theta - \eta\mu m$, where momentum is about to carry the
# parameters. Rewriting the update for $\phi$ itself gives a rule that needs the gradient
# at the current point only, $g = \nabla L(\phi)$ — the form PyTorch and minis2s use:
#
# $$
# m \leftarrow \mu\, m + g, \qquad \theta \leftarrow \theta - \eta\,(g + \mu\, m)
# \tag{7.2}
# $$
#
# **Adam** (Kingma & Ba, 2015) keeps exponential moving averages of the gradient and of
# its square: $m$ is momentum's running sum (6.9) made an average, and $\nu$ (nu; code
# `v`, not the attention values $v_s$ of lesson 08) is the same for $g^2$:
#
# $$
# m \leftarrow \beta_1 m + (1 - \beta_1)\, g
# \tag{7.3}
# $$
#
# $$
# \nu \leftarrow \beta_2 \nu + (1 - \beta_2)\, g^2
# \tag{7.4}
# $$
#
# Both start at zero, so early on they are biased towards zero. Unroll (7.3):
# $m_t = (1 - \beta_1)\sum_{i=1}^{t} \beta_1^{t-i} g_i$; if the $g_i$ have mean $\bar g$,
# $\mathbb{E}[m_t] = \bar g\,(1 - \beta_1)\sum_{i=1}^{t}\beta_1^{t-i} = \bar g\,(1 - \beta_1^t)$.
# Dividing by $1 - \beta_1^t$ (and $\nu$ by $1 - \beta_2^t$) removes the bias:
#
# $$
# \theta \leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{\nu / (1 - \beta_2^t)} + \epsilon}
# \tag{7.5}
# $$
#
# Each coordinate's step is about $\eta$ times the ratio of its mean gradient to its
# root-mean-square gradient — at most about $\eta$ whatever the gradient's scale.
#
# **AdamW** (Loshchilov & Hutter, 2019). Adam with (7.1) puts $\lambda \theta$ into $g$, where
# it is divided by $\sqrt \nu$ like any gradient: weights with large gradients decay less.
# AdamW *decouples* the decay: it shrinks every weight by the same factor, then runs Adam
# on the raw gradient (without 7.1):
#
# $$
# \theta \leftarrow (1 - \eta\lambda)\, \theta, \quad \text{then (7.3)–(7.5)}
# \tag{7.6}
# $$
#
# ### Exercise: `adam_step`
#
# Before the library's version: write one Adam step, (7.3)–(7.5), as a function
# of the parameter, its gradient, the moments and the step number. The grader runs five
# steps from $m = \nu = 0$ with three settings (a large $\epsilon$ among them, so that where
# it goes shows) and compares $\theta$ (`p`), $m$ and $\nu$ after every step with `optim.Adam`'s.
# Watch for: the bias corrections and the $t$ they use, $g^2$ in (7.4), and where
# $\epsilon$ enters (7.5).
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
def adam_step(p, g, m, v, t, lr, beta1, beta2, eps):
    """One Adam update with bias correction (lesson 07, eq. 7.3-7.5).

    p, g, m, v: arrays of one shape: the parameter, its gradient, the first and second moments
    (m and nu in the lesson, zeros before the first step). t: the number of this step, 1 on the first call.
    Returns the new p, m, v (new arrays, or the same ones updated in place):
        m = beta1 m + (1 - beta1) g                                     (eq. 7.3)
        v = beta2 v + (1 - beta2) g^2                                   (eq. 7.4)
        p = p - lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)    (eq. 7.5)
    """
    raise NotImplementedError(
        "write eq. 7.3 and 7.4 first: m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2"
    )


report = check(adam_step)

# %% [markdown]
# The library's own optimizer, graded the same way; this is what a pass looks like:

# %%
report = check(references.adam_step)

# %% [markdown]
# The library's module docstring lists the same rules; the code does each with `out=`
# into preallocated scratch buffers (no temporaries the size of a parameter), and the
# bias corrections are Python floats computed from the integer step count — nothing is
# read back from the device:

# %%
from minis2s import optim

show(optim.SGD._update, optim.Adam._update, optim.AdamW)

# %% [markdown]
# Adam folds $1/(1 - \beta_1^t)$ into the step size and computes (7.3) as
# $m \mathrel{+}= (1 - \beta_1)(g - m)$: the same value, without cancellation when $m$ is
# close to $g$.
#
# **A race on an elongated bowl.** $L(w) = \frac12 (w_1^2 + 25\, w_2^2)$ is 25 times
# steeper across than along. SGD's learning rate is limited by the steep direction (above
# $2/25$ it diverges), so it crawls along the shallow one; momentum accumulates speed along
# the valley; Adam rescales each coordinate separately.

# %%
curvature = np.array([1.0, 25.0])  # L(w) = sum(curvature * w**2) / 2, so dL/dw = curvature * w


def descend(make_optimizer, steps=60):
    params = {"w": np.array([-4.0, 1.0])}
    opt = make_optimizer(params)
    path = [params["w"].copy()]
    for _ in range(steps):
        opt.step({"w": curvature * params["w"]})  # updates params["w"] in place
        path.append(params["w"].copy())
    return np.array(path)


racers = {
    "SGD, lr 0.075": lambda p: optim.SGD(p, lr=0.075),
    "momentum 0.8, lr 0.02": lambda p: optim.SGD(p, lr=0.02, momentum=0.8),
    "Nesterov 0.8, lr 0.02": lambda p: optim.SGD(p, lr=0.02, momentum=0.8, nesterov=True),
    "Adam, lr 0.3": lambda p: optim.Adam(p, lr=0.3),
}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
w1, w2 = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.5, 1.5, 200))
left.contour(w1, w2, (w1**2 + 25 * w2**2) / 2, levels=np.geomspace(0.01, 30, 12), colors="0.8")
for label, make in racers.items():
    path = descend(make)
    left.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1, label=label)
    right.semilogy((path**2 * curvature).sum(axis=1) / 2, label=label)
left.set_xlabel("$w_1$"), left.set_ylabel("$w_2$"), left.set_title("paths from (-4, 1)")
right.set_xlabel("step"), right.set_ylabel("L(w)"), right.set_title("loss")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# SGD zig-zags across the valley at a rate just below its stability limit and still
# crawls along it. Momentum damps the zig-zag (alternating components cancel in $m$) and
# builds up speed along the valley; Nesterov's look-ahead brakes before overshooting.
# Adam's first steps have the same size in both coordinates — the diagonal start,
# whatever the ratio of the gradients — then it overshoots and circles in, because its
# step shrinks only as $\nu$ forgets the large early gradients. No setting wins everywhere;
# on real networks, whose gradients differ in scale by orders of magnitude between
# parameters, Adam's per-coordinate scaling makes it the robust default, and minis2s's.
#
# The optimizers are meant to match `torch.optim` step for step — including where the
# bias corrections, $\epsilon$ and the weight decay enter. If PyTorch is installed, we can
# confirm it on five steps of random gradients:

# %%
try:
    import torch
except ImportError:
    print("PyTorch is not installed; skipping the comparison with torch.optim")
else:
    gen = np.random.default_rng(3)
    p0, gs = gen.standard_normal((3, 4)), [gen.standard_normal((3, 4)) for _ in range(5)]
    pairs_of_optimizers = {
        "SGD + momentum + L2": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                                lambda t: torch.optim.SGD([t], lr=0.1, momentum=0.9, weight_decay=0.01)),
        "Nesterov": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                     lambda t: torch.optim.SGD([t], lr=0.1, momentum=0.9, nesterov=True)),
        "Adam + L2": (lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
                      lambda t: torch.optim.Adam([t], lr=0.01, weight_decay=0.1)),
        "AdamW": (lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
                  lambda t: torch.optim.AdamW([t], lr=0.01, weight_decay=0.1)),
    }
    for label, (ours, theirs) in pairs_of_optimizers.items():
        params = {"p": p0.copy()}
        opt = ours(params)
        t = torch.tensor(p0, dtype=torch.float64, requires_grad=True)
        topt = theirs(t)
        for g in gs:
            opt.step({"p": g})
            t.grad = torch.tensor(g, dtype=torch.float64)
            topt.step()
        print(f"{label:20s} max |minis2s - torch| after 5 steps: {np.abs(params['p'] - t.detach().numpy()).max():.1e}")

# %% [markdown]
# ## 2. Learning-rate schedules
#
# A schedule sets `optimizer.lr` between steps. With $t$ the number of steps so far and
# $\eta_0$ the base rate, minis2s has four (each a closed form in $t$, so resuming a run
# needs only $t$; the upright names are the arguments in the code, `factor` being
# `StepLR`'s `gamma`):
#
# $$
# \eta_t = \eta_0\, \text{factor}^{\lfloor t / \text{step\_size} \rfloor}
# \qquad \text{(step decay: multiply by factor every step\_size steps)}
# \tag{7.7}
# $$
#
# $$
# \eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,\frac{1 + \cos(\pi t / \text{total})}{2} \quad (t < \text{total}), \qquad \eta_t = \eta_{\min} \quad (t \ge \text{total})
# \tag{7.8}
# $$
#
# $$
# \eta_t = \eta_0\, \frac{t + 1}{\text{warmup}} \quad (t < \text{warmup}), \qquad \text{then the next schedule, started at } t - \text{warmup}
# \tag{7.9}
# $$
#
# The warm-up (7.9) protects Adam's first steps, when $\nu$ is estimated from a handful of
# gradients. The fourth reacts to validation instead of counting steps: after more than
# `patience` validations in a row without a relative improvement,
#
# $$
# \eta \leftarrow \max(\eta \cdot \text{factor},\ \eta_{\min})
# \tag{7.10}
# $$

# %%
from minis2s import schedules

show(schedules.StepLR.lr_at, schedules.CosineLR.lr_at, schedules.LinearWarmup.lr_at, schedules.ReduceOnPlateau.step)


# %%
def lr_curve(make_schedule, steps=300):
    opt = optim.SGD({"w": np.zeros(1)}, lr=1e-3)
    schedule = make_schedule(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.lr)  # the rate the next update uses
        schedule.step()
    return lrs


curves = {
    "StepLR(step_size=100, gamma=0.3)  (7.7)": lambda o: schedules.StepLR(o, step_size=100, gamma=0.3),
    "CosineLR(total_steps=300)  (7.8)": lambda o: schedules.CosineLR(o, total_steps=300),
    "LinearWarmup(30) then cosine  (7.9)": lambda o: schedules.LinearWarmup(o, 30, after=schedules.CosineLR(o, total_steps=270)),
}
plt.figure(figsize=(7, 3.5))
for label, make in curves.items():
    plt.plot(lr_curve(make), label=label)
plt.xlabel("step"), plt.ylabel("learning rate"), plt.legend(fontsize=8)
plt.show()

opt = optim.SGD({"w": np.zeros(1)}, lr=1e-3)
plateau = schedules.ReduceOnPlateau(opt, factor=0.5, patience=1)
for metric in (5.0, 4.0, 3.9, 3.95, 3.92, 3.5, 3.6, 3.55):
    plateau.step(metric)
    print(f"validation loss {metric:4.2f} -> lr {opt.lr:.2e}  (bad validations in a row: {plateau.bad_steps})")

# %% [markdown]
# ## 3. Dropout
#
# A network with many parameters can fit its training set by co-adapting units that only
# work together. Dropout (Srivastava et al., 2014) zeroes each unit independently with
# probability $p$ during training, so no unit can rely on another. *Inverted* dropout
# scales the survivors by $1/(1-p)$, which keeps the expected value unchanged, so
# inference needs no correction — it is simply the identity:
#
# $$
# y = x \odot \frac{M}{1 - p}, \qquad M_k \sim \text{Bernoulli}(1 - p), \qquad
# \mathbb{E}[y] = x
# \tag{7.11}
# $$
#
# For a fixed mask this is a product with a constant, so backward multiplies by the same
# mask and scale:
#
# $$
# \bar x = \bar y \odot \frac{M}{1 - p}
# \tag{7.12}
# $$
#
# The mask is drawn on the device by a seeded `B.DeviceRNG` (lesson 00: no `xp.random` in
# math code), and the cache is just the scaled mask:

# %%
from minis2s import suite
from minis2s.functional import dropout
from minis2s.gradcheck import format_table

show(dropout.dropout_forward, dropout.dropout_backward)

x = np.ones((200, 500))
y, cache = dropout.dropout_forward(x, 0.3, B.DeviceRNG(0), train=True)
print(f"share of zeros {np.mean(y == 0):.3f} (p = 0.3); survivors hold {y.max():.4f} = 1/0.7; mean {y.mean():.4f}")
print("at inference (train=False) the identity:", dropout.dropout_forward(x, 0.3, None, train=False)[0] is x)
print(format_table([r for c in suite.CASES if c.name.startswith("dropout") for r in suite.run(c)]))

# %% [markdown]
# The model applies dropout with probability `cfg.dropout` to the embeddings, between
# stacked layers and to the readout input $\zeta_t$ (see `encoder_forward`, `step_forward` and
# `decoder_forward` above); `train=False` turns every one of them into the identity.
#
# ## 4. The training loop
#
# `minis2s.train.Trainer.fit` runs a plain loop, `_fit` (under a Ctrl-C handler: the first
# Ctrl-C saves a checkpoint after the current step). Each batch is one `_train_step`:
# `forward_backward`, clip the global gradient norm (eq. 3.11–3.12), take an optimizer
# step, advance the schedule. Every `log_every` steps `_log_window` reads the mean loss
# back to the host (the only synchronisation in the loop, lesson 11); every `eval_every`
# steps `_validate_and_save` validates, checkpoints, keeps the best and perhaps stops
# early. Its budget is steps, epochs or minutes of training time.

# %%
show(train.Trainer._fit, train.Trainer._train_step, train.Trainer._log_window, train.Trainer._validate_and_save)

# %% [markdown]
# ## 5. A training run
#
# `minis2s.train.build_run` assembles what `python -m minis2s train` would: the task's
# data and vocabularies, the model, a `Batcher` and the `Trainer`. The command line does
# the same from flags, e.g.
# `python -m minis2s train --task reverse --attention none --out runs/reverse`.
#
# We train lesson 06's GRU encoder-decoder without attention on strings of up to 8 letters, with
# Adam, the cosine schedule (7.8) and gradient clipping at norm 1. A run directory receives
# `metrics.jsonl` (one line per log and per validation) and atomic checkpoints; we write it
# to a temporary folder.

# %%
import pathlib
import tempfile

from minis2s.train import build_run

RUNS = pathlib.Path(tempfile.mkdtemp(prefix="minis2s-lesson07-"))
task_cfg = {"kind": "toy", "name": "reverse", "seed": 0,
            "data": {"n_train": 20000, "n_test": 200 if FAST else 1000, "max_len": 8}}
model_cfg = {"cell": "gru", "emb": 16, "hidden": 64, "attention": "none"}
tc = train.TrainConfig(max_steps=2000 if FAST else 12000, batch_size=64, lr=3e-3, optimizer="adam",
                       schedule="cosine", clip=1.0, eval_every=250 if FAST else 1000,
                       metric="exact_match", higher_is_better=True)
task, trainer = build_run(task_cfg, model_cfg, tc, RUNS / "reverse", quiet=True)
summary = trainer.fit()
print({k: summary[k] for k in ("steps", "train_seconds", "tokens_per_s", "best", "stop_reason")})
for record in trainer.state.history:
    print(f"step {record['step']:5d}  validation loss {record['val_loss']:.3f}  "
          f"exact match {record['val_exact_match']:6.1%}  token accuracy {record['val_token_accuracy']:6.1%}")

# %%
from minis2s import plots

fig, ax = plt.subplots(figsize=(7, 4))
plots.loss_curves(RUNS / "reverse", ax=ax)
ax.set_title("reverse, GRU encoder-decoder without attention")
plt.show()


# %% [markdown]
# ## 6. What dropout buys: over-fitting, measured
#
# Dropout (7.11) is a regulariser: it costs training loss and buys validation loss. To see
# it we need a model that *can* over-fit: the reversal model of section 5 with more units,
# trained on only 500 strings, with validation on held-out strings. The two runs below are
# identical — same data, same seed, same steps — except for `dropout`.

# %%
import json

small_task = {"kind": "toy", "name": "reverse", "seed": 0,
              "data": {"n_train": 500, "n_test": 200, "max_len": 8}}
curves = {}
for p_drop in (0.0, 0.3):
    tc_small = train.TrainConfig(max_steps=1200 if FAST else 4000, batch_size=32, lr=3e-3, optimizer="adam",
                                 clip=1.0, eval_every=100 if FAST else 250, log_every=50)
    model_small = {"cell": "gru", "emb": 32, "hidden": 128, "attention": "none", "dropout": p_drop}
    _, small_trainer = build_run(small_task, model_small, tc_small, RUNS / f"dropout-{p_drop}", quiet=True)
    small_trainer.fit()
    records = [json.loads(line) for line in (RUNS / f"dropout-{p_drop}" / "metrics.jsonl").open()]
    curves[p_drop] = {"train": [(r["step"], r["loss"]) for r in records if "loss" in r],
                      "val": [(r["step"], r["val_loss"]) for r in records if "val_loss" in r]}

fig, ax = plt.subplots(figsize=(7, 4))
for p_drop, curve in curves.items():
    line, = ax.plot(*zip(*curve["val"]), label=f"validation, dropout {p_drop}")
    ax.plot(*zip(*curve["train"]), ls=":", color=line.get_color(), label=f"training, dropout {p_drop}")
ax.set_xlabel("step"), ax.set_ylabel("cross-entropy per token"), ax.legend(fontsize=8)
ax.set_title("500 training strings: the same model with and without dropout")
plt.show()
for p_drop, curve in curves.items():
    best_step, best = min(curve["val"], key=lambda sv: sv[1])
    print(f"dropout {p_drop}: validation loss best {best:.3f} (step {best_step}), final {curve['val'][-1][1]:.3f}; "
          f"training loss final {curve['train'][-1][1]:.3f}")

# %% [markdown]
# Without dropout the training loss falls towards zero while the validation loss turns back
# up after its minimum: the model memorises the 500 strings. With dropout the training loss
# stays higher — every step trains a thinned network — and the best validation loss is
# lower (1.53 against 1.79 in the full run, 1.53 against 1.64 in fast mode). Dropout delays
# over-fitting; it does not abolish it: given 4000 steps (the full run) both models end
# above their best, which is why the trainer keeps the checkpoint of the best validation
# figure (section 4) rather than the last one.
#
# ## 7. TensorBoard
#
# Every run folder also holds TensorBoard event files (`tensorboard/`), with the same
# scalars as `metrics.jsonl`: training loss, learning rate, gradient norm, tokens per
# second, and every validation figure. With the `viz` extra installed
# (`pip install -e ".[viz]"`, which brings tensorboardX; `pip install tensorboard` for the
# viewer), point TensorBoard at the runs and compare them live, while they train:
#
# ```
# tensorboard --logdir runs/
# ```
#
# Here we only list what the two dropout runs wrote:

# %%
for p_drop in curves:
    events = sorted((RUNS / f"dropout-{p_drop}" / "tensorboard").glob("*"))
    print(f"dropout {p_drop}:", [e.name for e in events] or "no event files (tensorboardX is not installed)")

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 07](answers.md#lesson-07), to read after you have tried.
#
# **Q7.1.** In section 6 the run without dropout reaches the lower *training* loss, and the
# run with dropout the lower *best validation* loss. Explain why dropout (7.11) costs training
# loss and how that can buy validation loss, and why both runs end above their best
# validation loss in the full run. Why is the scaling by $1/(1 - p)$ what makes dropout the
# identity at inference?
#
# **Q7.2.** Work out Adam's first step (7.3)–(7.5) for one coordinate with gradient $g$, with
# and without the bias corrections ($\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon \to 0$). Use
# it to explain Adam's diagonal start on the elongated bowl.
#
# **Q7.3.** On the bowl $L = \frac12 (w_1^2 + 25 w_2^2)$, why must SGD's learning rate stay
# below $2/25$, and how many steps does it then need to shrink $w_1$ by a factor $e$?

# %% [markdown]
# ## Summary
#
# - Optimizers: L2 (7.1), Nesterov (7.2), Adam with bias correction (7.3–7.5), AdamW's
#   decoupled decay (7.6), on top of lesson 06's SGD and momentum; all update `params` in
#   place, with no host synchronisation, and match `torch.optim` step for step.
# - Schedules (7.7–7.10) set the learning rate between steps, in closed form in the step
#   count, so a resumed run needs only the count.
# - Inverted dropout (7.11–7.12) thins the network during training and is the identity at
#   inference; on a small training set it trades training loss for validation loss.
# - The trainer is a plain loop: forward-backward, clip, step, schedule; log, validate,
#   checkpoint. Every run writes `metrics.jsonl` and TensorBoard events.
#
# **Next:** [lesson 08](08_attention.ipynb) — attention: at every step the decoder looks
# back at *all* encoder states.
