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
# # Lesson 06 — The encoder-decoder: teacher forcing, optimizers, a training loop
#
# **What you will learn**
#
# - the encoder-decoder (Sutskever et al., 2014; Cho et al., 2014): one recurrent network
#   reads the source, another writes the target one token at a time (eq. 6.1–6.4);
# - teacher forcing, its ratio and its schedule, and what the gradient does when the
#   model is fed its own prediction (eq. 6.5–6.7);
# - the optimizers, written out by hand: SGD, momentum, Nesterov, Adam, AdamW
#   (eq. 6.8–6.15), and learning-rate schedules (eq. 6.16–6.19);
# - dropout (eq. 6.20–6.21);
# - minis2s's training loop, a short training run with its loss curve, and greedy
#   decoding (eq. 6.22).
#
# The optimizer, schedule and dropout equations carry the numbers that
# `minis2s/optim.py`, `minis2s/schedules.py` and `minis2s/functional/dropout.py` cite
# (6.8–6.21); the model's equations are numbered 6.1–6.7, greedy decoding 6.22.
# Shapes: B batch, S source length, T target length, D embedding size, H hidden size,
# V vocabulary.
#
# The first cell keeps NumPy's matrix library (BLAS) to one thread; lesson 10 explains why.

# %%
import os

# Lessons 06-10 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 10 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %% [markdown]
# ## 1. The task: reversing a string
#
# A toy task isolates the model from the data: `reverse` maps a string of lower-case
# letters to the same letters backwards. Pairs are generated from a seed (no download),
# and the test sources never occur in training. Each character is a token.

# %%
from minis2s.data import CharTokenizer, Vocab, make_batch, make_splits

pairs, _ = make_splits("reverse", n_train=2000, n_test=0, seed=0, max_len=8)
for src, tgt in pairs[:4]:
    print(f"{src!r:>12} -> {tgt!r}")

tok = CharTokenizer()
vocab = Vocab.build([tok.tokenize(s) for s, _ in pairs])
print(f"\n{len(vocab)} tokens: the specials {Vocab.SPECIALS} and the letters")

# %% [markdown]
# A batch is a rectangle. The source gets an `<eos>`; the decoder reads
# `tgt_in = <sos> y` and must emit `tgt_out = y <eos>` — the same sentence shifted by one
# position; masks mark the real positions. Here are three pairs as the model sees them:

# %%
few = pairs[:3]
batch = make_batch([vocab.encode(tok.tokenize(s)) for s, _ in few],
                   [vocab.encode(tok.tokenize(t)) for _, t in few])
for field in ("src", "tgt_in", "tgt_out", "tgt_mask"):
    for i, row in enumerate(getattr(batch, field)):
        cells = row if field == "tgt_mask" else vocab.decode(row, strip_specials=False)
        print(f"{field if i == 0 else '':9s}", " ".join(f"{c!s:>5s}" for c in cells))

# %% [markdown]
# ## 2. The model
#
# A sequence-to-sequence model gives the probability of a target $y = y_1 \dots y_T$
# (the last token is `<eos>`) given a source $x = x_1 \dots x_S$, one token at a time, each
# conditioned on the source and on the tokens before it:
#
# $$
# P(y \mid x) = \prod_{t=1}^{T} p(y_t \mid y_{<t}, x)
# \tag{6.1}
# $$
#
# **The encoder** embeds each source token (eq. 2.3) and runs a recurrent cell over the
# sequence — any of lessons 03–05:
#
# $$
# h_s = \operatorname{cell}_{\text{enc}}\bigl(E^{\text{src}}_{x_s},\ h_{s-1}\bigr), \qquad h_0 = 0, \quad s = 1 \dots S
# \tag{6.2}
# $$
#
# Over a padded batch a row's final state is its state after its last *real* token
# (eq. 3.8). **The decoder** starts from a state made from the encoder's final state by
# the *bridge*, $s_0 = \operatorname{bridge}(h_S)$ (a tanh layer, eq. 8.5 of lesson 08). At
# step $t$ it reads the embedding $e_t$ of the token fed to it — the previous target token
# $y_{t-1}$, with $y_0 = $ `<sos>` — updates its state, and scores every vocabulary token
# from the *readout* $z_t$:
#
# $$
# s_t = \operatorname{cell}_{\text{dec}}(e_t,\ s_{t-1}), \qquad
# z_t = [\,s_t;\ e_t\,], \qquad
# p(\cdot \mid y_{<t}, x) = \operatorname{softmax}(z_t\, W_{\text{out}}^{\top} + b_{\text{out}})
# \tag{6.3}
# $$
#
# Putting $e_t$ in the readout as well lets the output layer see the current input token
# directly (lesson 07 adds the attention context $c_t$ to $z_t$). **Training** minimises
# the negative log of (6.1), averaged over the $N$ real target tokens of the batch — the
# masked cross-entropy of lesson 02 (eq. 2.9):
#
# $$
# L = -\frac{1}{N} \sum_{b} \sum_{t=1}^{T} m_{bt} \log p\bigl(y_{bt} \mid y_{b,<t}, x_b\bigr)
# \tag{6.4}
# $$
#
# The library's model is one module; its docstring draws the whole graph:

# %%
from minis2s.models import seq2seq
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.nn import decoder, encoder

print(seq2seq.__doc__)

# %% [markdown]
# A `Seq2SeqConfig` fixes the shapes; `Seq2Seq` keeps every parameter in one dict
# `params` and every gradient in a dict `grads` with the same keys. Parameters are drawn
# on the host from the seed and moved to the backend (lesson 00), so a seed gives the same
# model everywhere. Lessons 07 and 08 add attention and a bidirectional encoder; this
# lesson's model has neither:

# %%
cfg = Seq2SeqConfig(src_vocab=len(vocab), tgt_vocab=len(vocab), cell="gru", emb=16, hidden=64,
                    attention="none")
model = Seq2Seq(cfg, seed=0)
for name, p in model.params.items():
    print(f"{name:14s} {tuple(p.shape)!s:10s} {p.dtype}")
print(f"{model.n_params:,} parameters")

# %% [markdown]
# `enc.l0.f.*` is the encoder's layer 0, forward direction; `dec.l0.*` the decoder's cell;
# `bridge.l0.h.*` the bridge; `out.*` the output layer $W_{\text{out}}, b_{\text{out}}$,
# whose input is $z_t = [s_t; e_t]$ of size $H + D = 80$.
#
# The encoder is (6.2) over all layers (one here), written with the cells and sequence
# functions of lessons 03–05 and the embedding of lesson 02:

# %%
show(encoder.encoder_forward)

# %% [markdown]
# One decoder step is (6.3). The attention branches (`cfg.attention != "none"`) are lesson
# 07's; with `attention="none"` the step is the cell and the concatenation $z_t = [s_t; e_t]$.
# The readout is an affine map (eq. 2.1) — or, with tied embeddings, a projection followed
# by the target embedding matrix used as output weights:

# %%
show(decoder.step_forward, decoder.readout_forward)

# %% [markdown]
# And the whole graph, forward and backward, for one batch. Read it top to bottom: encode,
# bridge, the decoder's $T$ steps, the loss (6.4); then backward in exactly the reverse
# order, every parameter's gradient accumulated into `self.grads`. It returns 0-d arrays,
# never Python floats: on a GPU, reading the loss would make the host wait (lesson 10).

# %%
show(Seq2Seq.forward_backward)

# %% [markdown]
# **Backward through the decoder.** The decoder is an RNN whose state also feeds the
# readout, so backward is BPTT (lesson 03): step $t$ receives the gradient of its readout
# $\bar z_t$ and the gradient $\bar s_t$ arriving from step $t+1$, and passes $\bar s_{t-1}$
# on. What comes out at $t = 0$ is $\bar s_0$, the gradient of the bridge's output; the
# bridge turns it into the gradient of the encoder's final state, and the encoder runs its
# own BPTT from there. Without attention that final state is the **only** path from the
# loss to the source: everything the decoder knows about $x$ must squeeze through one
# $H$-vector. Lesson 07 removes that bottleneck.

# %%
show(decoder.decoder_backward, decoder.memory_backward, encoder.encoder_backward)

