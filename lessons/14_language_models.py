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
# # Lesson 14 — Language models and text generation
#
# **What you will learn**
#
# - a language model is lesson 06's decoder without a source: the chain rule of
#   probability turns "how likely is this text" into next-token predictions, trained with
#   the cross-entropy you already have (eq. 14.1–14.2);
# - perplexity as the exponential of the mean per-token loss, and what the number means
#   (eq. 14.3, lesson 10's eq. 10.12 read for a text) — you will compute it for a padded batch;
# - training on one long stream: rows of the stream, windows of $T$ tokens, the state carried
#   from window to window but its gradient cut — what that loses and why it is fine
#   (eq. 14.4–14.5);
# - a small LSTM language model trained on Multi30k's English side in a few seconds, its
#   perplexity falling;
# - generating text: why greedy (and beam) text is dull and repetitive, measured; sampling
#   with a temperature, top-$k$ and nucleus (top-$p$) filtering (eq. 14.6–14.9) — you will
#   write the nucleus filter.
#
# Shapes: B batch (rows of the stream), T window length, D embedding size, H hidden size,
# $|\mathcal V|$ the vocabulary size (`V` in code).
#
# **Notation.** The text is $x_1 \ldots x_N$, one token id each; $x_{<t}$ is
# $x_1 \ldots x_{t-1}$.
#
# | symbol | meaning | in the code |
# |---|---|---|
# | $x_t$, $N$ | token $t$ of the text; the number of predicted tokens | `x`, `n_tokens` |
# | $M_t$ | the mask: 1 on a real position, 0 on padding | `mask` |
# | $\text{PPL}$ | the perplexity (eq. 10.12) | `perplexity`, `ppl` |
# | $h^{(j)}_0$, $h^{(j)}_T$ | the state window $j$ starts from and ends in | `state`, `final` |
# | $\operatorname{sg}$ | stop-gradient: the value passes, its gradient does not | the dropped `dh0` |
# | $\vartheta$ | the sampling temperature | `temperature` |
# | $p_{(1)} \ge p_{(2)} \ge \ldots$ | a row's probabilities sorted from the most likely down | `sorted_p` |
# | $\mathcal K$ | the tokens kept by top-$k$ or the nucleus | `p > 0` after `filtered_probs` |
# | $p_{\text{top}}$ | the mass the nucleus must reach | `top_p` |
# | $U$ | a uniform draw in $[0, 1)$ | `u` |

# %%
import os

# Lessons 06-14 train models on the CPU. Their matrices are small, so BLAS worker threads
# barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
# a core slow every product down many times over -- lesson 11 measures it. This must run
# before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from course import FAST, show

# %%
from minis2s import backend as B
from minis2s import decode, metrics
from minis2s.data.lm import join_stream, stream_rows, stream_windows
from minis2s.data.vocab import Vocab
from minis2s.exercises import check, references
from minis2s.models.lm import LanguageModel, LMConfig, layers_backward

# %% [markdown]
# ## 1. A decoder without a source
#
# Lesson 06's decoder predicts the next target word from the words before it *and* the
# source sentence. Take the source away and what is left predicts the next word from the
# words before it alone: a **language model**. "Deep Learning from Scratch 2" teaches it
# before seq2seq for that reason — the translator's decoder is a language model that also
# listens to an encoder. Everything it needs is already in the library: the embedding
# (lesson 02), the recurrent cells (03–05), the readout and the masked cross-entropy (02, 06).
#
# Why predicting the next token is enough: by the **chain rule of probability** the
# probability of any text factors into next-token probabilities, each conditioned on what
# came before, exactly and with no assumption:
#
# $$
# P(x_1, \ldots, x_N) = \prod_{t=1}^{N} P(x_t \mid x_{<t})
# \tag{14.1}
# $$
#
# The model gives each factor as a softmax over the vocabulary, read from its state after
# $x_{<t}$. Training maximises the log of (14.1) for the training text, i.e. minimises the
# mean next-token cross-entropy over the real positions (lesson 02's eq. 2.10 with the
# target $y_t = x_{t+1}$, the input shifted by one):
#
# $$
# L = -\frac{1}{N} \sum_{t} M_t \log p_\theta(x_{t+1} \mid x_{\le t}), \qquad N = \sum_t M_t
# \tag{14.2}
# $$
#
# The data: Multi30k's English side, found as lesson 10 finds it (`$MINIS2S_DATA`, then
# `~/.cache/minis2s/multi30k`; lesson 10 says how to download it). Without it the lesson
# runs on a few built-in sentences — it still runs to the end, but its numbers mean little.

