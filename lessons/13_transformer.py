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
# # Lesson 13 — The Transformer: the whole model, trained
#
# **What you will learn**
#
# - the encoder-decoder Transformer (Vaswani et al., 2017) assembled from lesson 12's
#   layers: scaled embeddings plus positions, $L$ encoder layers, $L$ decoder layers with
#   causal self-attention and cross-attention, a final norm and a readout tied to the
#   embedding table (eq. 13.1–13.4);
# - its backward, where a value read in several places sums its gradients (eq. 13.5–13.6),
#   and a whole-model gradient check in float64;
# - why it trains **in parallel over time**: teacher forcing in one causal pass instead of
#   $T$ steps — and what that costs, attention's $O(T^2)$ time and memory, measured;
# - the training recipe: the inverse-square-root **warm-up** (eq. 13.7), why Adam needs it
#   here, Adam's $\beta_2 = 0.98$, label smoothing;
# - a small Transformer trained on the dates task, and the heatmaps of every layer and head;
# - decoding with a **key/value cache** (eq. 13.8): the same outputs, measured faster;
# - **byte-pair encoding** learned by hand (eq. 13.9–13.10) — you will write one merge —
#   and compared with subword-nmt.
#
# Shapes: B batch, S source length, T target length, D the model size ($d_{\text{model}}$),
# $n_h$ heads, $n_{\text{layers}}$ layers per side, $|\mathcal V|$ the vocabulary size.
#
# **Notation.** Rows are vectors, as in every lesson: a layer is $x W^{\top}$.
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $E$ | the embedding table $(|\mathcal V|, D)$, shared by the readout when tied | `dec.emb` |
# | $\mathrm{PE}$ | the positions: sinusoids (eq. 12.12) or a learned table $(T_{\max}, D)$ | `_positions` |
# | $x^{(l)}$, $y^{(l)}$ | the encoder's / decoder's residual stream after layer $l$ $(B, \cdot, D)$ | `x`, `y` |
# | $\mathrm{mem}$ | the memory, the encoder's output $(B, S, D)$ | `memory` |
# | $\zeta$ | the decoder's output, the readout's input $(B, T, D)$ | `z` |
# | $K^{(l)}_{1..t}, V^{(l)}_{1..t}$ | layer $l$'s self-attention keys and values of positions $1..t$ | `states[l]` |
# | $t$, $t_w$ | the optimizer step, from 1, and the warm-up length | `t + 1` and `warmup` in `lr_at` |
# | $\mathrm{word}$, $n_{\mathrm{word}}$ | a word as a sequence of symbols, and how often it occurs | `words` |
# | $\operatorname{count}(a, b)$ | how often symbol $b$ follows symbol $a$ in the corpus | `count` |
# | $\bar x$ | the gradient of the loss with respect to $x$ | `dx` |

# %%
import os

# Lessons 06-13 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 11 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s.exercises import check, references
from minis2s.models.transformer import Transformer, TransformerConfig

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. The whole model
#
# Lesson 12 built the layers; the model is the plumbing between them. Both sides start the
# same way: a token's row of the embedding table, scaled by $\sqrt D$, plus the row of its
# position (eq. 12.13), then dropout:
#
# $$
# x^{(0)}_t = \operatorname{dropout}\!\left(\sqrt{D}\, E[\text{id}_t] + \mathrm{PE}[t]\right)
# \tag{13.1}
# $$
#
# The encoder runs $L$ encoder layers (eq. 12.16) over the source; the decoder runs $L$
# decoder layers over the target read so far, each with causal self-attention (position $t$
# sees $1..t$), cross-attention over the real source positions, and a feed-forward block.
# With pre-norm a final layer norm closes each stack, because the residual stream of a
# pre-norm stack is never normalised otherwise (lesson 12, section 7); post-norm layers end
# normalised already:
#
# $$
# \mathrm{mem} = \operatorname{LN}_{\text{enc}}\!\left(x^{(n_{\text{layers}})}\right), \qquad
# x^{(l)} = \operatorname{EncoderLayer}_l\!\left(x^{(l-1)}\right)
# \tag{13.2}
# $$
#
# $$
# \zeta = \operatorname{LN}_{\text{dec}}\!\left(y^{(n_{\text{layers}})}\right), \qquad
# y^{(l)} = \operatorname{DecoderLayer}_l\!\left(y^{(l-1)}, \mathrm{mem}\right)
# \tag{13.3}
# $$
#
# The readout is an affine map to the vocabulary. **Tied**, its weight *is* the target
# embedding table — one $(|\mathcal V|, D)$ matrix instead of two (Press and Wolf, 2017):
#
# $$
# \text{logits} = \zeta W^{\top} + b, \qquad W = E
# \tag{13.4}
# $$
#
# Why $\sqrt D$ in (13.1)? The table is initialised with entries of variance $1/D$, so a row
# has norm about 1 — the right size for the tied readout, whose logits $\zeta E^{\top}$ are then
# of order 1 for a layer-normalised $\zeta$ of norm $\sqrt D$. At the input, the same row must
# not be drowned by the position, whose sinusoids have norm $\sqrt{D/2}$; multiplied by
# $\sqrt D$ it has norm about $\sqrt D$ as well. Measured on a fresh model:

