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
# # Lesson 06 — The encoder-decoder: teacher forcing, a training loop, greedy decoding
#
# **What you will learn**
#
# - the encoder-decoder (Sutskever et al., 2014; Cho et al., 2014): one recurrent network
#   reads the source, another writes the target one token at a time (eq. 6.1–6.4);
# - teacher forcing, its ratio and its schedule, and what the gradient does when the
#   model is fed its own prediction (eq. 6.5–6.7);
# - a training loop in a dozen lines: gradient descent with momentum (eq. 6.8–6.9);
# - greedy decoding (eq. 6.10), and what it gets wrong without attention.
#
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
# the *bridge*, a tanh layer $s_0 = \tanh(h_S W_b^{\top} + b_b)$. At
# step $t$ it reads the embedding $e_t$ of the token fed to it — the previous target token
# $y_{t-1}$, with $y_0 = $ `<sos>` — updates its state, and scores every vocabulary token
# from the *readout input* $\zeta_t$ (zeta; code `z`):
#
# $$
# s_t = \operatorname{cell}_{\text{dec}}(e_t,\ s_{t-1}), \qquad
# \zeta_t = [\,s_t;\ e_t\,], \qquad
# p(\cdot \mid y_{<t}, x) = \operatorname{softmax}(\zeta_t\, W_{\text{out}}^{\top} + b_{\text{out}})
# \tag{6.3}
# $$
#
# Putting $e_t$ in the readout as well lets the output layer see the current input token
# directly. **Training** minimises
# the negative log of (6.1), averaged over the $N$ real target tokens of the batch — the
# masked cross-entropy of lesson 02 (eq. 2.9):
#
# $$
# L = -\frac{1}{N} \sum_{b} \sum_{t=1}^{T} M_{bt} \log p\bigl(y_{bt} \mid y_{b,<t}, x_b\bigr)
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
# model everywhere. The config also has switches for attention and a bidirectional
# encoder; this lesson's model uses neither:

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
# whose input is $\zeta_t = [s_t; e_t]$ of size $H + D = 80$.
#
# The encoder is (6.2) over all layers (one here), written with the cells and sequence
# functions of lessons 03–05 and the embedding of lesson 02:

# %%
show(encoder.encoder_forward)

# %% [markdown]
# A decoder step is (6.3): the cell of lessons 03–05 on $e_t$ and $s_{t-1}$, then
# $\zeta_t = [s_t; e_t]$. The readout is an affine map (eq. 2.1) — or, with tied embeddings, a
# projection followed by the target embedding matrix used as output weights:

# %%
show(decoder.readout_forward)

# %% [markdown]
# And the whole graph, forward and backward, for one batch. Read it top to bottom: encode,
# bridge, the decoder's $T$ steps, the loss (6.4); then backward in exactly the reverse
# order, every parameter's gradient accumulated into `self.grads`. It returns 0-d arrays,
# never Python floats: on a GPU, reading the loss would make the host wait (lesson 11).

# %%
show(Seq2Seq.forward_backward)

# %% [markdown]
# **Backward through the decoder.** The decoder is an RNN whose state also feeds the
# readout, so backward is BPTT (lesson 03): step $t$ receives the gradient of its readout
# $\bar\zeta_t$ and the gradient $\bar s_t$ arriving from step $t+1$, and passes $\bar s_{t-1}$
# on. What comes out at $t = 0$ is $\bar s_0$, the gradient of the bridge's output; the
# bridge turns it into the gradient of the encoder's final state, and the encoder runs its
# own BPTT from there. Without attention that final state is the **only** path from the
# loss to the source: everything the decoder knows about $x$ must squeeze through one
# $H$-vector.