# %%
from minis2s.data.multi30k import file_name, find_data_dir
from minis2s.errors import DataError

from course import SAMPLE_CAPTIONS as SAMPLE

try:
    root = find_data_dir(langs=("en",))
    train_text = (root / file_name("train", "en")).read_text(encoding="utf-8").splitlines()
    val_text = (root / file_name("val", "en")).read_text(encoding="utf-8").splitlines()
    train_text, val_text = train_text[: 3000 if FAST else 29000], val_text[: 300 if FAST else 1014]
    MIN_FREQ, FOUND = 2, True
    print(f"Multi30k (English) from {root}")
except DataError as err:
    train_text, val_text, MIN_FREQ, FOUND = SAMPLE[:8], SAMPLE[8:], 1, False
    print(f"Multi30k is not here ({err}).\nUsing the built-in sample of {len(SAMPLE)} sentences.")
train = [line.split() for line in train_text if line.strip()]
val = [line.split() for line in val_text if line.strip()]
vocab = Vocab.build(train, min_freq=MIN_FREQ)
print(f"{len(train):,} training sentences, {len(val):,} held out; |V| = {len(vocab):,} "
      f"(words seen at least {MIN_FREQ} times, the rest <unk>)")

# %% [markdown]
# A fresh model knows nothing, so every factor of (14.1) should be about $1/|\mathcal V|$
# and the loss (14.2) about $\log |\mathcal V|$. Its exponential is lesson 10's
# **perplexity** (eq. 10.12), read here for a text instead of a translation:
#
# $$
# \text{PPL} = \exp(L) = P(x_1, \ldots, x_N)^{-1/N}
# \tag{14.3}
# $$
#
# the inverse of the geometric mean of the next-token probabilities: a model that spreads its
# probability uniformly has perplexity $|\mathcal V|$, a model that always puts all its mass on
# the right token has perplexity 1. It reads as "the model is as unsure as if it chose among
# PPL equally likely words". `lm_loss_and_ppl` reads held-out text as the model is trained to,
# in windows with the state carried across (section 2), and returns both numbers:

# %%
from minis2s.tasks import lm_loss_and_ppl

SIZES = {"cell": "lstm", "emb": 32, "hidden": 64} if FAST else {"cell": "lstm", "emb": 64, "hidden": 128}
model = LanguageModel(LMConfig(vocab=len(vocab), **SIZES), seed=0)
fresh = lm_loss_and_ppl(model, vocab, val, "stream", 32, 20)
print(f"a fresh model ({model.n_params:,} parameters): loss {fresh['loss']:.3f} nats per token, "
      f"log|V| = {np.log(len(vocab)):.3f}; perplexity {fresh['ppl']:.0f}, |V| = {len(vocab)}")

# %% [markdown]
# ### Exercise: `masked_perplexity`
#
# Before the library's version: the perplexity (14.3) of a padded batch from its per-token
# losses. A readout computes a loss at *every* position, padding included, so what it hands
# you is a $(B, T)$ array with numbers where there is no token, and rows of different
# lengths. The grader compares your number with `metrics.perplexity` on three batches, each
# with a full row and a row of a single token. Watch for what $N$ in (14.2) counts.
#
# The cell below holds the stub from `minis2s.exercises.stubs`; fill it in and run it.