# %%
cfg = TransformerConfig(src_vocab=30, tgt_vocab=30, layers=2, d_model=64, heads=4, d_ff=128, dropout=0.0,
                        share_vocab=True)
model = Transformer(cfg, seed=0)
E = model.params["dec.emb"]
P = model._positions("dec", 20)[:20]
z_norm = np.sqrt(cfg.d_model)  # a layer-normalised row (gain 1, bias 0) has norm sqrt(D)
print(f"row norms: E {np.linalg.norm(E[4:], axis=1).mean():.2f}, sqrt(D) E "
      f"{np.sqrt(cfg.d_model) * np.linalg.norm(E[4:], axis=1).mean():.2f}, P {np.linalg.norm(P, axis=1).mean():.2f}")
print(f"parameters: {model.n_params:,}; the readout reuses dec.emb: "
      f"{model._readout_weight() is model.params['dec.emb']}; no enc.emb (shared vocabulary): "
      f"{'enc.emb' not in model.params}")

# %% [markdown]
# The two stacks, as the model runs them — each a loop over lesson 12's layers:

# %%
show(Transformer._embed, Transformer.encoder_forward, Transformer.decoder_forward)

# %% [markdown]
# ## 2. The backward, and a whole-model check
#
# Two joints of the graph are new. The memory $\mathrm{mem}$ is read by the cross-attention of *every*
# decoder layer, as its keys and values; a value read in several places gets the sum of
# the gradients of each reading (lesson 03's rule for a shared weight):
#
# $$
# \overline{\mathrm{mem}} = \sum_{l=1}^{n_{\text{layers}}} \left(\bar K^{(l)}_{\text{cross}} + \bar V^{(l)}_{\text{cross}}\right)
# \tag{13.5}
# $$
#
# where $\bar K^{(l)}_{\text{cross}}$ is the gradient through layer $l$'s key projection back
# to its input (eq. 12.6 then eq. 2.2). The embedding table is read up to three times — the
# source side, the target side, the tied readout — and its gradient is the sum of the three:
#
# $$
# \bar E = \bar E_{\text{src}} + \bar E_{\text{tgt}} + \bar W_{\text{readout}}
# \tag{13.6}
# $$
#
# The code does both with `+=`, in the order the forward ran backwards: readout, decoder
# stack (collecting $\overline{\mathrm{mem}}$), encoder stack.

# %%
show(Transformer._stack_backward)

# %% [markdown]
# Every op has passed its own check (lesson 12, section 9); the composition gets the same
# treatment as the recurrent model in lesson 09: the loss against centered differences at a
# few coordinates of every parameter array, in float64, on a padded batch, with dropout and
# label smoothing on (the same dropout masks at every evaluation). The key biases are left
# out: their gradient is exactly 0 (a bias added to every key shifts all the scores of a row
# alike, and the softmax ignores that; lesson 12, section 4).

# %%
from minis2s.gradcheck import format_table
from minis2s.suite import model as model_checks

tiny = TransformerConfig(**model_checks.TRANSFORMER_SIZES, layers=2, dropout=0.2)
names = [n for n in Transformer(tiny).params if not n.endswith("_bk")]
if FAST:  # every joint, not every array: the embeddings, the last layer of each side, the readout
    names = [n for n in names if ".l1." in n or not n.startswith(("enc.l", "dec.l"))]
results = model_checks.check_model(tiny, names=names, op="transformer", label_smoothing=0.1)
print(format_table(results, model_checks.MODEL_TOLERANCE))

# %% [markdown]
# ## 3. Parallel over time, and what it costs
#
# A recurrent decoder must run $T$ steps one after another in training too: $s_t$ needs
# $s_{t-1}$. The Transformer's decoder has no state carried between positions. With teacher
# forcing its input is the gold prefix, known in advance, and the causal mask makes position
# $t$ see exactly the positions $1..t$ it would have seen had we fed the tokens one at a
# time. So **one** pass over the whole target gives every position's logits at once — the
# same numbers, as products of $(T, D)$ matrices instead of $T$ products of $(1, D)$ rows:

# %%
src = rng.integers(4, 30, size=(3, 7))
src_mask = np.ones((3, 7))
tgt_in = np.concatenate([np.ones((3, 1), dtype=src.dtype), rng.integers(4, 30, size=(3, 8))], axis=1)
one_pass = model.logits(src, src_mask, tgt_in)  # (B, T, V), the whole gold prefix at once
memory, states = model.encode(src, src_mask)
stepwise = []
for t in range(tgt_in.shape[1]):  # the same tokens, fed one at a time
    logp, states, _ = model.decode_step(memory, states, tgt_in[:, t])
    stepwise.append(logp)
