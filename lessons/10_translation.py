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
# # Lesson 10 — Translating German to English
#
# **What you will learn**
#
# - a real corpus, Multi30k: its sentences, vocabularies and unknown words;
# - batching by length buckets, and how much padding it saves (eq. 10.1);
# - training a small attentive translator in a few seconds of CPU time;
# - greedy search versus beam search, and the GNMT length penalty (eq. 10.2–10.4, 10.5–10.6);
# - BLEU, computed by hand and checked against sacrebleu (eq. 10.7–10.11); perplexity
#   (eq. 10.12); ROUGE-L, checked against rouge-score (eq. 10.13–10.14).
#
# **The data.** Multi30k (Elliott et al., 2016) pairs English descriptions of Flickr
# images with German and French translations: 29,000 training, 1,014 validation and 1,000
# test sentences, already tokenized and lower-cased. minis2s looks for it in
# `--data-dir`, then `$MINIS2S_DATA`, then `~/.cache/minis2s/multi30k`. To download it
# (about 6 MB; each file is checked against its SHA-256 before it is kept):
#
# ```bash
# python -m minis2s data multi30k --data-dir ~/.cache/minis2s/multi30k
# ```
#
# If the data is not there, this notebook says so and skips the cells that need it; the
# rest — beam search, BLEU, perplexity — still runs.

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

# %%
from minis2s.data.multi30k import find_data_dir
from minis2s.errors import DataError

try:
    DATA = find_data_dir()
except DataError as err:
    DATA = None
    print(f"Multi30k is not available here.\n{err}")
    print("Then restart the kernel. Until then the cells that need the corpus are skipped.")
else:
    print("Multi30k found in", DATA)
SKIPPED = "(skipped: this cell needs Multi30k -- see the first cell)"

# %% [markdown]
# ## 1. The corpus
#
# Word-level vocabularies are built from the training split; a word seen fewer than
# `min_freq` times becomes `<unk>`. A vocabulary is a trade-off: each extra word is
# another row of the output layer, whose cost grows linearly with $|\mathcal V|$ (lesson 11), while
# every `<unk>` in a reference is a word the model can never produce. In fast mode we keep
# the 3,000 most frequent words on each side.

# %%
from minis2s.tasks import translation_task

if DATA is None:
    print(SKIPPED)
else:
    task = translation_task(DATA, "de", "en", min_freq=2, max_size=3000 if FAST else None)
    print(f"train {len(task.train):,} pairs, validation {len(task.val):,}, test {len(task.test):,}")
    print(f"vocabularies: German {len(task.src_vocab):,} words, English {len(task.tgt_vocab):,}")
    for src, tgt in task.val[:3]:
        print(f"  de: {' '.join(src)}\n  en: {' '.join(tgt)}")
    src_lengths = np.array([len(s) for s, _ in task.train])
    unk = sum(i == task.src_vocab.unk_id for s, _ in task.train for i in s) / src_lengths.sum()
    print(f"German sentence length: mean {src_lengths.mean():.1f}, 95th percentile "
          f"{np.percentile(src_lengths, 95):.0f}, max {src_lengths.max()}; <unk> share of training tokens {unk:.1%}")

# %% [markdown]
# ## 2. Batching by length
#
# A batch is padded to its longest sentence, and the model spends time on every padded
# position (the loss and attention ignore them, but the matrix products do not). Over an
# epoch, with $B_k$ sentences in batch $k$, $T_k$ its longest length and $\lvert x_i \rvert$ the real
# lengths, the wasted share is
#
# $$
# \text{padding share} = \frac{\sum_k \bigl(B_k T_k - \sum_{i \in k} \lvert x_i \rvert\bigr)}{\sum_k B_k T_k}
# \tag{10.1}
# $$
#
# (counted over sources and targets together). Random batches mix short and long
# sentences. `Batcher` **buckets**: it shuffles, cuts the data into chunks of 100
# batches, sorts each chunk by length, cuts it into batches, and shuffles the order of the
# batches — similar lengths within a batch, random order across batches:

# %%
from minis2s.data import Batcher

show(Batcher.plan)
if DATA is None:
    print(SKIPPED)