# %% [markdown]
# ## 3. Teacher forcing
#
# During training the decoder is fed the **gold** previous token $y_{t-1}$ — *teacher
# forcing* — so all $T$ steps are independent of the model's predictions, and their
# inputs can be embedded in one go. At test time there is no gold token: the decoder is
# fed its own prediction $\hat y_{t-1}$ (section 9). A model that has only ever seen gold
# prefixes meets its own mistakes for the first time at test time (*exposure bias*).
# Scheduled sampling (Bengio et al., 2015) mixes the two during training: at each step
# and for each sentence, with probability $\rho$ (the teacher-forcing *ratio*) the gold
# token is fed, otherwise the model's greedy prediction from the previous step:
#
# $$
# \tilde y_{t-1} =
# \begin{cases}
# y_{t-1} & \text{with probability } \rho \\
# \hat y_{t-1} = \arg\max_v \,\text{logits}_{t-1, v} & \text{otherwise}
# \end{cases}
# \qquad e_t = E^{\text{tgt}}_{\tilde y_{t-1}}
# \tag{6.5}
# $$
#
# for $t \ge 2$; the first input is always `<sos>`.
#
# **What happens to the gradient.** $\hat y_{t-1}$ is an $\arg\max$: a piecewise-constant
# function of the parameters $\theta$. Moving $\theta$ a little does not change which token
# wins, so its derivative is zero almost everywhere (and undefined where two logits tie).
# The chain rule therefore has nothing to propagate through the *choice*: the fed tokens
# are constants for backward, and the gradient is that of the loss with the fed sequence
# $\tilde y$ held fixed:
#
# $$
# \frac{dL}{d\theta} = \frac{\partial L(\theta;\, \tilde y)}{\partial \theta}\bigg|_{\tilde y \text{ fixed}}
# \qquad \text{(almost everywhere)}
# \tag{6.6}
# $$
#
# So the embedding row $E^{\text{tgt}}_{\tilde y_{t-1}}$ of the token actually fed
# receives the gradient, exactly as a gold token's row would; nothing tells step $t-1$
# that its wrong prediction made step $t$ harder. This is the docstring of
# `Seq2Seq.forward_backward` in action, and it is what the decoder loop below does: when
# $\rho < 1$ it draws the choice on the device, keeps the fed ids in `fed`, and embeds them
# for backward as if they had been given.

# %%
show(decoder.decoder_forward)

# %% [markdown]
# Equation (6.6) is checkable. In float64, with a fixed `DeviceRNG` seed so that every
# evaluation makes the same gold-or-predicted choices, the backward pass at $\rho = 0.5$
# must match centered finite differences (lesson 01) — and must *differ* from the
# gradient at $\rho = 1$, because other tokens were fed. (Weights are drawn at scale 0.7
# rather than the small training initialisation, so that no gradient is so tiny that
# finite differences only measure rounding; a perturbation of $10^{-5}$ then never flips
# an $\arg\max$.) `minis2s.suite.model.check_model` runs this check for a whole model
# (lesson 08); called twice with one seed it draws the same weights and the same
# coordinates, so the second column compares the two gradients there.

# %%
from minis2s import backend as B
from minis2s.gradcheck import rel_error
from minis2s.suite.model import check_model

arrays = [B.to_device(batch.src), B.to_device(batch.src_mask, "float64"), B.to_device(batch.tgt_in),
          B.to_device(batch.tgt_out), B.to_device(batch.tgt_mask, "float64")]
small = Seq2SeqConfig(src_vocab=len(vocab), tgt_vocab=len(vocab), cell="gru", emb=4, hidden=5, attention="none")
names = ("dec.emb", "dec.l0.Wx", "dec.l0.Wh", "bridge.l0.h.W", "enc.l0.f.Wx", "enc.emb", "out.W")
# the same weights (seed 1) and the same 40 coordinates of each parameter, at rho = 0.5 and at rho = 1
half = check_model(small, batch=arrays, names=names, seed=1, max_coords=40, teacher_forcing=0.5)
full = check_model(small, batch=arrays, names=names, seed=1, max_coords=40, teacher_forcing=1.0)
print(f"{'parameter':14s} {'rho=0.5 vs finite diff.':>24s} {'rho=0.5 vs rho=1':>18s}")
for h, f in zip(half, full):
    print(f"{h.wrt:14s} {h.rel_error:24.1e} {rel_error(h.analytic, f.analytic):18.2f}")

# %% [markdown]
# **The ratio's schedule.** A constant $\rho < 1$ from the first step feeds an untrained
# model's garbage back to itself. Scheduled sampling starts at $\rho = 1$ and lowers it as
# the model improves. minis2s's trainer moves it linearly from `teacher_forcing` ($\rho_0$)
# to `teacher_forcing_final` ($\rho_K$) over the $K$ steps of the run:
#
# $$
# \rho_k = \rho_0 + \min\!\Big(1, \frac{k}{K}\Big)\,(\rho_K - \rho_0)
# \tag{6.7}
# $$
#
# Because feeding predictions makes each step depend on the last one's output, a run with
# $\rho < 1$ also loses the "embed all steps at once" shortcut and is slower per step. The
# default is $\rho = 1$ throughout, which is what most published models use.