one_pass_logp = one_pass - np.log(np.exp(one_pass).sum(-1, keepdims=True))
print("one causal pass vs T steps: max |difference of log-probabilities| =",
      f"{np.abs(one_pass_logp - np.stack(stepwise, axis=1)).max():.1e}", f"({model.dtype}: its rounding)")

# %% [markdown]
# What it costs: every query scores every key, so self-attention over $T$ positions
# computes and stores a $(B, h, T, T)$ matrix of scores and one of weights — time and memory
# grow as $T^2$. A recurrent layer stores $O(T)$ states and does $O(T)$ work, but in $T$
# sequential steps. Measured below on one CPU thread: the forward of one causal self-attention
# layer against one LSTM layer of the same width, and the peak memory each allocates
# (`tracemalloc` sees NumPy's buffers).

# %%
from minis2s.functional import lstm, multihead

D_c, B_c, h_c = 64, 8, 4
mha = [w for _ in range(4) for w in (0.1 * rng.standard_normal((D_c, D_c)), np.zeros(D_c))]
Wx, Wh = 0.1 * rng.standard_normal((4 * D_c, D_c)), 0.1 * rng.standard_normal((4 * D_c, D_c))
b4 = np.zeros(4 * D_c)


def measure(f):
    """(seconds, peak MiB) of f(): the best time of three runs, the peak of the last."""
    best = float("inf")
    for _ in range(3):
        tracemalloc.start()
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return best, peak


print("    T | attention ms    MiB | LSTM ms    MiB | attention / LSTM: time  memory")
for T_c in (32, 64, 128, 256) if FAST else (32, 64, 128, 256, 512, 1024):
    x = rng.standard_normal((B_c, T_c, D_c))
    a_s, a_m = measure(lambda x=x: multihead.multihead_attention_forward(x, x, x, *mha, h_c, causal=True))
    r_s, r_m = measure(lambda x=x: lstm.lstm_forward(x, np.zeros((B_c, D_c)), np.zeros((B_c, D_c)), Wx, Wh, b4, b4))
    print(f"{T_c:5d} | {1e3 * a_s:12.1f} {a_m:6.1f} | {1e3 * r_s:7.1f} {r_m:6.1f} | "
          f"{a_s / r_s:26.2f} {a_m / r_m:7.2f}")

# %% [markdown]
# Each doubling of $T$ doubles the LSTM's time and memory and roughly quadruples
# attention's (at small $T$ attention's fixed costs hide it; the last rows show the
# square). At the lengths of these lessons — tens of tokens — attention is the cheaper of the
# two, and its work is a few large products that a GPU runs at once rather than $T$ small
# ones in a row; at thousands of tokens the $T^2$ matrices dominate, which is what
# memory-efficient attention kernels (that never store the whole matrix) are for.
#
# ## 4. The training recipe: warm-up, Adam's $\beta_2$, label smoothing
#
# Vaswani et al. train with Adam, $\beta = (0.9, 0.98)$, and a learning rate that rises
# linearly for `warmup` steps and then decays as $1/\sqrt{t}$:
#
# $$
# \eta(t) = \eta_0 \min\!\left(\frac{t}{t_w},\ \sqrt{\frac{t_w}{t}}\right), \qquad t = 1, 2, \ldots
# \tag{13.7}
# $$
#
# The two branches meet at $t = t_w$, the peak $\eta_0$. (The paper writes
# $D^{-1/2}\min(t^{-1/2}, t\, t_w^{-3/2})$: the same curve with $\eta_0 = (D\, t_w)^{-1/2}$.)

# %%
from minis2s import optim
from minis2s.schedules import InverseSqrtWarmup

fig, ax = plt.subplots(figsize=(7, 3))
for W_s in (100, 400, 1600):
    sched = InverseSqrtWarmup(optim.Adam({"p": np.zeros(1)}, lr=1e-3), W_s)
    ax.plot([sched.lr_at(t) for t in range(6000)], label=f"warmup = {W_s}")
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
ax.legend()
ax.set_title("eq. 13.7 with peak 1e-3")
plt.show()

# %% [markdown]
# **Why Adam needs warm-up here.** Adam divides each coordinate's step by the root of its
# averaged squared gradient (eq. 7.5). At step 1 that average is a single sample, so the
# step is $\eta\, g / (|g| + \epsilon) \approx \eta \operatorname{sign}(g)$: *every* weight
# moves by the full learning rate, whatever its gradient's size or reliability. Measured
# with the library's optimizer on gradients spread over six orders of magnitude:

# %%
g = rng.standard_normal(6) * 10.0 ** np.arange(-4, 2)
p = np.zeros(6)
optim.Adam({"p": p}, lr=1e-3).step({"p": g})
print("gradient      ", np.array2string(g, precision=5))
print("first step/lr ", np.array2string(-p / 1e-3, precision=3))