else:
    for bucket in (False, True):
        batcher = Batcher(task.train, batch_size=64, bucket=bucket, seed=0)
        print(f"bucket={bucket!s:5s}  padding share over an epoch: {batcher.padding_share:.1%}")

# %% [markdown]
# ## 3. A small translator, trained for seconds
#
# The reference recipe (section 8) is a bidirectional LSTM of 256 units per direction
# trained for an hour. Here, in fast mode, a bidirectional GRU of 128 units with additive
# attention trains for 25 seconds on the sentences of at most 14 words (about two thirds
# of the corpus); without fast mode, for three minutes on all of it. It will translate
# simple captions and make plenty of mistakes — enough to compare decoders and compute
# BLEU on real output.

# %%
import pathlib
import tempfile

from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.tasks import translation_evaluator
from minis2s.train import TrainConfig, Trainer

RUNS = pathlib.Path(tempfile.mkdtemp(prefix="minis2s-lesson09-"))
if DATA is None:
    print(SKIPPED)
else:
    train_pairs = [p for p in task.train if len(p[0]) <= 14 and len(p[1]) <= 14] if FAST else task.train
    cfg = Seq2SeqConfig(src_vocab=len(task.src_vocab), tgt_vocab=len(task.tgt_vocab), cell="gru", emb=64,
                        hidden=128, bidirectional=True, attention="additive")
    model = Seq2Seq(cfg, seed=0)
    tc = TrainConfig(minutes=25 / 60 if FAST else 3.0, batch_size=64, lr=3e-3, eval_every=100 if FAST else 500,
                     metric="bleu", higher_is_better=True)
    trainer = Trainer(model, Batcher(train_pairs, tc.batch_size, seed=0), tc, RUNS / "m30k",
                      vocab=task.vocab_json(), extra_config={"tokenizers": task.tokenizer_json()},
                      evaluate=translation_evaluator(task, task.val[:100]), quiet=True)
    summary = trainer.fit()
    print(f"{model.n_params:,} parameters, {len(train_pairs):,} training pairs")
    print({k: summary[k] for k in ("steps", "epochs", "train_seconds", "tokens_per_s")})
    for record in trainer.state.history:
        print(f"step {record['step']:5d}  validation BLEU {record['val_bleu']:5.2f}  perplexity {record['val_ppl']:7.2f}")

# %%
from minis2s import plots
from minis2s.inference import Translator

if DATA is None:
    print(SKIPPED)
else:
    fig, ax = plt.subplots(figsize=(7, 4))
    plots.loss_curves(RUNS / "m30k", ax=ax)
    ax.set_title("Multi30k de->en, a small model")
    plt.show()
    translator = Translator.load(RUNS / "m30k")  # raw text in: tokenized like the corpus, then translated
    for line in ["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Schnee.", "Eine Frau singt auf einer Bühne."]:
        print(f"{line:35s} -> {translator.translate([line], warn=None)[0]}")