# %%
from minis2s import train

show(train.teacher_forcing_at)
tc = train.TrainConfig(max_steps=1000, teacher_forcing=1.0, teacher_forcing_final=0.5)
print([round(train.teacher_forcing_at(tc, k, 1000), 3) for k in (0, 250, 500, 1000, 1500)])

# %% [markdown]
# ## 4. Optimizers, written out by hand
#
# An optimizer turns the gradients into an update of `model.params`. It must update the
# arrays **in place**: the model holds references to them, and rebinding a name would
# silently detach it. With parameter $p$, gradient $g$, learning rate $\eta$ and step count
# $t = 1, 2, \dots$:
#
# **Weight decay (L2).** Adding $\frac{\lambda}{2}\lVert p \rVert^2$ to the loss adds its
# gradient $\lambda p$ to $g$:
#
# $$
# g \leftarrow g + \lambda\, p
# \tag{6.8}
# $$
#
# **SGD** steps against the gradient:
#
# $$
# p \leftarrow p - \eta\, g
# \tag{6.9}
# $$
#
# **Momentum** (Polyak) keeps a velocity $u$, a running sum of past gradients that decays
# by $\mu$ per step:
#
# $$
# u \leftarrow \mu\, u + g, \qquad p \leftarrow p - \eta\, u
# \tag{6.10}
# $$
#
# On a constant gradient $u$ grows to $g / (1 - \mu)$: with $\mu = 0.9$ the step is ten
# times SGD's along directions where the gradient keeps its sign, while components that
# flip sign from step to step (the walls of a narrow valley) cancel out.
#
# **Nesterov** momentum (as Sutskever et al., 2013 write it) takes the gradient at the
# look-ahead point $\phi = p - \eta\mu u$, where momentum is about to carry the
# parameters. Rewriting the update for $\phi$ itself gives a rule that needs the gradient
# at the current point only, $g = \nabla L(\phi)$ — the form PyTorch and minis2s use:
#
# $$
# u \leftarrow \mu\, u + g, \qquad p \leftarrow p - \eta\,(g + \mu\, u)
# \tag{6.11}
# $$
#
# **Adam** (Kingma & Ba, 2015) keeps exponential moving averages of the gradient and of
# its square:
#
# $$
# m \leftarrow \beta_1 m + (1 - \beta_1)\, g
# \tag{6.12}
# $$
#
# $$
# v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2
# \tag{6.13}
# $$
#
# Both start at zero, so early on they are biased towards zero. Unroll (6.12):
# $m_t = (1 - \beta_1)\sum_{i=1}^{t} \beta_1^{t-i} g_i$; if the $g_i$ have mean $\bar g$,
# $\mathbb{E}[m_t] = \bar g\,(1 - \beta_1)\sum_{i=1}^{t}\beta_1^{t-i} = \bar g\,(1 - \beta_1^t)$.
# Dividing by $1 - \beta_1^t$ (and $v$ by $1 - \beta_2^t$) removes the bias:
#
# $$
# p \leftarrow p - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}
# \tag{6.14}
# $$
#
# Each coordinate's step is about $\eta$ times the ratio of its mean gradient to its
# root-mean-square gradient — at most about $\eta$ whatever the gradient's scale.
#
# **AdamW** (Loshchilov & Hutter, 2019). Adam with (6.8) puts $\lambda p$ into $g$, where
# it is divided by $\sqrt v$ like any gradient: weights with large gradients decay less.
# AdamW *decouples* the decay: it shrinks every weight by the same factor, then runs Adam
# on the raw gradient (without 6.8):
#
# $$
# p \leftarrow (1 - \eta\lambda)\, p, \quad \text{then (6.12)–(6.14)}
# \tag{6.15}
# $$
#
# The library's module docstring lists the same rules; the code does each with `out=`
# into preallocated scratch buffers (no temporaries the size of a parameter), and the
# bias corrections are Python floats computed from the integer step count — nothing is
# read back from the device:

# %%
from minis2s import optim

show(optim.SGD._update, optim.Adam._update, optim.AdamW)