# %% [markdown]
# A recurrent model shrugs at that; a post-norm Transformer does not. Its gradients at
# initialisation are largest near the output (Xiong et al., 2020), and a full-size step on
# every attention weight at once can push the scores into the softmax's saturated tails,
# where they stop learning (lesson 12, section 2). The ramp of (13.7) keeps the first steps
# small until the second-moment estimates have seen enough gradients to be trusted (Liu et
# al., 2020, measure that variance). $\beta_2 = 0.98$ instead of 0.999 shortens the memory of
# that average from about $1/(1 - \beta_2) = 1000$ steps to 50: the gradients' scale changes
# quickly early in training, and a long memory keeps dividing by stale, too large values.
#
# **Label smoothing** (eq. 2.9, $\varepsilon = 0.1$ in the paper) spreads $\varepsilon$ of
# the target distribution over the vocabulary: the model is never pushed to make one logit
# infinitely larger than the rest. It costs a little perplexity and usually gains BLEU; the
# Multi30k recipe uses it, the toy task below does not need it.
#
# ## 5. Dates, with a Transformer
#
# Lesson 08 trained an attentive GRU on the `dates` task. The same task's Transformer
# recipe (`recipe("dates", "transformer")`: 2 + 2 layers of width 64, 4 heads, feed-forward
# 128, dropout 0.1, Adam with $\beta_2 = 0.98$, eq. 13.7) trains here with a peak of
# $3 \cdot 10^{-3}$ reached after 100 steps: 400 steps in fast mode — half a minute — and
# 2,000 without it, which reached **97.4%** held-out exact match (99.5% of the characters) in
# 64 s of training in this notebook's full run (2026-11-30, the machine otherwise idle).
# Every step computes all the target positions
# of a batch in one pass.

# %%
import pathlib
import tempfile

from minis2s.recipes import recipe
from minis2s.tasks import exact_match
from minis2s.train import TrainConfig, build_run

RUNS = pathlib.Path(tempfile.mkdtemp(prefix="minis2s-lesson13-"))
r = recipe("dates", "transformer")
steps = 400 if FAST else 2000
tc = TrainConfig(**{**r["train"], "lr": 3e-3, "warmup": 100, "minutes": None, "max_steps": steps,
                    "eval_every": steps})
print("model:", r["model"], f"\ntraining: Adam betas (0.9, {tc.adam_beta2}), {tc.schedule} peak {tc.lr} "
      f"at step {tc.warmup}, batches of {tc.batch_size}, {steps} steps")
data = {**r["data"], "n_test": 200} if FAST else r["data"]
task, trainer = build_run({"kind": "toy", "name": "dates", "seed": 0, "data": data},
                          {**r["model"], "arch": "transformer"}, tc, RUNS / "dates", quiet=True)
summary = trainer.fit()
figures = exact_match(trainer.model, task, task.test)
print(f"{trainer.model.n_params:,} parameters, {summary['steps']} steps in {summary['train_seconds']:.1f} s; "
      f"held-out exact match {figures['exact_match']:.1%}, token accuracy {figures['token_accuracy']:.1%}")

# %%
from minis2s import plots

fig, ax = plt.subplots(figsize=(7, 3))
plots.loss_curves(RUNS / "dates", ax=ax)
ax.set_title("dates, Transformer")
plt.show()

# %% [markdown]
# In fast mode the model has learned the format and most characters but not yet every date;
# the full run gets nearly all of them. For comparison, `benchmarks/RESULTS.md` records lesson
# 08's attentive GRU at 100.00% after 5,872 steps (one minute): on short strings and a CPU the
# Transformer is not the better model — it has no notion of order but (13.1)'s positions, and
# its warm-up makes the first hundred steps deliberately small. Its advantage is in how its
# steps scale with the hardware (section 3).
#
# **Where each head looks.** `plots.attention_grid` greedy-decodes one date, feeds the output
# back as the gold prefix, and draws the cross-attention weights of every decoder layer
# (rows) and head (columns): output characters down, source characters across.

# %%
from minis2s.inference import Translator

translator = Translator.load(RUNS / "dates", prefer="latest")
examples = ["Tuesday, September 27, 1994", "9/27/94", "DEC 1ST, 2001"]
for source, output in zip(examples, translator.translate(examples)):
    print(f"{source:>28s} -> {output}")
grid = plots.attention_grid(translator, examples[0], RUNS / "grid.png")
fig, ax = plt.subplots(figsize=(14, 7))
ax.imshow(plt.imread(grid))
ax.axis("off")
plt.show()