# %%
def masked_perplexity(token_nll, mask):
    """Perplexity of a padded batch from its per-token losses (lesson 14, eq. 14.3).

    token_nll: (B, T) the negative log-likelihood -log p(x_{t+1} | x_<=t) of every position,
        natural log; padded positions hold whatever the model computed there (not 0).
    mask: (B, T) 1.0 on real tokens, 0.0 on padding; rows have different lengths.
    Returns the perplexity, a Python float: exp of the mean loss per real token (eq. 14.2-14.3).
    """
    raise NotImplementedError(
        "write the sum first: the total loss of the real tokens, (token_nll * mask).sum(), and "
        "their number, mask.sum()"
    )


report = check(masked_perplexity)

# %% [markdown]
# The reference, graded the same way:

# %%
report = check(references.masked_perplexity)

# %% [markdown]
# The library's function takes the summed loss and the count, never a mean: the training loop
# adds both up over many batches of different sizes and divides once, at the end — a mean of
# batch means would weigh a short batch's tokens more than a long one's.

# %%
show(metrics.perplexity)

# %% [markdown]
# ## 2. One stream, windows, and a state carried but cut
#
# Sentences could be trained one by one, each from a zero state, as a translator's targets
# are. But a text is a stream: what came before the sentence helps predict it. So the corpus
# becomes one stream, each sentence followed by `<eos>` (which then also means "a sentence
# starts here"), and the pairs $(x_t, x_{t+1})$ are laid out as $B$ parallel rows, each a
# contiguous piece of the stream, cut into windows of $T$ columns. With $n = \lceil N / B
# \rceil$ pairs per row, window $j = 0, 1, \ldots$ holds
#
# $$
# \text{row } b,\ \text{column } c \text{ of window } j \;=\; \text{pair } b\,n + jT + c,
# \qquad 0 \le c < T
# \tag{14.4}
# $$
#
# (the last row ends in padding, masked). Window $j + 1$ of a row continues exactly where
# window $j$ ended, so its state should be where window $j$ left it. We **carry the value
# but cut the gradient**:
#
# $$
# h^{(j+1)}_0 = \operatorname{sg}\!\left(h^{(j)}_T\right), \qquad
# \frac{\partial L_{j+1}}{\partial \theta} \text{ computed through window } j+1 \text{ only}
# \tag{14.5}
# $$
#
# where $\operatorname{sg}$ passes its argument forward unchanged and has zero gradient.
# This is lesson 03's truncated BPTT (eq. 3.14) applied to a stream. The forward is exact: a
# window started from the carried state computes the same numbers as one pass over the whole
# row would. What is lost is credit assignment: a gradient never tells the weights of window
# $j$ how they should have shaped $h^{(j)}_T$ to help predictions in window $j + 1$, so the
# model is never *trained* to keep information longer than about $T$ steps (it may still
# *use* it). It is fine because (a) those far-back gradients are the ones lessons 03–04
# measured shrinking geometrically anyway, (b) memory and time per step stay $O(T)$ however
# long the text — backpropagating through a whole row, thousands of tokens, would keep every
# window's cache alive until the row ends — and (c) Multi30k sentences are about 13 words,
# so a window of 20 spans a sentence and its neighbour.
#
# A small stream to see (14.4) at work: three sentences, two rows, windows of 4.

# %%
def word(i):
    return vocab.decode([int(i)], strip_specials=False)[0]


tiny = join_stream([vocab.encode(s.split()) for s in ("a dog runs .", "two men sit .", "a girl smiles .")])
print("stream:", " ".join(vocab.decode(tiny, strip_specials=False)))
for j, w in enumerate(stream_windows(tiny, 2, 4)):
    print(f"window {j} (carry={w.carry}):")
    for b in range(w.x.shape[0]):
        words = [f"{word(i)}->{word(k)}" if m else "pad" for i, k, m in zip(w.x[b], w.y[b], w.mask[b])]
        print(f"   row {b}: " + "  ".join(words))

# %% [markdown]
# The forward really is exact: the held-out stream's loss with windows of 20 and the state
# carried equals one pass over each whole row; started from zeros in every window, the
# model forgets the context at every cut and does worse (the fresh model barely uses
# context, so the difference shows after training, below).