# %% [markdown]
# Adam folds $1/(1 - \beta_1^t)$ into the step size and computes (6.12) as
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
# crawls along it. Momentum damps the zig-zag (alternating components cancel in $u$) and
# builds up speed along the valley; Nesterov's look-ahead brakes before overshooting.
# Adam's first steps have the same size in both coordinates — the diagonal start,
# whatever the ratio of the gradients — then it overshoots and circles in, because its
# step shrinks only as $v$ forgets the large early gradients. No setting wins everywhere;
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
# ## 5. Learning-rate schedules
#
# A schedule sets `optimizer.lr` between steps. With $t$ the number of steps so far and
# $\eta_0$ the base rate, minis2s has four (each a closed form in $t$, so resuming a run
# needs only $t$):
#
# $$
# \eta_t = \eta_0\, \gamma^{\lfloor t / s \rfloor}
# \qquad \text{(step decay: multiply by } \gamma \text{ every } s \text{ steps)}
# \tag{6.16}
# $$
#
# $$
# \eta_t = \eta_{\min} + (\eta_0 - \eta_{\min})\,\frac{1 + \cos(\pi t / K)}{2} \quad (t < K), \qquad \eta_t = \eta_{\min} \quad (t \ge K)
# \tag{6.17}
# $$
#
# $$
# \eta_t = \eta_0\, \frac{t + 1}{W} \quad (t < W), \qquad \text{then the next schedule, started at } t - W
# \tag{6.18}
# $$
#
# The warm-up (6.18) protects Adam's first steps, when $v$ is estimated from a handful of
# gradients. The fourth reacts to validation instead of counting steps: after more than
# `patience` validations in a row without a relative improvement,
#
# $$
# \eta \leftarrow \max(\eta \cdot \text{factor},\ \eta_{\min})
# \tag{6.19}
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
    "StepLR(step_size=100, gamma=0.3)  (6.16)": lambda o: schedules.StepLR(o, step_size=100, gamma=0.3),
    "CosineLR(total_steps=300)  (6.17)": lambda o: schedules.CosineLR(o, total_steps=300),
    "LinearWarmup(30) then cosine  (6.18)": lambda o: schedules.LinearWarmup(o, 30, after=schedules.CosineLR(o, total_steps=270)),
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
# ## 6. Dropout
#
# A network with many parameters can fit its training set by co-adapting units that only
# work together. Dropout (Srivastava et al., 2014) zeroes each unit independently with
# probability $p$ during training, so no unit can rely on another. *Inverted* dropout
# scales the survivors by $1/(1-p)$, which keeps the expected value unchanged, so
# inference needs no correction — it is simply the identity:
#
# $$
# y = x \odot \frac{m}{1 - p}, \qquad m_k \sim \text{Bernoulli}(1 - p), \qquad
# \mathbb{E}[y] = x
# \tag{6.20}
# $$
#
# For a fixed mask this is a product with a constant, so backward multiplies by the same
# mask and scale:
#
# $$
# \bar x = \bar y \odot \frac{m}{1 - p}
# \tag{6.21}
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
# stacked layers and to the readout $z_t$ (see `encoder_forward`, `step_forward` and
# `decoder_forward` above); `train=False` turns every one of them into the identity.
#
# ## 7. The training loop
#
# `minis2s.train.Trainer.fit` runs a plain loop, `_fit` (under a Ctrl-C handler: the first
# Ctrl-C saves a checkpoint after the current step). Each batch is one `_train_step`:
# `forward_backward`, clip the global gradient norm (eq. 3.11–3.12), take an optimizer
# step, advance the schedule. Every `log_every` steps `_log_window` reads the mean loss
# back to the host (the only synchronisation in the loop, lesson 10); every `eval_every`
# steps `_validate_and_save` validates, checkpoints, keeps the best and perhaps stops
# early. Its budget is steps, epochs or minutes of training time.

# %%
show(train.Trainer._fit, train.Trainer._train_step, train.Trainer._log_window, train.Trainer._validate_and_save)

# %% [markdown]
# ## 8. A training run
#
# `minis2s.train.build_run` assembles what `python -m minis2s train` would: the task's
# data and vocabularies, the model, a `Batcher` and the `Trainer`. The command line does
# the same from flags, e.g.
# `python -m minis2s train --task reverse --attention none --out runs/reverse`.
#
# We train the GRU encoder-decoder without attention on strings of up to 8 letters, with
# Adam, the cosine schedule (6.17) and gradient clipping at norm 1. A run directory receives
# `metrics.jsonl` (one line per log and per validation) and atomic checkpoints; we write it
# to a temporary folder.