# %% [markdown]
# Unlike lesson 08's single attention, each layer has four heads that may look in different
# places. After the 400 steps of fast mode the first layer's cross-attention is still spread
# thin over the source, while heads of the second layer have begun to put their weight on single
# characters — the digits of the year among them. Run the lesson without `MINIS2S_FAST` to
# see how the picture sharpens with training. Heads are not guaranteed to be interpretable:
# these show where information flowed for one input, not why.
#
# ## 6. Decoding with a key/value cache
#
# At inference the output is not known in advance, so decoding is again one token per step
# (lesson 06). Recomputing the decoder over the whole prefix at step $t$ costs $O(t^2)$
# attention per layer and repeats all the work of step $t - 1$. But position $t$'s new token
# changes nothing at positions before it (the causal mask), so their keys and values are
# the same as at the previous step. Each layer keeps them and appends one row:
#
# $$
# K^{(l)}_{1..t} = \begin{bmatrix} K^{(l)}_{1..t-1} \\ k^{(l)}_t \end{bmatrix}, \quad
# V^{(l)}_{1..t} = \begin{bmatrix} V^{(l)}_{1..t-1} \\ v^{(l)}_t \end{bmatrix}, \qquad
# \text{output}_t = \operatorname{attn}\!\left(q^{(l)}_t, K^{(l)}_{1..t}, V^{(l)}_{1..t}\right)
# \tag{13.8}
# $$
#
# One query per step, no mask needed (every cached position is $\le t$), $O(t)$ work; the
# cross-attention's keys and values of the memory are projected once per sentence.

# %%
show(Transformer.decode_step)

# %% [markdown]
# The same held-out dates decoded both ways — with the cache, and recomputing the prefix
# (`kv_cache = False`, the reference the tests compare against) — must give the same
# outputs. Then the speed, on the lengths where it matters: the fresh model of section 1
# forced to decode up to 128 tokens, 32 sentences at a time (an untrained model rarely stops, so every sentence runs
# to the limit).

# %%
from minis2s.decode import greedy
from minis2s.tasks import decode_tokens

trained = trainer.model
sources = [s for s, _ in task.test[:100]]
outputs, seconds = {}, {}
for cached in (True, False):
    trained.kv_cache = cached
    start = time.perf_counter()
    outputs[cached] = decode_tokens(trained, task.src_vocab, task.tgt_vocab, sources)
    seconds[cached] = time.perf_counter() - start
trained.kv_cache = True
print(f"{len(sources)} held-out dates: identical outputs {outputs[True] == outputs[False]}; "
      f"{seconds[True]:.2f} s cached, {seconds[False]:.2f} s recomputed")

src_long = rng.integers(4, 30, size=(32, 20))
print("\nmax_len | cached s | recomputed s | speed-up")
for max_len in (16, 64) if FAST else (16, 64, 128):
    times, ids = {}, {}
    for cached in (True, False):
        model.kv_cache = cached
        start = time.perf_counter()
        ids[cached] = greedy(model, src_long, np.ones((32, 20)), 1, 2, max_len=max_len).ids
        times[cached] = time.perf_counter() - start
    assert ids[True] == ids[False]
    print(f"{max_len:7d} | {times[True]:8.2f} | {times[False]:12.2f} | {times[False] / times[True]:6.1f}x")
model.kv_cache = True

# %% [markdown]
# The speed-up grows with the length, as $O(t)$ against $O(t^2)$ per step predicts.
#
# ## 7. Byte-pair encoding
#
# A word vocabulary turns every rare word into `<unk>`; characters make sequences long, and
# attention's cost grows with their square (section 3). **Byte-pair encoding** (Sennrich et
# al., 2016) sits between: start from characters, with `</w>` marking a word's end, and
# repeatedly glue the most frequent adjacent pair of symbols into a new symbol. Frequent
# words end up as one symbol, rare ones as a few pieces, and no word is ever unknown.
#
# With the words $\mathrm{word}$ of the corpus, each occurring $n_{\mathrm{word}}$ times and currently a sequence of
# symbols $w_1 \ldots w_{|w|}$, the count of a pair is
#
# $$
# \operatorname{count}(a, b) = \sum_{\mathrm{word}} n_{\mathrm{word}} \,\bigl|\{\, i : \mathrm{word}_i = a,\ \mathrm{word}_{i+1} = b \,\}\bigr|
# \tag{13.9}
# $$
#
# and each step merges the most frequent pair — a tie going to the larger pair in string
# order, the convention of subword-nmt, the authors' implementation — at every place it
# occurs, scanning each word left to right so that occurrences do not overlap (`a a a`
# becomes `aa a`):
#
# $$
# (a^*, b^*) = \arg\max_{(a, b)}\ \bigl(\operatorname{count}(a, b),\ (a, b)\bigr), \qquad
# \ldots a^*\, b^* \ldots \;\to\; \ldots a^*b^* \ldots
# \tag{13.10}
# $$
#
# The ordered list of merges is the whole model. To segment a new word, replay them.
#
# ### Exercise: `bpe_merge_step`
#
# Before the library's version: write one step of learning, (13.9) then (13.10), on a dict
# from each word's symbols to its count. The grader runs it on three small corpora and
# compares the merged pair, its count and every word's symbols with the library's
# `bpe.merge_step`. Watch for: the word counts in (13.9), ties, and merging *symbols*, not
# the text of the symbols.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` runs your
# function and the library's on the same inputs and compares what they return; where they
# differ it says which output and where, and it names the mistake when it is a common one.