# %% [markdown]
# Expect the mistakes of a model trained for seconds: `<unk>` where a word is outside its
# vocabulary or still too rare for it, common captions ("a man is standing") where the
# source says something rarer, and repetitions — the decoder attends to the same source
# words again and nothing tells it they were already translated.
#
# ## 4. Greedy search and beam search
#
# Greedy decoding (eq. 6.10) takes the best token at every step. The best *sequence*
# maximises the sum of the log-probabilities,
#
# $$
# \log P(y_{1:t} \mid x) = \sum_{i=1}^{t} \log p(y_i \mid y_{<i}, x)
# \tag{10.2}
# $$
#
# and a token that looks best now can force a poor continuation. Searching all $|\mathcal V|^T$
# sequences is out of the question; **beam search** keeps the $k$ best partial hypotheses
# (the *beam*) instead of one. A hypothesis is written $\hat y$, as the model's output is in
# (6.10); $y$ is a target token, and a reference. At each step every hypothesis $\hat y$ is
# extended by every token $y \in \mathcal V$,
#
# $$
# \log P(\hat y\,y \mid x) = \log P(\hat y \mid x) + \log p(y \mid \hat y, x)
# \tag{10.3}
# $$
#
# and of the $k \cdot |\mathcal V|$ candidates the $k$ best survive:
#
# $$
# \text{beam}_{t} = \operatorname{top-}k \bigl\{\, \hat y\,y : \hat y \in \text{beam}_{t-1},\ y \in \mathcal V \,\bigr\}
# \quad \text{by (10.3)}
# \tag{10.4}
# $$
#
# A candidate ending in `<eos>` is set aside as *finished* instead of taking a live slot;
# a sentence is done when it has $k$ finished hypotheses. $k = 1$ is greedy search.
#
# **Length.** Every token adds a negative log-probability, so (10.2) prefers short outputs;
# beam search, which is better at finding high-probability sequences, finds the short ones
# too. GNMT (Wu et al., 2016) ranks finished hypotheses by the log-probability divided by a
# length penalty:
#
# $$
# \operatorname{lp}(\hat y) = \left(\frac{5 + |\hat y|}{6}\right)^{\omega}
# \tag{10.5}
# $$
#
# $$
# \operatorname{score}(\hat y) = \frac{\log P(\hat y \mid x)}{\operatorname{lp}(\hat y)}
# \tag{10.6}
# $$
#
# $\omega = 0$ (code `alpha`, GNMT's $\alpha$; here $\alpha$ stays the attention weights) is
# the plain log-probability; larger $\omega$ favours longer outputs (GNMT
# uses 0.6–0.7). minis2s's beam search runs a whole batch at once: each step scores
# all $k \cdot |\mathcal V|$ extensions of every sentence on the device, and only the $2k$ best per
# sentence come back to the host for the bookkeeping.
#
# Below, `beam_search` is the loop, and each of its steps is four pieces. `_expand` adds
# every live hypothesis's log-probability to that of every token (10.3). `best_n` selects
# the $2k$ best extensions per sentence and brings them to the host (a fast partial sort,
# not shown; $2k$ because each hypothesis has one extension by `<eos>`, so at most $k$ of
# the $2k$ end there and the others can fill the $k$ live slots). `_Beams` keeps the
# record on the host: `retire_and_keep` sets aside as finished the extensions among the
# best $k$ that end in `<eos>`, scored by (10.6), and fills the live slots with the best of
# the others (10.4); a hypothesis's tokens are read back through the per-step pointers to
# the slot it extended. `_compact` makes the next step's batch: each live hypothesis
# continues from the decoder state of the one it extended, and the rows of sentences that
# are done leave. At the end, `_Beams.best` picks each sentence's answer (live hypotheses
# count too where the length ran out).

# %% [markdown]
# ### Exercise: `beam_search_step`
#
# Before the library's version, write one step of it for one sentence: from the live
# scores and the next-token log-probabilities of its $k$ slots, the new live hypotheses and
# the finished list (10.3)–(10.6). The grader compares your parents, tokens, scores and
# finished list with those of the library's pieces (`_expand`, `best_n`,
# `_Beams.retire_and_keep`) on three steps where `<eos>` is among the best, one slot has
# several good children, and a hypothesis of another length has already finished. Watch
# for: the best over all $k |\mathcal V|$ extensions together, the length penalty, and what happens
# to an extension that ends in `<eos>`.
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
def beam_search_step(scores, logp, finished, t, eos_id, alpha):
    """One step of beam search for one sentence with k slots (lesson 10, eq. 10.3-10.6).

    scores: (k,) log P(y^ | x) of the live hypotheses y^ (eq. 10.2), -inf for an empty slot.
    logp: (k, V) log p(y | y^, x) of the next token y for each slot.
    finished: a list of (score eq. 10.6, log P, length) of the hypotheses set aside so far,
        fewer than k of them; length counts the tokens with <eos>.
    t: the step, 0 for the first: a hypothesis that ends in <eos> now has length t + 1.
    Walk the extensions of all slots together, best first, ties to the lower index j V + y
    (slot j, token y; eq. 10.3-10.4): an <eos> among the k best is appended to finished as
    (log P / ((5 + length) / 6)^alpha, log P, length) (eq. 10.5-10.6, alpha the lesson's omega);
    the first k extensions that are not <eos> become the new live hypotheses.
    Returns parents (k,) ints, tokens (k,) ints, new scores (k,), finished (the list, appended to).
    Unfilled slots: parent 0, token eos_id, score -inf. Once finished holds k hypotheses the
    sentence is done: every new score is -inf.
    """
    raise NotImplementedError(
        "write eq. 10.3 first: cand[j, y] = scores[j] + logp[j, y], then take the best over all k V entries together"
    )