# %%
import pathlib
import tempfile

from minis2s.train import build_run

RUNS = pathlib.Path(tempfile.mkdtemp(prefix="minis2s-lesson06-"))
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
# The validation loss is computed with teacher forcing, like the training loss; exact match
# is computed by *decoding* — the model fed its own predictions, as in use.
#
# ## 9. Greedy decoding
#
# At test time the decoder is fed its own output. The simplest rule takes the most likely
# token at every step and feeds it back, until `<eos>` (or a length limit, here
# $2S + 10$):
#
# $$
# \hat y_t = \arg\max_{v}\; \log p\bigl(v \mid \hat y_{<t},\, x\bigr), \qquad \hat y_0 = \texttt{<sos>}
# \tag{6.22}
# $$
#
# This is not the most likely *sequence* — a locally best token can lead into a poor
# continuation; lesson 09's beam search looks further. `greedy` decodes a whole batch at
# once: finished rows keep emitting `<eos>`, and every eighth step one small explicit
# synchronisation checks whether all rows are done.

# %%
from minis2s import decode
from minis2s.tasks import decode_tokens

show(decode.greedy)

# %%
model = trainer.model
outputs = decode_tokens(model, task.src_vocab, task.tgt_vocab, [s for s, _ in task.test])
right = [(src, out) for (src, ref), out in zip(task.test, outputs) if out == ref]
wrong = [(src, ref, out) for (src, ref), out in zip(task.test, outputs) if out != ref]
print(f"exact match on {len(task.test)} held-out strings: {len(right) / len(task.test):.1%}")
for src, out in right[:4]:
    print(f"{''.join(src):>10s} -> {''.join(out):12s} ok")
for src, ref, out in wrong[:8]:
    print(f"{''.join(src):>10s} -> {''.join(out):12s} wrong, expected {''.join(ref)}")

# %% [markdown]
# Look at where the errors are (fast mode leaves many; the full run, few). The first
# output letters — the *last* input letters, which the encoder read most recently — are
# usually right; the errors gather towards the middle and the end of the output, and in
# the longer strings. Everything the decoder knows about the source passed through one
# vector, and the letters read first have blurred in it.
#
# **Exposure bias, measured.** The same held-out sentences, scored with the gold prefix
# fed ($\rho = 1$) and with the model's own predictions fed ($\rho = 0$, eq. 6.5):

# %%
held = make_batch([task.src_vocab.encode(s) for s, _ in task.test], [task.tgt_vocab.encode(t) for _, t in task.test])
held_arrays = train.batch_to_device(held, model.dtype)
for rho in (1.0, 0.0):
    loss, _, _ = model.forward_backward(*held_arrays, rng=B.DeviceRNG(0), train=False, teacher_forcing=rho,
                                        backward=False)
    print(f"teacher forcing {rho:.0f}: cross-entropy per token {B.to_float(loss):.3f}")

# %% [markdown]
# Fed its own predictions the model does worse: one early mistake puts it in a state it
# never saw in training, and the mistakes compound.
#
# ## Summary
#
# - An encoder-decoder factorises $P(y \mid x)$ token by token (6.1): the encoder's
#   final state (6.2), through a bridge, starts the decoder (6.3); training minimises the
#   masked cross-entropy (6.4). Backward is BPTT through the decoder, then the bridge,
#   then the encoder — through one $H$-vector.
# - Teacher forcing feeds gold tokens; scheduled sampling feeds predictions with
#   probability $1 - \rho$ (6.5, 6.7). The $\arg\max$ has no gradient, so the fed tokens
#   are constants for backward (6.6).
# - Optimizers: L2 (6.8), SGD (6.9), momentum (6.10), Nesterov (6.11), Adam with bias
#   correction (6.12–6.14), AdamW's decoupled decay (6.15); schedules (6.16–6.19); inverted
#   dropout (6.20–6.21). All update `params` in place, with no host synchronisation.
# - Greedy decoding feeds back the argmax (6.22). Without attention, long and middle
#   positions suffer.
#
# **Next:** [lesson 07](07_attention.ipynb) — attention: at every step the decoder looks
# back at *all* encoder states.