# %%
def bpe_merge_step(words):
    """One merge of byte-pair encoding (lesson 13, eq. 13.9-13.10).

    words: a dict, each word's current symbols (a tuple of strings, the last one ending in
        "</w>") -> how often that word occurs in the corpus, e.g.
        {("l", "o", "w</w>"): 5, ("l", "o", "w", "e", "r</w>"): 2}.
    Count every adjacent pair of symbols, once per place it occurs in a word, times that word's
    count (eq. 13.9); take the most frequent pair, a tie going to the larger pair in string
    order (as subword-nmt); merge it into one symbol at every place it occurs, left to right,
    in every word (eq. 13.10).
    Returns (pair, count, new_words): the pair as a tuple (a, b), its count, and a new dict:
    each word's symbols after the merge -> the same count as before.
    """
    raise NotImplementedError(
        "write eq. 13.9 first: count[(a, b)] += n for every adjacent (a, b) of every word, n its count"
    )


report = check(bpe_merge_step)

# %% [markdown]
# The library's own step, graded the same way; this is what a pass looks like:

# %%
report = check(references.bpe_merge_step)

# %% [markdown]
# The library's step and the merge it calls. `merge_step` is the textbook loop's body:
# recount every pair of every word, pick, merge.

# %%
from minis2s.data import bpe

show(bpe.merge_step, bpe.merge_pair)

# %% [markdown]
# Repeated on the example of Sennrich et al. — `low` 5 times, `lower` 2, `newest` 6,
# `widest` 3 — the first merges are `s t</w>` (9, tied with `e s` and larger), then
# `e st</w>`, then `l o`:

# %%
words = {bpe.word_symbols(w): n for w, n in {"low": 5, "lower": 2, "newest": 6, "widest": 3}.items()}
for _ in range(5):
    pair, n, words = bpe.merge_step(words)
    print(f"merge {pair} ({n}):", "  ".join(" ".join(s) for s in words))

# %% [markdown]
# Recounting every word after every merge is slow on a real corpus: 10,000 merges over
# Multi30k would take minutes. `learn_bpe` keeps the counts and the words that hold each
# pair, and after a merge updates only the words that contained the merged pair, with a heap
# to find the most frequent pair — the same merges (the tests compare them), 130–190 times
# faster. Segmenting replays the merges: of the adjacent pairs of the word, the one learned
# first is merged, until none is a merge.

# %%
show(bpe.learn_bpe, bpe.BPE.segment)

# %% [markdown]
# On real text: the English side of Multi30k's training set when it is on this machine
# (found as lesson 10 finds it), else a few built-in sentences.

# %%
from minis2s.data.multi30k import file_name, find_data_dir
from minis2s.errors import DataError

from course import SAMPLE_CAPTIONS as SAMPLE

try:
    corpus = find_data_dir() / file_name("train", "en")
    lines = corpus.read_text(encoding="utf-8").splitlines()[: 5000 if FAST else None]
    merges_wanted = 1000 if FAST else 10000
    print(f"Multi30k: {len(lines):,} sentences of {corpus}")
except DataError:
    lines, merges_wanted = SAMPLE, 60
    print("Multi30k is not here (lesson 10 says how to get it): the built-in sample of", len(lines), "sentences")

start = time.perf_counter()
model_bpe = bpe.BPE.learn(lines, merges_wanted)
print(f"{len(model_bpe)} merges learned in {time.perf_counter() - start:.2f} s; the first ten:", model_bpe.merges[:10])
counts = bpe.count_words(lines)
pieces = sum(n * len(model_bpe.segment(w)) for w, n in counts.items())
characters = sum(n * len(w) for w, n in counts.items())
print(f"{sum(counts.values()):,} words -> {pieces:,} pieces ({characters:,} characters)")
for line in lines[:2]:
    print(" ", " ".join(model_bpe.encode(line.split())))

# %% [markdown]
# The same merges and the same segmentation as subword-nmt (skipped if it is not
# installed):

# %%
import io

try:
    from subword_nmt import apply_bpe as nmt_apply
    from subword_nmt import learn_bpe as nmt_learn
except ImportError:
    print("subword-nmt is not installed: comparison skipped (pip install subword-nmt)")
else:
    codes = io.StringIO()
    start = time.perf_counter()
    nmt_learn.learn_bpe(io.StringIO("\n".join(lines) + "\n"), codes, merges_wanted)
    nmt_seconds = time.perf_counter() - start
    theirs = [tuple(row.split(" ")) for row in codes.getvalue().splitlines()[1:]]
    applied = nmt_apply.BPE(io.StringIO(codes.getvalue()))
    same_pieces = all(applied.segment_tokens(l.split()) == model_bpe.encode(l.split()) for l in lines)
    print(f"subword-nmt: {len(theirs)} merges in {nmt_seconds:.2f} s; same merges, in order: "
          f"{theirs == model_bpe.merges}; same segmentation of every sentence: {same_pieces}")