report = check(beam_search_step)

# %% [markdown]
# The library's own function, graded the same way; this is what a pass looks like:

# %%
report = check(references.beam_search_step)

# %%
from minis2s import decode

show(decode.length_penalty, decode.beam_search, decode._expand, decode._Beams, decode._compact)

# %% [markdown]
# We decode the same validation sentences greedily and with a beam of 5 at three values of
# $\omega$, and compare corpus BLEU (section 5), the mean log-probability of the output
# (10.2) and the output length relative to the references:

# %%
from minis2s import backend as B
from minis2s.data import batches_for_inference, restore_order
from minis2s import metrics


def translate_ids(model, source_ids, beam=1, alpha=0.6, batch_size=64):
    # batches of similar length, decoded greedily (beam 1) or by beam search; input order restored
    batches, order = batches_for_inference(source_ids, batch_size)
    ids, scores = [], []
    for b in batches:
        src, mask = B.to_device(b.src), B.to_device(b.src_mask, model.dtype)
        if beam == 1:
            out = decode.greedy(model, src, mask, task.tgt_vocab.sos_id, task.tgt_vocab.eos_id)
        else:
            out = decode.beam_search(model, src, mask, task.tgt_vocab.sos_id, task.tgt_vocab.eos_id,
                                     beam=beam, alpha=alpha)
        ids += out.ids
        scores += out.scores
    return restore_order(ids, order), np.array(restore_order(scores, order))


if DATA is None:
    print(SKIPPED)
else:
    val = task.val[:200] if FAST else task.val
    refs = [" ".join(t) for _, t in val]
    source_ids = [task.src_vocab.encode(s) for s, _ in val]
    n_ref = sum(len(t) for _, t in val)
    print(f"{'decoder':22s} {'BLEU':>6s} {'mean log P(y|x)':>16s} {'length / reference':>19s}")
    hypotheses = {}
    for label, beam, alpha in (("greedy", 1, 0.0), ("beam 5, alpha 0", 5, 0.0), ("beam 5, alpha 0.6", 5, 0.6),
                               ("beam 5, alpha 1.0", 5, 1.0)):
        ids, scores = translate_ids(model, source_ids, beam, alpha)
        hyps = [" ".join(task.tgt_vocab.decode(seq)) for seq in ids]
        hypotheses[label] = hyps
        length = sum(len(h.split()) for h in hyps) / n_ref
        print(f"{label:22s} {metrics.corpus_bleu(hyps, refs).score:6.2f} {scores.mean():16.3f} {length:19.3f}")

