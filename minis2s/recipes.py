"""Recommended recipes: the defaults of ``train`` for each task (its flags override them).

Each recipe was chosen by measurement on a 2-core CPU; ``benchmarks/RESULTS.md`` has the
figures and the commands that produced them.
"""

from __future__ import annotations

QA_TASKS = ("qa-1", "qa-2", "qa-3", "qa-4")

# model fields go to Seq2SeqConfig, train fields to TrainConfig, data fields to the task
RECIPES = {
    "copy": dict(
        model=dict(cell="gru", emb=16, hidden=64, attention="additive"),
        train=dict(minutes=1.0, batch_size=64, lr=3e-3, eval_every=200, metric="exact_match", higher_is_better=True),
        data=dict(n_train=20000, n_test=1000, max_len=12),
    ),
    "reverse": dict(
        model=dict(cell="gru", emb=16, hidden=64, attention="additive"),
        train=dict(minutes=2.0, batch_size=64, lr=3e-3, eval_every=250, metric="exact_match", higher_is_better=True),
        data=dict(n_train=30000, n_test=1000, max_len=20),
    ),
    "sort": dict(
        model=dict(cell="gru", emb=16, hidden=64, attention="additive"),
        train=dict(minutes=2.0, batch_size=64, lr=3e-3, eval_every=250, metric="exact_match", higher_is_better=True),
        data=dict(n_train=30000, n_test=1000, max_len=12),
    ),
    "addition": dict(
        model=dict(cell="lstm", emb=16, hidden=128, attention="additive"),
        train=dict(minutes=2.0, batch_size=64, lr=3e-3, eval_every=250, metric="exact_match", higher_is_better=True),
        data=dict(n_train=40000, n_test=1000),
    ),
    "dates": dict(
        model=dict(cell="gru", emb=16, hidden=64, attention="additive"),
        train=dict(minutes=1.0, batch_size=64, lr=5e-3, eval_every=200, metric="exact_match", higher_is_better=True),
        data=dict(n_train=20000, n_test=2000),
    ),
    # bAbI-style reading comprehension (minis2s/data/qa.py): the encoder reads the question,
    # then the story, as one word sequence; qa-1 reaches 100% held-out exact match in about
    # 2,000 steps. qa-2 sits at 70%, the score of answering with the last move before the
    # object's pick-up or drop whoever moved, for 1,600-4,400 steps whatever was tried (input
    # order, cell, attention, depth, lr, curriculum), then climbs slowly; batches of 32 halve
    # the step (17-19 ms) and so fit 6,200-7,300 steps into its 2 minutes, and lr 5e-3 climbs
    # faster after the plateau: 85.7-88.7% held-out (two seeds; 83.4-83.6% at lr 3e-3) against
    # 77.5% with batches of 64 (3,704 steps); not the 99% target (benchmarks/RESULTS.md). The
    # QA tasks' default since is QA_TRANSFORMER (below), which reads sentences: these recipes
    # are `train --task qa-N --arch recurrent`'s
    **{name: dict(
        model=dict(cell="gru", emb=32, hidden=64, bidirectional=True, attention="additive"),
        train=dict(minutes=2.0, batch_size=32 if name == "qa-2" else 64,
                   lr=5e-3 if name == "qa-2" else 3e-3, eval_every=200,
                   metric="exact_match", higher_is_better=True),
        data=dict(n_train=20000, n_test=1000),
    ) for name in QA_TASKS},
    # Multi30k: the reference shape (bidirectional LSTM 256 + attentive LSTM decoder) with tied
    # embeddings (a 256-d readout instead of a V-wide one: regularises and makes the step ~40%
    # cheaper), label smoothing, and the learning rate halved when validation BLEU stalls
    "multi30k": dict(
        model=dict(cell="lstm", emb=256, hidden=256, bidirectional=True, attention="additive",
                   dropout=0.4, tie_embeddings=True),
        train=dict(minutes=60.0, batch_size=64, lr=1e-3, eval_every=1000, label_smoothing=0.1,
                   metric="bleu", higher_is_better=True, schedule="plateau"),
        data=dict(min_freq=2),
    ),
    # Chit-chat dialogue (train --data chitchat): context = the previous two turns joined by
    # <sep> -> the next turn. A GRU encoder-decoder with attention, sized for a 2-core CPU
    # (8,000-word vocabularies; tied decoder embeddings, so the readout is 128-wide). The
    # best checkpoint is the one of lowest validation perplexity: validation decodes nothing
    "chitchat": dict(
        model=dict(cell="gru", emb=128, hidden=256, attention="additive", dropout=0.2, tie_embeddings=True),
        train=dict(minutes=30.0, batch_size=64, lr=2e-3, eval_every=500, metric="ppl", higher_is_better=False),
        data=dict(turns=2, max_context=50, max_response=30, held_out=0.05, max_held_out=1000, min_freq=2,
                  max_vocab=8000),
    ),
    # A language model on one side of Multi30k (train --task lm --data multi30k --lang en):
    # one LSTM layer over a stream cut into windows of 35 tokens, the state carried across
    # (truncated BPTT); the best checkpoint is the one of lowest validation perplexity
    "lm": dict(
        model=dict(cell="lstm", emb=256, hidden=256, dropout=0.3),
        train=dict(minutes=10.0, batch_size=32, lr=2e-3, eval_every=500, metric="ppl", higher_is_better=False),
        data=dict(min_freq=2, batching="stream", bptt=35),
    ),
}