# %%
show(decoder.decoder_backward, encoder.encoder_backward)

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
# \hat y_{t-1} = \arg\max_k \,\text{logits}_{t-1, k} & \text{otherwise}
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
# an $\arg\max$.) `minis2s.suite.model.check_model` runs this check for a whole model;
# called twice with one seed it draws the same weights and the same coordinates, so the
# second column compares the two gradients there.

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
# to `teacher_forcing_final` ($\rho_{\text{final}}$) over the $\text{total}$ steps of the run
# ($t$ the steps so far):
#
# $$
# \rho_t = \rho_0 + \min\!\Big(1, \frac{t}{\text{total}}\Big)\,(\rho_{\text{final}} - \rho_0)
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
# ## 4. A training loop
#
# Training repeats four things: draw a batch, run `forward_backward` (the loss (6.4) and
# every gradient), clip the gradients' global norm (eq. 3.11–3.12), and move the
# parameters against the gradient. With parameters $\theta$, gradient $g$ and learning rate
# $\eta$, **stochastic gradient descent** (SGD; stochastic because $g$ comes from one
# batch) steps
#
# $$
# \theta \leftarrow \theta - \eta\, g
# \tag{6.8}
# $$
#
# On this model plain SGD stalls: run with learning rates from 1 to 3, the loss still sat
# near 2.6 nats after 2000 steps (try it below with `momentum=0.0`). **Momentum** (Polyak)
# keeps a velocity $m$, a running sum of past gradients that decays by $\mu$ per step:
#
# $$
# m \leftarrow \mu\, m + g, \qquad \theta \leftarrow \theta - \eta\, m
# \tag{6.9}
# $$
#
# On a constant gradient $m$ grows to $g / (1 - \mu)$: with $\mu = 0.9$ the step is ten
# times SGD's along directions where the gradient keeps its sign, while components that
# flip sign from step to step cancel out. `minis2s.optim.SGD` does (6.8)–(6.9) in place on
# `model.params` — the model holds references to those arrays, so an update must never
# rebind them. The whole loop, on 20,000 generated strings:

# %%
from minis2s import optim
from minis2s.data import Batcher
from minis2s.functional.clip import clip_grad_norm
from minis2s.train import batch_to_device

train_pairs, test_pairs = make_splits("reverse", n_train=20000, n_test=200 if FAST else 1000, seed=0, max_len=8)


def encode(pairs):
    return [(vocab.encode(tok.tokenize(s)), vocab.encode(tok.tokenize(t))) for s, t in pairs]


# bucket=False: mixed lengths in every batch. Grouped by length (the default, which saves
# padding), consecutive batches are alike and momentum sums their bias: measured here, the
# loss was still 2.76 after 2000 steps, against 0.55 unbucketed.
batcher = Batcher(encode(train_pairs), batch_size=64, seed=0, bucket=False)
model = Seq2Seq(cfg, seed=0)
opt = optim.SGD(model.params, lr=0.3, momentum=0.9)

losses = []
for step in range(2000 if FAST else 12000):
    batch = batcher.next_batch() or batcher.next_batch()  # None once at the end of each epoch
    loss, _, _ = model.forward_backward(*batch_to_device(batch, model.dtype), rng=B.DeviceRNG(step))
    clip_grad_norm(model.grads, 1.0)  # eq. 3.11-3.12
    opt.step(model.grads)  # eq. 6.8-6.9
    losses.append(loss)  # a 0-d array: reading it now would make a GPU wait

losses = np.array([B.to_float(v) for v in losses])
window = 50
plt.figure(figsize=(7, 3.5))
plt.plot(np.arange(window, len(losses) + 1), np.convolve(losses, np.ones(window) / window, mode="valid"))
plt.xlabel("step"), plt.ylabel(f"training loss (mean of {window} steps)")
plt.show()
print(f"training loss: first {window} steps {losses[:window].mean():.3f}, last {window} {losses[-window:].mean():.3f}")

# %% [markdown]
# The validation loss is computed with teacher forcing, like the training loss; exact match
# is computed by *decoding* — the model fed its own predictions, as in use.
#
# ## 5. Greedy decoding
#
# At test time the decoder is fed its own output. The simplest rule takes the most likely
# token at every step and feeds it back, until `<eos>` (or a length limit, here
# $2S + 10$):
#
# $$
# \hat y_t = \arg\max_{k}\; \log p\bigl(k \mid \hat y_{<t},\, x\bigr), \qquad \hat y_0 = \texttt{<sos>}
# \tag{6.10}
# $$
#
# This is not the most likely *sequence* — a locally best token can lead into a poor
# continuation; keeping several candidates (beam search) looks further. `greedy` decodes a whole batch at
# once: finished rows keep emitting `<eos>`, and every eighth step one small explicit
# synchronisation checks whether all rows are done.