# %% [markdown]
# Beam search with $\omega = 0$ finds outputs of higher probability than greedy search —
# it is the better *search* — and they are shorter. Whether that buys BLEU depends on how
# well the model's probabilities agree with the references: for a well-trained model beam
# search typically adds a BLEU point or so; for a model trained for seconds, which puts
# too much probability on short generic captions, the better search can even lose.
# Raising $\omega$ lengthens the outputs back towards the references' length. Search
# quality and model quality are different things; a decoder can only find what the model
# believes.
#
# ## 5. BLEU, by hand
#
# BLEU (Papineni et al., 2002) compares a corpus of hypotheses with references by their
# shared $n$-grams, $n = 1 \dots 4$. For each hypothesis $n$-gram $g$, count it at most as
# often as it occurs in (the best) reference — the **clip**:
#
# $$
# \text{count}_{\text{clip}}(g) = \min\Bigl(\text{count}_{\hat y}(g),\ \max_k \text{count}_{y^{(k)}}(g)\Bigr)
# \tag{10.7}
# $$
#
# The modified precision of order $n$ sums over the **whole corpus** before dividing
# (corpus BLEU is not a mean of sentence BLEUs):
#
# $$
# p_n = \frac{\sum_{\text{sentences}} \sum_{g \in n\text{-grams}(\hat y)} \text{count}_{\text{clip}}(g)}
#            {\sum_{\text{sentences}} \sum_{g \in n\text{-grams}(\hat y)} \text{count}_{\hat y}(g)}
# \tag{10.8}
# $$
#
# Precision cannot see missing words — a one-word hypothesis can be perfectly precise — so
# short output pays a **brevity penalty**, with $|\hat Y|$ the total hypothesis length and
# $|Y|$ the total reference length (per sentence, the reference length closest to the
# hypothesis'; $\hat Y$ and $Y$ are the corpus's hypotheses and references):
#
# $$
# \text{BP} = \begin{cases} 1 & |\hat Y| \ge |Y| \\ e^{\,1 - |Y|/|\hat Y|} & |\hat Y| < |Y| \end{cases}
# \tag{10.9}
# $$
#
# The score is the geometric mean of the four precisions, times BP:
#
# $$
# \text{BLEU} = \text{BP} \cdot \exp\Bigl(\frac{1}{4} \sum_{n=1}^{4} \log p_n\Bigr)
# \tag{10.10}
# $$
#
# One order without a single match makes the geometric mean zero. *Smoothing* (Chen &
# Cherry, 2014) replaces a zero $p_n$; sacrebleu's default, `exp`, gives the $i$-th order
# without a match $p_n = 1 / (2^i \cdot \text{total}_n)$:
#
# $$
# p_n \leftarrow \frac{1}{2^{i}\, \sum \text{count}_{\hat y}} \quad \text{for the } i\text{-th order with no match}
# \tag{10.11}
# $$
#
# The library's implementation, step for step:

# %% [markdown]
# ### Exercise: `corpus_bleu`
#
# Before the library's version, write corpus BLEU without smoothing, (10.7)–(10.10), for one
# reference per sentence. The grader compares your score, precisions and brevity penalty
# with `metrics.corpus_bleu(..., smooth="none")` (itself checked against sacrebleu below) on
# three small corpora with repeated words and short hypotheses. Watch for: the clip (10.7),
# sums over the corpus before dividing (10.8), and which length is $|Y|$ and which $|\hat Y|$ (10.9).
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
def corpus_bleu(hypotheses, references, max_n=4):
    """Corpus BLEU without smoothing (lesson 10, eq. 10.7-10.10).

    hypotheses, references: lists of N strings, tokens separated by spaces; one reference each.
    Returns (bleu, precisions, bp): bleu in percent (0-100), precisions the list p_1..p_max_n in
    percent -- clipped n-gram matches over hypothesis n-grams, both summed over the corpus
    before dividing (eq. 10.7-10.8) -- and bp the brevity penalty of the total lengths (eq. 10.9).
    """
    raise NotImplementedError(
        "write eq. 10.7 first: count each n-gram of the hypothesis, clipped by its count in the "
        "reference, and sum over the whole corpus"
    )


report = check(corpus_bleu)

# %% [markdown]
# The library's own function, graded the same way; this is what a pass looks like:

# %%
report = check(references.corpus_bleu)

# %%
from minis2s import metrics

show(metrics._ngrams, metrics.corpus_bleu, metrics._bleu_from_stats)

# %% [markdown]
# The classic example of why the clip (10.7) exists: a hypothesis that repeats a common
# word. Without the clip its unigram precision would be 7/7.

# %%
cheat = metrics.corpus_bleu(["the the the the the the the"], ["the cat is on the mat"])
print(f"clipped unigram matches {cheat.counts[0]} of {cheat.totals[0]}: p_1 = {cheat.precisions[0]:.1f}%")

examples = {
    "hyps": ["a man is riding a bike .", "two dogs play in snow", "a woman is singing on stage ."],
    "refs": ["a man rides a bicycle .", "two dogs are playing in the snow .", "a woman sings on a stage ."],
}
mine = metrics.corpus_bleu(examples["hyps"], examples["refs"])
print(mine)
print(f"by hand: BP = exp(1 - {mine.ref_len}/{mine.sys_len}) = {np.exp(1 - mine.ref_len / mine.sys_len):.4f}; "
      f"BLEU = BP * exp(mean log p_n) = "
      f"{np.exp(1 - mine.ref_len / mine.sys_len) * np.exp(np.mean(np.log(np.array(mine.precisions) / 100))) * 100:.2f}")