# The Transformer on Multi30k (train --data multi30k --arch transformer): a small base model
# (3 + 3 layers of width 256, 4 heads), the paper's schedule (eq. 13.7: linear warm-up to the
# peak lr, then 1 / sqrt(step)), Adam with beta2 = 0.98 and label smoothing 0.1; validated,
# saved and translated with a moving average of the weights (eq. 13.11), which the paper's
# checkpoint averaging stands for: the mean of two of the 30-minute run's checkpoints scored
# 1.1 validation BLEU above the better one
TRANSFORMER_RECIPES = {
    "multi30k": dict(
        model=dict(layers=3, d_model=256, heads=4, d_ff=1024, dropout=0.1, tie_embeddings=True),
        train=dict(minutes=60.0, batch_size=64, lr=1e-3, eval_every=1000, label_smoothing=0.1, adam_beta2=0.98,
                   schedule="inverse_sqrt", warmup=2000, ema=0.999, metric="bleu", higher_is_better=True,
                   shards=2),  # each batch split across 2 cores (minis2s/parallel.py)
        # 10,000 joint BPE merges: test BLEU 41.61 (beam 5) after 60 minutes against 40.29 on words,
        # one stream; with the 2 shards 41.30 (40.23 at 30 minutes) (benchmarks/RESULTS.md);
        # `--bpe 0` trains on words
        data=dict(min_freq=2, bpe=10000),
    ),
}
# bAbI-style QA (minis2s/data/qa.py) read one sentence at a time: the story is a grid of
# sentences of up to 8 words, each embedded as one vector (eq. 15.6), so that attention
# compares whole facts -- who moved where, who took what -- and a second layer can chain two
# of them (qa-2: who last handled the object, then where that person went). Word by word, the
# recurrent recipe and a Transformer both sat at 70% on qa-2 for thousands of steps (88.3% in
# 2 minutes at best); sentence by sentence qa-2 reaches 99.8% held-out in the same 2 minutes.
# No dropout and 100,000 stories: with 20,000 stories the model learns them by heart (training
# loss 1e-4) and stops at 98.8%; dropout 0.1 with 100,000 gave 97.8% (benchmarks/RESULTS.md)
QA_TRANSFORMER = dict(
    model=dict(layers=2, d_model=64, heads=4, d_ff=128, dropout=0.0, norm_first=True, sentence_words=8),
    train=dict(minutes=2.0, batch_size=32, lr=1e-3, adam_beta2=0.98, schedule="inverse_sqrt", warmup=200,
               eval_every=200, metric="exact_match", higher_is_better=True),
    data=dict(n_train=100000, n_test=1000),
)
TRANSFORMER_RECIPES.update({name: QA_TRANSFORMER for name in QA_TASKS})
#: the architecture ``train`` uses when --arch is not given
DEFAULT_ARCH = {name: "transformer" for name in QA_TASKS}

#: a toy task's Transformer: the task's own budget and data, a small model, a short warm-up
TOY_TRANSFORMER = dict(model=dict(layers=2, d_model=64, heads=4, d_ff=128, dropout=0.1),
                       train=dict(lr=1e-3, adam_beta2=0.98, schedule="inverse_sqrt", warmup=200))

TASKS = tuple(RECIPES)
# the recipes of corpora (train --data NAME) rather than of generated tasks (train --task NAME)
CORPORA = ("multi30k", "chitchat")

# Sentences decoded at once by translate, evaluate, demo and train's validation and test
# figures. One value everywhere, because the batch is the one thing besides the checkpoint,
# the input and the beam that can change an output: it decides which sentences share a
# batch, and so the float rounding of their matrix products, which can tip a near tie.
DECODE_BATCH_SIZE = 128


def bpe_merges(r: dict, asked: int | None) -> int:
    """The BPE merges a translation run learns: ``asked`` (``--bpe``; 0 means words) or, when
    not asked, the recipe ``r``'s (none unless its data names some)."""
    return asked if asked is not None else r["data"].get("bpe", 0)


def recipe(task: str, arch: str = "recurrent") -> dict:
    """The recipe of ``task`` for the architecture ``arch`` ("recurrent" or "transformer")."""
    if arch != "transformer":
        return RECIPES[task]
    if task in TRANSFORMER_RECIPES:
        return TRANSFORMER_RECIPES[task]
    toy = RECIPES[task]
    return dict(model=TOY_TRANSFORMER["model"], train={**toy["train"], **TOY_TRANSFORMER["train"]}, data=toy["data"])