# %% [markdown]
# ### Exercise: `greedy_decode`
#
# Write the greedy loop (6.10) yourself, through the model's inference interface:
# `model.encode` once, then one `model.decode_step` per output position, each fed the token
# chosen at the step before (`<sos>` at the first). Return every row padded to `max_len`
# columns. The grader runs it on a small seeded model (a GRU with dot attention, its weights
# drawn large so that the argmax changes from step to step) on three batches, and compares
# the ids with those of the library's `decode.greedy`. Watch for: rows that have already
# emitted `<eos>`, what is fed back, and the number of steps.
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
def greedy_decode(model, src, src_mask, sos_id, eos_id, max_len):
    """Greedy decoding of a batch, exactly max_len steps (lesson 06, eq. 6.10).

    model: a Seq2Seq; memory, states = model.encode(src, src_mask) once, then at every step
        logp, states, _ = model.decode_step(memory, states, prev)
    with prev (B,) the tokens fed at this step (<sos> at the first) and logp (B, V) the
    log-probabilities of the next token.
    src: (B, S) token ids, src_mask: (B, S) 1.0 on real tokens; sos_id, eos_id: ints.
    Returns ids (B, max_len) integers: column t holds the token chosen at step t, the argmax of
    that step's logp (eq. 6.10), and it is fed at step t + 1. Once a row has chosen <eos>, every
    later column of that row is eos_id.
    """
    raise NotImplementedError(
        "write one step first: logp, states, _ = model.decode_step(memory, states, prev); "
        "the next prev is the argmax of logp (eq. 6.10)"
    )


report = check(greedy_decode)

# %% [markdown]
# The library's own function, graded the same way; this is what a pass looks like:

# %%
report = check(references.greedy_decode)

# %% [markdown]
# The library's version, to compare with yours: `greedy` hands its choice (the argmax) to a
# loop it shares with sampling (lesson 10), which also takes the finished rows out of the
# batch at its every-eighth-step check:

# %%
from minis2s import decode
from minis2s.tasks import decode_tokens

show(decode.greedy, decode._one_token_at_a_time)

# %%
test = [(tok.tokenize(s), tok.tokenize(t)) for s, t in test_pairs]
outputs = decode_tokens(model, vocab, vocab, [s for s, _ in test])
right = [(src, out) for (src, ref), out in zip(test, outputs) if out == ref]
wrong = [(src, ref, out) for (src, ref), out in zip(test, outputs) if out != ref]
print(f"exact match on {len(test)} held-out strings: {len(right) / len(test):.1%}")
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
held = make_batch(*zip(*encode(test_pairs)))
held_arrays = batch_to_device(held, model.dtype)
for rho in (1.0, 0.0):
    loss, _, _ = model.forward_backward(*held_arrays, rng=B.DeviceRNG(0), train=False, teacher_forcing=rho,
                                        backward=False)
    print(f"teacher forcing {rho:.0f}: cross-entropy per token {B.to_float(loss):.3f}")

# %% [markdown]
# Fed its own predictions the model does worse: one early mistake puts it in a state it
# never saw in training, and the mistakes compound.
#

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 06](answers.md#lesson-06), to read after you have tried.
#
# **Q6.1.** The exposure-bias cell printed a higher cross-entropy with the model's own
# predictions fed ($\rho = 0$) than with the gold prefix ($\rho = 1$). What does this gap
# measure, why does it appear although the weights are the same, and why would you expect it
# to grow along the output?
#
# **Q6.2.** Run the training loop with `momentum=0.0`: the loss sits on a plateau near 2.6
# nats. What does $e^{2.6}$ say the model has learned on the plateau, and why does momentum
# (6.9) move where SGD (6.8) crawls? Why did bucketed batches make momentum worse (the comment
# above `Batcher`)?
#
# **Q6.3.** Greedy decoding's errors gather in the middle and at the end of the output, and in
# the longer strings; the first output letters are usually right. Explain this from how the
# decoder learns about the source (6.2)–(6.3).

# %% [markdown]
# ## Summary
#
# - An encoder-decoder factorises $P(y \mid x)$ token by token (6.1): the encoder's
#   final state (6.2), through a bridge, starts the decoder (6.3); training minimises the
#   masked cross-entropy (6.4). Backward is BPTT through the decoder, then the bridge,
#   then the encoder — through one $H$-vector.
# - Teacher forcing feeds gold tokens; scheduled sampling feeds predictions with
#   probability $1 - \rho$ (6.5, 6.7). The $\arg\max$ has no gradient, so the fed tokens
#   are constants for backward (6.6).
# - A training loop is batch, forward-backward, clip, step; SGD (6.8) stalls on this model,
#   momentum (6.9) gets it moving.
# - Greedy decoding feeds back the argmax (6.10). Without attention, long and middle
#   positions suffer.
#
# **Next:** [lesson 07](07_training.ipynb) — better optimizers, learning-rate schedules,
# dropout, and the library's training loop.