# %% [markdown]
# `python -m minis2s train --data multi30k --arch transformer` learns 10,000 merges over both
# languages of the training sentences (the recipe's default; `--bpe N` asks for N, `--bpe 0`
# for words), stores them in the checkpoint and trains on the pieces; BLEU is always computed
# on the words `BPE.decode` glues back together. On this project's 2-core CPU, 60 minutes of
# training gave a test BLEU of 41.61 on pieces against 40.29 on words, one batch at a time
# (`benchmarks/RESULTS.md`; the recipe now splits each batch across the two cores, which gives
# 25% more steps in the hour and 41.30).

# %% [markdown]
# ## 8. Averaging the weights
#
# The $1/\sqrt t$ decay of (13.7) is slow: after an hour of Multi30k, some 8,000 steps, the
# learning rate is still half its peak. At that rate Adam does not settle into a minimum; each
# step follows its own batch's gradient, and the weights jitter around the minimum rather
# than sit in it. The jitter is in the weights themselves, so averaging them cancels much of
# it. Vaswani et al. average the last five checkpoints; the library keeps a moving average
# instead (Polyak averaging), updated after every step, with nothing to store and no choice of
# which checkpoints:
#
# $$
# \theta^{\text{avg}}_t = \xi_t\, \theta^{\text{avg}}_{t-1} + (1 - \xi_t)\, \theta_t, \qquad
# \xi_t = \min\!\left(\xi,\ \frac{1 + t}{10 + t}\right), \qquad \theta^{\text{avg}}_0 = \theta_0
# \tag{13.11}
# $$
#
# Early on $\xi_t \approx 1 - 9/t$: the average spans about the last tenth of the steps taken,
# so the random initialisation leaves it quickly; later it spans $1/(1 - \xi)$ steps (1,000 for
# the recipe's $\xi = 0.999$). Training goes on with $\theta_t$; validation, checkpoints and
# translation use $\theta^{\text{avg}}$. Adam on a noisy quadratic shows both, the iterate and
# its average, as distances from the minimum:

# %%
from minis2s.averaging import WeightAverage

target = rng.standard_normal(50)
theta = {"w": np.zeros(50)}
adam = optim.Adam(theta, lr=0.05)
average = WeightAverage(theta, decay=0.999)  # the Multi30k recipe's xi
for t in range(1, 3001):
    noisy_gradient = theta["w"] - target + rng.standard_normal(50)  # the gradient of 0.5|w - target|^2, plus noise
    adam.step({"w": noisy_gradient})
    average.update(theta, t)
    if t in (10, 100, 1000, 3000):
        print(f"step {t:5d}: |theta - minimum| = {np.linalg.norm(theta['w'] - target):.3f}, "
              f"|average - minimum| = {np.linalg.norm(average.params['w'] - target):.3f}")

# %% [markdown]
# The update is (13.11) rearranged so that it runs in place:

# %%
show(WeightAverage.update)

# %% [markdown]
# On Multi30k the jitter costs whole BLEU points: the mean of two checkpoints of a 30-minute
# run, 330 steps apart, scored 38.05 validation BLEU where the two alone scored 36.93 and
# 34.68 (perplexity 4.87 against 5.19 and 5.14). `train --data multi30k --arch transformer`
# averages with $\xi = 0.999$ (`--ema`, off by default elsewhere); its checkpoints hold the
# average in `params.npz`, which `translate`, `evaluate` and `export` read, and the trained
# weights beside the training state, which `--resume` continues from.

# %% [markdown]
# ## 9. Both cores: a batch split in two
#
# On a 2-core CPU one training step of this model keeps the second core busy only inside the
# matrix products. Everything element-wise (dropout, layer norm, the softmaxes, the loss,
# Adam) runs on one core, and the two BLAS threads that share each product wait for each other
# at its end, which costs most on the small products of a 256-wide model. `train --shards 2`
# splits each batch into two blocks of sentences and runs each block's forward and backward
# on its own core (a process of its own, with one BLAS thread), then adds the gradients.
#
# Is that sum the batch's gradient? The loss is the mean over the batch's $N$ real target
# tokens (2.10). Shard $k$ holds $N_k$ of them and $L_k$ is the mean over those, so
#
# $$
# L = \frac{1}{N} \sum_{(b, t)\,:\, M_{b,t} = 1} L_{b,t} = \sum_k \frac{N_k}{N} L_k, \qquad
# \frac{\partial L}{\partial \theta} = \sum_k \frac{N_k}{N} \frac{\partial L_k}{\partial \theta}
# \tag{13.12}
# $$
#
# Each shard's backward starts from $N_k / N$ instead of 1 (the `loss_weight` of
# `forward_backward`), and the gradients add. The weight is the share of the *tokens*, not 1/2:
# two halves of a batch's sentences rarely hold the same number of words. A float64 check on
# a small model, one stream against two shards:

# %%
from minis2s.data import make_batch
from minis2s.parallel import DataParallel
from minis2s.train import batch_to_device, real_rows

small64 = Transformer(TransformerConfig(11, 9, layers=2, d_model=16, heads=2, d_ff=24, dropout=0.0),
                      seed=0, dtype="float64")
pairs = [(rng.integers(4, 11, rng.integers(2, 8)).tolist(), rng.integers(4, 9, rng.integers(2, 8)).tolist())
         for _ in range(8)]
arrays = batch_to_device(make_batch(*zip(*pairs)), "float64")
loss_whole, _, _ = small64.forward_backward(*arrays, real_rows=real_rows(arrays.tgt_mask))
whole = {name: g.copy() for name, g in small64.grads.items()}
split = DataParallel(small64, 2)  # the parameters move into shared memory; a worker holds shard 1
loss_split, _, _ = split.forward_backward(*arrays, rng=None)
split.close()
worst = max(float(np.abs(small64.grads[n] - g).max() / np.abs(g).max()) for n, g in whole.items()
            if not n.endswith("_bk"))  # the key bias's gradient is 0 but for rounding (a softmax ignores shifts)
print(f"loss: one stream {float(loss_whole):.12f}, two shards {float(loss_split):.12f}; "
      f"largest relative difference of a gradient: {worst:.1e}")

# %% [markdown]
# Rounding only: the sums run in another order. Here the two shards ran one after the other,
# since this notebook gives BLAS one thread and the library runs side by side only as many
# shards as there are threads to give; the step is the same either way, dropout included
# (shard 1 draws its masks from a generator of its own). The split, the weights of (13.12) and
# the sum:

# %%
show(DataParallel.forward_backward)

# %% [markdown]
# On this project's two cores the Multi30k Transformer's step with two shards ran at 1.26x and
# 1.39x the speed of the same model in eager PyTorch, against 1.13x with one stream
# (`python benchmarks/speed.py transformer`, `benchmarks/RESULTS.md`). Threads instead of
# processes gained nothing: between NumPy calls they wait for each other's turn at Python's
# interpreter lock. The recurrent model gains nothing either: three quarters of its work is
# the readout, one large product that two BLAS threads already share well.

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 13](answers.md#lesson-13), to read after you have tried.
#
# **Q13.1.** Section 3 printed one causal pass and $T$ single steps giving the same
# log-probabilities. Why can a Transformer train on all target positions at once while a
# recurrent decoder cannot, and why does the same argument not make *decoding* parallel?
#
# **Q13.2.** In the table of section 3, how did attention's time and memory grow as $T$
# doubled, compared with the LSTM's? What is stored that makes it so, and where does that
# leave a Transformer on sequences of thousands of tokens?
#
# **Q13.3.** The first Adam step moved every weight by about the learning rate, whatever
# its gradient. Why is that a danger for a freshly initialised Transformer, and how do the
# warm-up of (13.7) and $\beta_2 = 0.98$ each help? At the other end of training (section
# 8), how far from the minimum did Adam's iterate stay after 3,000 steps, and its average (13.11)?
# Why does the average get closer?
#
# **Q13.4.** A catalogued mistake of the exercise merges by replacing the text `"e s"` in
# the word written with spaces. Which word of the grader's cases does that break, and why
# does walking the tuple of symbols not have the problem?

# %% [markdown]
# ## Summary
#
# - The Transformer is lesson 12's layers in two stacks: scaled embeddings plus positions
#   (13.1), $L$ encoder layers (13.2), $L$ decoder layers reading the memory (13.3), a
#   readout tied to the embedding table (13.4).
# - Backward: the memory sums the gradients of every cross-attention that reads it (13.5),
#   a shared table those of every place it is read (13.6); the whole model passes a float64
#   gradient check.
# - With teacher forcing one causal pass gives every position's loss: training is parallel
#   over time, at the price of $T^2$ scores per layer and head.
# - Adam with $\beta_2 = 0.98$, a linear warm-up then $1/\sqrt s$ decay (13.7), and label
#   smoothing are the paper's recipe; warm-up keeps Adam's full-size first steps small.
# - Decoding caches each layer's keys and values (13.8): the same outputs, $O(t)$ per step.
# - BPE counts adjacent pairs weighted by word frequency (13.9) and merges the most frequent
#   (13.10); replaying the merges segments any word.
# - A moving average of the weights (13.11) removes the jitter a slowly decaying learning rate
#   leaves in them; validation, checkpoints and translation use it.
# - A batch split into shards, each weighted by its share of the tokens (13.12), has the
#   batch's gradient; on two cores the Transformer trains 1.26-1.39x as fast as PyTorch's.
#
# **Next:** the Transformer on Multi30k: `python -m minis2s train --data multi30k --arch
# transformer`, against the recurrent model of lesson 10.