per_sentence = [metrics.sentence_bleu(h, r).score for h, r in zip(examples["hyps"], examples["refs"])]
print(f"sentence BLEUs {[round(s, 1) for s in per_sentence]}: mean {np.mean(per_sentence):.2f}, "
      f"not the corpus BLEU {mine.score:.2f}: eq. 10.8 sums the counts over the corpus before dividing")

# %% [markdown]
# sacrebleu is the standard implementation. Given the same whitespace tokens
# (`tokenize="none"`; the corpus is already tokenized), it must give the same figures. If it
# is installed, we compare on the examples above and on the translator's output:

# %%
try:
    import sacrebleu
except ImportError:
    sacrebleu = None
    print("sacrebleu is not installed (pip install sacrebleu); skipping the comparison")

if sacrebleu is not None:
    corpora = {"the examples above": (examples["hyps"], examples["refs"])}
    if DATA is not None:
        corpora["greedy output, validation"] = (hypotheses["greedy"], refs)
    for label, (hyps, references) in corpora.items():
        ours = metrics.corpus_bleu(hyps, references)
        # force: the lines are tokenized on purpose, so sacrebleu need not warn about it
        theirs = sacrebleu.corpus_bleu(hyps, [references], tokenize="none", force=True)
        print(f"{label}:\n  minis2s   {ours}\n  sacrebleu {theirs}")
        print(f"  |difference| {abs(ours.score - theirs.score):.1e}")

# %% [markdown]
# ## 6. Perplexity
#
# The loss is the mean negative log-likelihood per target token (natural log). Its
# exponential, the **perplexity**, reads as an effective number of choices: a model that
# spreads its probability uniformly over $|\mathcal V|$ tokens has $-\log(1/|\mathcal V|) = \log |\mathcal V|$ per token
# and perplexity $|\mathcal V|$:
#
# $$
# \text{PPL} = \exp\Bigl(-\frac{1}{N}\sum_{\text{tokens}} \log p(y_t \mid y_{<t}, x)\Bigr)
# \tag{10.12}
# $$
#
# It is computed teacher-forced, so unlike BLEU it does not depend on the decoder; and it
# uses the plain likelihood even when training used label smoothing. Lower is better, but
# only between models with the same vocabulary: a smaller vocabulary (more `<unk>`) makes
# perplexity easier.

# %%
from minis2s.tasks import loss_and_ppl

show(metrics.perplexity)
V = 3000
print(f"uniform over {V} tokens: perplexity {metrics.perplexity(np.log(V) * 10, 10):.1f}")
if DATA is None:
    print(SKIPPED)
else:
    figures = loss_and_ppl(model, task, val)
    print(f"the small translator on {len(val)} validation sentences: NLL {figures['loss']:.3f} per token, "
          f"perplexity {figures['ppl']:.1f} (vocabulary {len(task.tgt_vocab):,})")