# %%
def stream_nll(model, sentences, bptt, carry=True, rows=32):
    """Summed NLL and token count of held-out text, in windows of ``bptt`` (eq. 14.4)."""
    total, n, state = 0.0, 0, None
    for w in stream_windows(join_stream([vocab.encode(s) for s in sentences]), rows, bptt):
        x, y, mask = B.to_device(w.x), B.to_device(w.y), B.to_device(w.mask, model.dtype)
        (_, nll, k), state = model.forward_backward(x, y, mask, state if carry and w.carry else None,
                                                    train=False, backward=False)
        total, n = total + B.to_float(nll), n + int(B.to_float(k))
    return total, n


def compare_windows(model):
    whole, n = stream_nll(model, val, bptt=10**6)
    carried, _ = stream_nll(model, val, bptt=20)
    reset, _ = stream_nll(model, val, bptt=20, carry=False)
    print(f"per-token loss: one pass per row {whole / n:.5f}, windows of 20 carried {carried / n:.5f}, "
          f"windows of 20 from zeros {reset / n:.5f}")


compare_windows(model)

# %% [markdown]
# The library's side of (14.4) and (14.5): the rows and windows, and the backward that
# drops the gradient of the initial state.

# %%
show(stream_rows, stream_windows, layers_backward)

# %% [markdown]
# ## 3. Training
#
# The loop is lesson 06's, on windows: the state that comes back from one window goes into
# the next when the window says `carry`, Adam (lesson 07) with gradient clipping (eq. 3.12).
# `python -m minis2s train --task lm --data multi30k --lang en` runs the same model through
# the full trainer, with checkpoints and logs.

# %%
from minis2s.data.lm import StreamBatcher
from minis2s.functional.clip import clip_grad_norm
from minis2s.optim import Adam

EPOCHS, BPTT, ROWS = 2, 20, 32  # fast mode trains on fewer sentences, not fewer epochs
batcher = StreamBatcher(join_stream([vocab.encode(s) for s in train]), ROWS, BPTT)
if not FOUND:  # the built-in sample is one window: more epochs, to see something learned
    EPOCHS = 30