# %% [markdown]
# ## 7. ROUGE-L, and three figures side by side
#
# BLEU is a **precision**: it counts how much of the hypothesis is in the reference, and
# only the brevity penalty (10.9), a corpus-wide length ratio, stands in for the missing
# recall. ROUGE (Lin, 2004), made for summaries, looks from the reference's side too.
# ROUGE-L scores a sentence by the **longest common subsequence** (LCS) of hypothesis $\hat y$
# and reference $y$: the longest list of tokens that appear in both *in the same order*,
# gaps allowed ("a man rides a bicycle" and "a man is riding a bike" share "a man a").
# No contiguous $n$-grams are needed, only the order.
#
# The LCS of the prefixes $r_{1:i}$ and $h_{1:j}$ follows from shorter prefixes: if the last
# tokens match, some longest subsequence ends with that pair, so it is one longer than the
# LCS of the prefixes without them; if not, at least one of the two last tokens is in no
# common subsequence that ends there, so drop the one whose removal keeps the longer LCS:
#
# $$
# \operatorname{LCS}(i, j) = \begin{cases}
# 0 & i = 0 \text{ or } j = 0 \\
# \operatorname{LCS}(i - 1, j - 1) + 1 & y_i = \hat y_j \\
# \max\bigl(\operatorname{LCS}(i - 1, j),\ \operatorname{LCS}(i, j - 1)\bigr) & \text{otherwise}
# \end{cases}
# \tag{10.13}
# $$
#
# a table of $(|y| + 1) \times (|\hat y| + 1)$ entries, filled row by row in $O(|y|\,|\hat y|)$ time
# (one row at a time is enough). Divided by the hypothesis length it is a precision, by
# the reference length a recall, and ROUGE-L is their harmonic mean, the F-measure (Lin's
# $F$ with precision and recall weighted equally, as in the `rouge-score` package):
#
# $$
# P_{\text{lcs}} = \frac{\operatorname{LCS}(y, \hat y)}{|\hat y|}, \qquad
# R_{\text{lcs}} = \frac{\operatorname{LCS}(y, \hat y)}{|y|}, \qquad
# F_{\text{lcs}} = \frac{2\, P_{\text{lcs}} R_{\text{lcs}}}{P_{\text{lcs}} + R_{\text{lcs}}}
# \tag{10.14}
# $$
#
# A short hypothesis now loses on recall *in its own sentence*, not through a corpus-wide
# penalty. The corpus figure is the mean of the sentence F-measures (unlike BLEU's pooled
# counts, eq. 10.8).

# %%
show(metrics._lcs_length, metrics.rouge_l, metrics.corpus_rouge_l)

# %%
for h, r in zip(examples["hyps"], examples["refs"]):
    p_lcs, r_lcs, f_lcs = metrics.rouge_l(h, r)
    print(f"{h!r:32s} vs {r!r:38s} LCS {metrics._lcs_length(r.split(), h.split())}: "
          f"P {p_lcs:.3f} R {r_lcs:.3f} F {f_lcs:.3f}")

# %% [markdown]
# Three figures, three questions. **BLEU** asks how many of the output's $n$-grams the
# reference holds (precision, with a brevity penalty). **ROUGE-L** asks how much of each
# sentence's word order output and reference share (LCS recall and precision, an
# F-measure). **Perplexity** (10.12) asks how probable the model finds the reference
# itself, teacher-forced: it involves no decoder at all, so it cannot tell greedy from beam
# search. We compute all three on the test set, for greedy and beam search:

# %%
if DATA is None:
    print(SKIPPED)
else:
    test = task.test[:200] if FAST else task.test
    test_refs = [" ".join(t) for _, t in test]
    test_ids = [task.src_vocab.encode(s) for s, _ in test]
    test_ppl = loss_and_ppl(model, task, test)["ppl"]
    test_hyps = {}
    print(f"{len(test)} test sentences")
    print(f"{'decoder':22s} {'BLEU':>6s} {'ROUGE-L F':>10s} {'perplexity':>11s}")
    for label, beam, alpha in (("greedy", 1, 0.0), ("beam 5, alpha 0.6", 5, 0.6)):
        ids, _ = translate_ids(model, test_ids, beam, alpha)
        test_hyps[label] = [" ".join(task.tgt_vocab.decode(seq)) for seq in ids]
        print(f"{label:22s} {metrics.corpus_bleu(test_hyps[label], test_refs).score:6.2f} "
              f"{100 * metrics.corpus_rouge_l(test_hyps[label], test_refs):10.2f} {test_ppl:11.2f}")

# %% [markdown]
# The package `rouge-score` is the reference implementation. Its tokenizer lower-cases,
# turns every character outside `a-z0-9` into a space and so drops punctuation, while
# `metrics.rouge_l` takes the corpus' tokens as they are (a full stop counts). On tokens made
# of `a-z0-9` alone both tokenizations agree, and so must the scores: we compare there,
# keeping only such tokens on both sides.

# %%
import re

try:
    from rouge_score import rouge_scorer
except ImportError:
    rouge_scorer = None
    print("rouge-score is not installed (pip install rouge-score); skipping the comparison")


def alphanumeric(line):
    return " ".join(t for t in line.split() if re.fullmatch(r"[a-z0-9]+", t))


if rouge_scorer is not None:
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    corpora = {"the examples above": (examples["hyps"], examples["refs"])}
    if DATA is not None:
        corpora["greedy output, test"] = (test_hyps["greedy"], test_refs)
    for label, (hyps, references) in corpora.items():
        hyps, references = [alphanumeric(h) for h in hyps], [alphanumeric(r) for r in references]
        ours = [metrics.rouge_l(h, r) for h, r in zip(hyps, references)]
        theirs = [scorer.score(r, h)["rougeL"] for h, r in zip(hyps, references)]  # score(target, prediction)
        worst = max(abs(a - b) for o, t in zip(ours, theirs) for a, b in zip(o, (t.precision, t.recall, t.fmeasure)))
        print(f"{label}: minis2s {100 * np.mean([o[2] for o in ours]):.4f}, "
              f"rouge-score {100 * np.mean([t.fmeasure for t in theirs]):.4f}; "
              f"largest |difference| in P, R or F of a sentence {worst:.1e}")

# %% [markdown]
# ## 8. The full recipe
#
# The command line trains the reference model — a bidirectional LSTM encoder of 256 units
# per direction, an attentive LSTM decoder, dropout 0.5, label smoothing 0.1, Adam with the
# plateau schedule, for an hour — and evaluates it on the 2016 test set:
#
# ```bash
# python -m minis2s train --data multi30k --out runs/m30k
# python -m minis2s evaluate --checkpoint runs/m30k --beam 5
# echo "Ein Mann fährt Fahrrad." | python -m minis2s translate --checkpoint runs/m30k --beam 5
# ```
#
# The figures measured with it (BLEU and perplexity over training time, greedy and beam)
# are recorded in `benchmarks/RESULTS.md`.

# %% [markdown]
# ## Questions
#
# Answer in a few sentences, from what this lesson printed and derived; the instructors'
# answers are in [answers.md, lesson 10](answers.md#lesson-10), to read after you have tried.
#
# **Q10.1.** In section 4 beam search with $\omega = 0$ found outputs of higher
# log-probability than greedy search, and they were shorter. Why does maximising (10.2) favour
# short outputs, why does a *better* search make it worse, and how does the length penalty
# (10.5)–(10.6) counter it?
#
# **Q10.2.** Why is corpus BLEU (10.8) not the mean of the sentence BLEUs (the printed 16.40
# against 10.19)? And why does the repeated "the" get $p_1 = 2/7$ and not $7/7$?
#
# **Q10.3.** Section 7 printed BLEU, ROUGE-L and perplexity for greedy and beam search. Why is
# the perplexity the same for both decoders? Which of the three would punish a hypothesis that
# is correct but half the reference's length, in its own sentence, and which only through a
# corpus-wide factor?
#
# **Q10.4.** Bucketing by length lowered the padding share (10.1). Why does the model spend
# time on padding at all when the loss and attention ignore it, and why does `Batcher` shuffle
# the order of the batches after sorting by length?

# %% [markdown]
# ## Summary
#
# - Multi30k: 29k caption pairs; word vocabularies trade output-layer cost against
#   `<unk>`s. Bucketing by length cuts the padding share (10.1).
# - Beam search keeps the $k$ best hypotheses (10.2–10.4); it finds more probable, and
#   shorter, outputs; the length penalty (10.5–10.6) counters the shortness. Better search is
#   not a better model.
# - BLEU: clipped $n$-gram counts (10.7), corpus-level precisions (10.8), brevity penalty
#   (10.9), geometric mean (10.10), smoothing (10.11) — the library reproduces sacrebleu.
#   Perplexity is the exponentiated per-token NLL (10.12).
# - ROUGE-L: the longest common subsequence (10.13) as precision, recall and F-measure
#   (10.14), per sentence — where BLEU is a corpus precision and perplexity the model's
#   probability of the reference, independent of the decoder.
#
# **Next:** [lesson 11](11_gpu.ipynb) — the same model on a GPU, and where the time goes.