opt = Adam(model.params, lr=1e-2 if FAST else 5e-3)
every = max(1, EPOCHS * batcher.batches_per_epoch() // 6)
history, state, step, run_nll, run_n = [(0, None, fresh["ppl"])], None, 0, 0.0, 0
start = time.perf_counter()
print(f"{batcher.batches_per_epoch()} windows of {ROWS} x {BPTT} per epoch")
print(" step | train PPL | held-out PPL")
for epoch in range(EPOCHS):
    while (w := batcher.next_batch()) is not None:
        x, y, mask = B.to_device(w.x), B.to_device(w.y), B.to_device(w.mask, model.dtype)
        (loss, nll, k), state = model.forward_backward(x, y, mask, state if w.carry else None)
        clip_grad_norm(model.grads, 1.0)
        opt.step(model.grads)
        step, run_nll, run_n = step + 1, run_nll + B.to_float(nll), run_n + int(B.to_float(k))
        if step % every == 0:
            held_out = lm_loss_and_ppl(model, vocab, val, "stream", 32, 20)["ppl"]
            history.append((step, metrics.perplexity(run_nll, run_n), held_out))
            print(f"{step:5d} | {history[-1][1]:9.1f} | {held_out:12.1f}")
            run_nll, run_n = 0.0, 0
print(f"{step} steps in {time.perf_counter() - start:.1f} s")

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot([h[0] for h in history[1:]], [h[1] for h in history[1:]], label="training (running)")
ax.plot([h[0] for h in history], [h[2] for h in history], "o-", label="held-out")
ax.set_yscale("log")
ax.set_xlabel("step")
ax.set_ylabel("perplexity")
ax.legend()
plt.show()

# %% [markdown]
# From $|\mathcal V|$ to a few dozen: the model now hesitates between tens of words where it
# hesitated between all of them. Fast mode stops at 3,000 sentences and two epochs; the full
# run (all 29,000 sentences, $H = 128$, two epochs: 1,272 steps, 89 s of training on a shared
# CPU, 2026-11-30) reached a held-out perplexity of 29.3 over $|\mathcal V| = 5{,}921$ words.
# And now the carried state matters:

# %%
compare_windows(model)

# %% [markdown]
# ## 4. Generating text
#
# A language model writes by running (14.1) forwards: pick $x_{t+1}$ from
# $p_\theta(\cdot \mid x_{\le t})$, feed it back, repeat — the decoders of lessons 06 and 10
# with no source. The model reads a *context* first (here a held-out sentence and its
# `<eos>`), then writes the next 60 tokens; we do not stop at `<eos>`, so several sentences
# come out, as in the stream it was trained on.
#
# **Greedy is dull.** Greedy search (eq. 6.10) and beam search look for the *most probable*
# continuation. For a translator that is what we want: there is one source to render. For
# free text the most probable continuation is a bland, safe sentence — and once the model is
# back in a state it has been in, the argmax takes it down the same path again, so the text
# loops. We measure it as the share of a text's 3-grams that already occurred earlier in the
# same text, $1 - \text{distinct-3}$ (`metrics.distinct_n`).

# %%
contexts = [[Vocab.eos_id] + vocab.encode(s) for s in val[:20]]
width = max(map(len, contexts))
ctx = np.zeros((len(contexts), width), dtype=np.int64)
ctx_mask = np.zeros((len(contexts), width))
for i, c in enumerate(contexts):
    ctx[i, : len(c)], ctx_mask[i, : len(c)] = c, 1.0
ctx, ctx_mask = B.to_device(ctx), B.to_device(ctx_mask, model.dtype)
NO_STOP, LENGTH = -1, 60  # an id no model emits: the texts run for LENGTH tokens, across <eos>


def repeated_3grams(texts):
    """Mean over texts of the share of 3-grams already seen earlier in the same text."""
    return float(np.mean([1.0 - metrics.distinct_n([t], 3) for t in texts]))


def show_text(ids, n=30):
    return " ".join(vocab.decode(ids[:n], strip_specials=False)) + " ..."


greedy_out = decode.greedy(model, ctx, ctx_mask, Vocab.eos_id, NO_STOP, max_len=LENGTH)
print("context:", " ".join(val[0]))
print("greedy: ", show_text(greedy_out.ids[0]))
print(f"\nrepeated 3-grams, greedy: {repeated_3grams(greedy_out.ids):.1%} of the 3-grams of a text")

# %% [markdown]
# **Sampling** draws the next token instead of taking the argmax. Drawn from the model's
# own distribution the text is as varied as the model has learned language to be — and
# every unlikely word the model gives a little mass to comes out now and then. Three knobs
# trade one for the other. The **temperature** $\vartheta > 0$ divides the log-probabilities
# before the softmax (lesson 02's eq. 2.5 on the scaled logits):
#
# $$
# p_\vartheta(v) = \frac{\exp\bigl(\log p(v) / \vartheta\bigr)}{\sum_{u} \exp\bigl(\log p(u) / \vartheta\bigr)}
# = \frac{p(v)^{1/\vartheta}}{\sum_u p(u)^{1/\vartheta}}
# \tag{14.6}
# $$
#
# $\vartheta = 1$ is the model; $\vartheta < 1$ sharpens it (as $\vartheta \to 0$ all the mass
# goes to the argmax: greedy); $\vartheta > 1$ flattens it toward uniform. **Top-$k$** keeps
# only the $k$ most likely tokens (a token tied with the $k$-th is kept too) and renormalises:
#
# $$
# \mathcal K = \{v : p(v) \ge p_{(k)}\}, \qquad
# \tilde p(v) = \frac{p(v)\,[v \in \mathcal K]}{\sum_{u \in \mathcal K} p(u)}
# \tag{14.7}
# $$
#
# A fixed $k$ is too many where the model is sure (one word fits) and too few where it is not
# (any of fifty nouns fits). The **nucleus** (top-$p$, Holtzman et al., 2020) adapts: keep
# the smallest set of most likely tokens whose mass reaches $p_{\text{top}}$ — the token that
# brings the mass to $p_{\text{top}}$ is in, the top token always is, and a token tied with the
# last one kept is kept too — and renormalise as in (14.7):
#
# $$
# n^{*} = \min\Bigl\{n : \sum_{j=1}^{n} p_{(j)} \ge p_{\text{top}}\Bigr\}, \qquad
# \mathcal K = \{v : p(v) \ge p_{(n^{*})}\}
# \tag{14.8}
# $$
#
# Then one uniform draw $U$ per row picks the token where the cumulative kept mass first
# exceeds it — inverse-CDF sampling, so the same seed gives the same text:
#
# $$
# x_{t+1} = \min\Bigl\{v : \sum_{u \le v} \tilde p(u) > U\Bigr\}, \qquad U \sim \mathcal U[0, 1)
# \tag{14.9}
# $$
#
# What the knobs do to one next-token distribution of the trained model, after the context
# "a man in a" (on a small slice of the corpus the top token may well be `<unk>`: all the
# rare words together):

# %%
from minis2s.functional.activations import log_softmax

prompt = B.to_device(np.array([[Vocab.eos_id] + vocab.encode(["a", "man", "in", "a"])], dtype=np.int64))
memory, states = model.encode(prompt[:, :-1], B.to_device(np.ones((1, prompt.shape[1] - 1)), model.dtype))
logp, _, _ = model.decode_step(memory, states, prompt[:, -1])
logp = B.to_host(logp).astype("float64")
print("temperature | top token, its p | entropy (nats) | tokens in the 0.9 nucleus")
for theta in (0.5, 1.0, 2.0):
    p = np.exp(log_softmax(logp / theta, axis=-1))[0]
    n_nucleus = int((np.cumsum(np.sort(p)[::-1]) < 0.9).sum() + 1)
    print(f"{theta:11.1f} | {word(p.argmax()):>9s} {p.max():.3f} | {-(p * np.log(p)).sum():14.2f} | "
          f"{n_nucleus:5d}")

# %% [markdown]
# ### Exercise: `top_p_filter`
#
# Before the library's version: write the nucleus filter (14.8) on a batch of scaled
# log-probabilities (already divided by $\vartheta$, so not normalised). The grader runs it on
# three batches — random rows, a row whose top token alone holds more than $p_{\text{top}}$,
# and a row whose nucleus ends on one of two tokens of exactly equal probability — and
# compares your probabilities with the library's `decode.filtered_probs`, renormalised.
# Watch for: where exactly the nucleus stops (the token that *reaches* $p_{\text{top}}$ is in),
# ties, the sort's direction, and the rows summing to 1.
#
# The cell below holds the stub from `minis2s.exercises.stubs`. Replace the
# `raise NotImplementedError(...)` with your code and run the cell: `check` runs your
# function and the library's on the same inputs and compares what they return; where they
# differ it says which output and where, and it names the mistake when it is a common one.


# %%
def top_p_filter(scaled_logp, top_p):
    """Nucleus (top-p) filtering of one step's next-token distribution (lesson 14, eq. 14.8).

    scaled_logp: (B, V) log-probabilities already divided by the temperature (eq. 14.6), so
        each row is a softmax's logits, not yet normalised.
    top_p: the mass the nucleus must reach, 0 < top_p <= 1.
    Per row: the probabilities p = softmax(scaled_logp); sorted from the most likely down,
    p_(1) >= p_(2) >= ..., the nucleus is the smallest n whose mass p_(1) + ... + p_(n)
    reaches top_p (the top token is always kept); keep every token at least as likely as
    p_(n) -- a token tied with p_(n) is kept too -- and set the others to 0.
    Returns (B, V): the kept probabilities renormalised to sum to 1 in every row.
    """
    raise NotImplementedError(
        "write the softmax first, p = exp(scaled_logp - row max) / its sum, then sort each row "
        "from the most likely down and take the cumulative sum"
    )


report = check(top_p_filter)

# %% [markdown]
# The reference, graded the same way; this is what a pass looks like:

# %%
report = check(references.top_p_filter)

# %% [markdown]
# The library's filter and the sampler that calls it. `filtered_probs` skips the
# normalisation of the softmax — the threshold of (14.8) is a ratio, unchanged by it — and
# the sampler's inverse-CDF draw (14.9) multiplies $U$ by the kept mass instead of dividing
# every probability by it.

# %%
show(decode.filtered_probs, decode.sample)

# %% [markdown]
# Now the same 20 contexts continued six ways, all with seed 0. For each: the first text,
# the repeated 3-grams, the share of distinct 2-grams over all 20 texts (how varied the
# outputs are, together), and the mean log-probability per token the model gives its own
# text — high means "safe".

# %%
settings = [("greedy", {}), ("sample, temperature 0.7", {"temperature": 0.7}),
            ("sample, temperature 1.0", {"temperature": 1.0}), ("sample, temperature 1.5", {"temperature": 1.5}),
            ("top-k 10", {"top_k": 10}), ("top-p 0.9", {"top_p": 0.9})]
rows = []
for name, options in settings:
    if name == "greedy":
        out = greedy_out
    else:
        out = decode.sample(model, ctx, ctx_mask, Vocab.eos_id, NO_STOP, B.DeviceRNG(0), max_len=LENGTH, **options)
    rows.append((name, repeated_3grams(out.ids), metrics.distinct_n(out.ids, 2),
                 float(np.mean(out.scores)) / LENGTH))
    print(f"{name}:\n   {show_text(out.ids[0])}")
print("\n                        | repeated 3-grams | distinct 2-grams | log p per token")
for name, rep, dist, lp in rows:
    print(f"{name:23s} | {rep:16.1%} | {dist:16.1%} | {lp:15.2f}")

# %% [markdown]
# Read the table from top to bottom. Greedy text has the highest log-probability per token
# and repeats itself most: most of its 3-grams are copies. Sampling at $\vartheta = 1$ rarely
# repeats a 3-gram, but every word of low probability it draws shows (its log-probability per
# token is far below greedy's); $\vartheta = 1.5$ is worse still — the flattened tail is
# mostly nonsense. $\vartheta = 0.7$, top-$k$ and the nucleus sit between: varied text made
# of likelier words. Which is best is a matter of taste and of the model; the nucleus is a
# common default because it cuts the tail only where the model has a tail.
#
# From the command line, on a model trained by `train --task lm`:
#
# ```bash
# python -m minis2s generate --checkpoint runs/lm --prompt "a man" --num 5 --top-p 0.9 --seed 0
# ```

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 14](answers.md#lesson-14), to read after you have tried.
#
# **Q14.1.** Training carries each window's final state into the next window but cuts its
# gradient (14.5). What would go wrong if the state were *not* carried (every window from
# zeros), and what if the gradient were *not* cut? Use the losses section 2 printed.
#
# **Q14.2.** What does sampling with (14.6) become as $\vartheta \to 0$, and as
# $\vartheta \to \infty$? Relate both limits to the table of section 4.
#
# **Q14.3.** Why does a model that gives every token probability $1/|\mathcal V|$ have
# perplexity exactly $|\mathcal V|$, and why was the fresh model's perplexity in section 1
# close to it but not equal?

# %% [markdown]
# ## Summary
#
# - A language model is a decoder without a source: the chain rule (14.1) makes next-token
#   prediction a complete model of text, trained with the masked cross-entropy (14.2).
# - Perplexity is the exponential of the mean per-token loss (14.3, lesson 10's 10.12): the
#   inverse geometric mean of the next-token probabilities, $|\mathcal V|$ for a uniform model.
# - A corpus is one stream in $B$ rows cut into windows of $T$ (14.4); each window starts from
#   the previous one's final state, carried as a constant (14.5): exact forward, $O(T)$ memory,
#   no training signal for dependencies longer than a window.
# - Greedy text is the most probable and loops; sampling with a temperature (14.6), top-$k$
#   (14.7) or the nucleus (14.8), drawn by inverse CDF (14.9), trades probability for variety.
#
# **Next:** train a larger one with `python -m minis2s train --task lm --data multi30k --lang
# en`, and write with `python -m minis2s generate`.
