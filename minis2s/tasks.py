"""From a task name to tokenized, encoded splits, and the figures that judge a model on them.

A task bundles its tokenizers, vocabularies and three splits: ``train`` (id pairs for the
:class:`~minis2s.data.Batcher`), ``val`` (picks the best checkpoint) and ``test`` (held out,
reported once at the end).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from . import backend as B
from .data import BPE, CharTokenizer, Vocab, batches_for_inference, make_batch, make_splits, restore_order
from .decode import greedy
from .errors import UserError
from .metrics import perplexity
from .recipes import DECODE_BATCH_SIZE
from .train import batch_to_device, real_rows


@dataclass
class Task:
    name: str
    src_tokenizer: object
    tgt_tokenizer: object
    src_vocab: Vocab
    tgt_vocab: Vocab
    train: list  # [(src_ids, tgt_ids)]
    val: list  # [(src_tokens, tgt_tokens)], words even with ``bpe``
    test: list
    bpe: BPE | None = None  # subword segmentation of both sides; the vocabularies hold its pieces

    def vocab_json(self) -> dict:
        """The vocabularies, and the BPE model beside them with the fingerprint of the one
        they were built with (:func:`restore_bpe` checks the two agree)."""
        out = {"src": self.src_vocab.to_json(), "tgt": self.tgt_vocab.to_json()}
        if self.bpe is not None:
            out.update(bpe=self.bpe.to_json(), bpe_fingerprint=self.bpe.fingerprint)
        return out

    def tokenizer_json(self) -> dict:
        return {"src": self.src_tokenizer.to_json(), "tgt": self.tgt_tokenizer.to_json()}


def toy_task(name: str, n_train: int, n_test: int, seed: int = 0, sentence_words: int = 0, **params) -> Task:
    """A generated task, character- or word-level (its ``level``); val and test are disjoint
    halves of a held-out draw. ``sentence_words``: lay a word-level source out as a grid of
    sentences of that many word slots (:class:`~minis2s.data.SentenceGridTokenizer`), for a
    Transformer that reads one vector per sentence; 0 reads tokens."""
    from .data import SentenceGridTokenizer, WhitespaceTokenizer
    from .data.toy import get_task

    level = get_task(name).level
    if sentence_words and level != "word":
        raise UserError(f"--sentence-words needs a word-level task (qa-1 .. qa-4); {name!r} reads characters")
    train, held_out = make_splits(name, n_train, 2 * n_test, seed=seed, **params)
    tok = WhitespaceTokenizer() if level == "word" else CharTokenizer()
    src_tok = SentenceGridTokenizer(sentence_words) if sentence_words else tok
    src_tokens = [src_tok.tokenize(s) for s, _ in train]
    tgt_tokens = [tok.tokenize(t) for _, t in train]
    src_vocab, tgt_vocab = Vocab.build(src_tokens), Vocab.build(tgt_tokens)
    pairs = [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in zip(src_tokens, tgt_tokens)]
    held = [(src_tok.tokenize(s), tok.tokenize(t)) for s, t in held_out]
    return Task(name, src_tok, tok, src_vocab, tgt_vocab, pairs, held[: len(held) // 2], held[len(held) // 2 :])


def decode_tokens(model, src_vocab, tgt_vocab, src_token_lists, batch_size=DECODE_BATCH_SIZE, beam=1,
                  max_len=None, bpe=None):
    """Decode token lists; returns the output token lists in the input order.

    Every figure and every printed translation comes from here, with the same default
    ``batch_size``: the batch (which sentences share it) is the one setting besides the beam
    that can change an output, through float rounding (see :func:`batches_for_inference`).
    With ``bpe`` the sources are words, segmented here, and the outputs are read back into
    words (:meth:`BPE.decode`), so every caller sees words."""
    from .decode import beam_search

    ids = [src_vocab.encode(bpe.encode(t) if bpe else t) for t in src_token_lists]
    batches, order = batches_for_inference(ids, batch_size)
    outputs = []
    for b in batches:
        src, mask = B.to_device(b.src), B.to_device(b.src_mask, model.dtype)
        if beam > 1:
            out = beam_search(model, src, mask, Vocab.sos_id, Vocab.eos_id, beam=beam, max_len=max_len)
        else:
            out = greedy(model, src, mask, Vocab.sos_id, Vocab.eos_id, max_len=max_len)
        outputs.extend(tgt_vocab.decode(seq) for seq in out.ids)
    outputs = restore_order(outputs, order)
    return [bpe.decode(o) for o in outputs] if bpe else outputs


def exact_match(model, task: Task, pairs, batch_size=DECODE_BATCH_SIZE, beam: int = 1, hyps=None) -> dict:
    """exact_match: share of outputs equal to the reference; token_accuracy: share of
    reference positions whose token the output has at the same position. ``hyps``: the
    output token lists when already decoded (``evaluate`` decodes once and also writes them)."""
    if hyps is None:
        hyps = decode_tokens(model, task.src_vocab, task.tgt_vocab, [s for s, _ in pairs], batch_size, beam=beam)
    exact = sum(h == t for h, (_, t) in zip(hyps, pairs))  # eq. 15.4: the whole output, or nothing
    right = sum(sum(a == b for a, b in zip(h, t)) for h, (_, t) in zip(hyps, pairs))
    total = sum(len(t) for _, t in pairs)
    return {"exact_match": exact / max(len(pairs), 1), "token_accuracy": right / max(total, 1)}


def loss_and_ppl(model, task: Task, pairs, batch_size=DECODE_BATCH_SIZE) -> dict:
    """Teacher-forced cross-entropy per target token (incl. <eos>) and its perplexity. With
    ``task.bpe`` a token is a subword piece, so the perplexity is per piece and is not
    comparable with a word-level model's (BLEU, scored on words, is)."""
    seg = task.bpe.encode if task.bpe else (lambda words: words)
    nll, n = 0.0, 0
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        b = make_batch([task.src_vocab.encode(seg(s)) for s, _ in chunk],
                       [task.tgt_vocab.encode(seg(t)) for _, t in chunk])
        arrays = batch_to_device(b, model.dtype)
        _, s, k = model.forward_backward(*arrays, train=False, backward=False, real_rows=real_rows(arrays.tgt_mask))
        nll += B.to_float(s)
        n += int(B.to_float(k))
    return {"loss": nll / n, "ppl": perplexity(nll, n)}


def toy_evaluator(task: Task, pairs, batch_size=DECODE_BATCH_SIZE):
    def evaluate(model) -> dict:
        return {**loss_and_ppl(model, task, pairs, batch_size), **exact_match(model, task, pairs, batch_size)}

    return evaluate


# --------------------------------------------------------------------------- translation


def translation_task(data_dir=None, src: str = "de", tgt: str = "en", min_freq: int = 2,
                     max_size: int | None = None, log=None, bpe: int | BPE | None = None,
                     shared: bool = False) -> Task:
    """Multi30k task 1 (tokenized, lower-cased): word vocabularies from the training split.

    Training reads the corpus's own tokenization (whitespace); raw user input at translation
    time goes through the rule-based tokenizer that reproduces it (lesson 10).

    bpe: a number of merges to learn on the training split, or a learned :class:`BPE` (a
    resumed run's, never learned again). Both sides of the training pairs are segmented
    before the vocabularies are built; val and test stay words (the figures segment their
    sources and read the outputs back into words). shared: one vocabulary built on both
    sides' tokens, for both (a Transformer's ``share_vocab``).
    """
    from .data import MosesLikeTokenizer, WhitespaceTokenizer
    from .data.multi30k import find_data_dir, load_multi30k

    root = find_data_dir(data_dir, langs=(src, tgt))
    splits = {name: load_multi30k(root, src, tgt, name) for name in ("train", "val", "test2016")}
    skipped = sum(d.n_skipped_empty for d in splits.values())
    if skipped and log is not None:
        log(f"skipped {skipped} empty sentence pair(s)")
    train = splits["train"]
    train_src, train_tgt = train.src, train.tgt
    if isinstance(bpe, int):
        # One model learned on both sides together (joint BPE), not one per side: a name,
        # number or cognate that appears in both languages is cut into the same pieces on
        # both, so the model can learn to copy it piece by piece, and one merge list serves
        # a vocabulary shared by the two sides.
        bpe = BPE.learn(itertools.chain(train.src, train.tgt), bpe)
        if log is not None:
            log(f"learned {len(bpe)} BPE merges on the training sentences (both sides)")
    if bpe is not None:
        train_src, train_tgt = [bpe.encode(s) for s in train.src], [bpe.encode(t) for t in train.tgt]
    if shared:
        src_vocab = tgt_vocab = Vocab.build(itertools.chain(train_src, train_tgt), min_freq=min_freq,
                                            max_size=max_size)
    else:
        src_vocab = Vocab.build(train_src, min_freq=min_freq, max_size=max_size)
        tgt_vocab = Vocab.build(train_tgt, min_freq=min_freq, max_size=max_size)
    pairs = [(src_vocab.encode(s), tgt_vocab.encode(t)) for s, t in zip(train_src, train_tgt)]
    held = {k: list(zip(v.src, v.tgt)) for k, v in splits.items() if k != "train"}
    return Task(f"multi30k-{src}-{tgt}", MosesLikeTokenizer(src), WhitespaceTokenizer(),
                src_vocab, tgt_vocab, pairs, held["val"], held["test2016"], bpe)


def restore_bpe(vocab_json: dict, where) -> BPE | None:
    """The BPE model a checkpoint's vocab.json holds, or None for a word-level one.

    One :class:`~minis2s.errors.CheckpointError` line, naming ``where``, for a malformed BPE
    record, a fingerprint other than the one the vocabularies were built with, or
    vocabularies holding pieces this model never makes (:meth:`BPE.check_vocab`)."""
    from .errors import CheckpointError, DataError

    if "bpe" not in vocab_json:
        return None
    try:
        bpe = BPE.from_json(vocab_json["bpe"])
        bpe.check_fingerprint(vocab_json.get("bpe_fingerprint"), "the checkpoint's vocabularies")
        for side in ("src", "tgt"):
            bpe.check_vocab(Vocab.from_json(vocab_json[side]), f"the checkpoint's {side} vocabulary")
    except DataError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except KeyError as exc:
        raise CheckpointError(f"{where}: vocab.json has a BPE model but no {exc} vocabulary; load another "
                              "checkpoint") from None
    return bpe


def bleu(model, task: Task, pairs, beam: int = 1, batch_size: int = DECODE_BATCH_SIZE, hyps=None) -> float:
    """Corpus BLEU of the decoded sources (tokenized, as sacrebleu with tokenize='none'), to two
    decimals, always on words: a BPE model's outputs are read back into words first, so the
    figure compares with a word-level model's. ``hyps``: the output word lists when already
    decoded."""
    from .metrics import corpus_bleu

    if hyps is None:
        hyps = decode_tokens(model, task.src_vocab, task.tgt_vocab, [s for s, _ in pairs], batch_size, beam=beam,
                             bpe=task.bpe)
    return round(corpus_bleu([" ".join(h) for h in hyps], [" ".join(t) for _, t in pairs]).score, 2)


def bleu_and_ppl(model, task: Task, pairs, beam: int = 1, batch_size: int = DECODE_BATCH_SIZE, hyps=None) -> dict:
    """:func:`bleu` and the teacher-forced loss and perplexity (which the beam does not change)."""
    return {"bleu": bleu(model, task, pairs, beam, batch_size, hyps), **loss_and_ppl(model, task, pairs, batch_size)}


def translation_evaluator(task: Task, pairs, batch_size=DECODE_BATCH_SIZE):
    def evaluate(model) -> dict:
        return bleu_and_ppl(model, task, pairs, beam=1, batch_size=batch_size)

    return evaluate


# --------------------------------------------------------------------------- language modelling


@dataclass
class LMTask:
    """One side of Multi30k as language-model text. train: id lists; val, test: token lists;
    level: "word" (the corpus's tokens) or "char" (its characters, spaces included)."""

    name: str
    tokenizer: object
    vocab: Vocab
    train: list
    val: list
    test: list
    level: str = "word"

    def vocab_json(self) -> dict:
        return {"lm": self.vocab.to_json()}

    def tokenizer_json(self) -> dict:
        return {"lm": self.tokenizer.to_json(), "level": self.level}


def lm_task(data_dir=None, lang: str = "en", level: str = "word", min_freq: int = 2) -> LMTask:
    """Multi30k's ``lang`` side (tokenized, lower-cased), word- or character-level; the
    vocabulary comes from the training split, so held-out words it lacks read as <unk>."""
    from .data import MosesLikeTokenizer
    from .data.multi30k import file_name, find_data_dir

    if level not in ("word", "char"):
        raise UserError(f"level must be word or char, got {level!r}")
    root = find_data_dir(data_dir, langs=(lang,))

    def read(split):
        with open(root / file_name(split, lang), encoding="utf-8") as f:
            lines = [" ".join(line.split()) for line in f]
        return [line.split() if level == "word" else list(line) for line in lines if line]

    splits = {name: read(name) for name in ("train", "val", "test2016")}
    vocab = Vocab.build(splits["train"], min_freq=min_freq)
    tokenizer = MosesLikeTokenizer(lang) if level == "word" else CharTokenizer()
    return LMTask(f"multi30k-{lang}-{level}-lm", tokenizer, vocab, [vocab.encode(s) for s in splits["train"]],
                  splits["val"], splits["test2016"], level)


def lm_loss_and_ppl(model, vocab: Vocab, sentences, batching: str = "stream", batch_size: int = 32,
                    bptt: int = 35) -> dict:
    """Cross-entropy per predicted token (every word and every <eos>) and its perplexity
    exp(mean NLL) (eq. 10.12, eq. 14.3) on token lists, read as the model was trained: one stream in
    windows with the state carried across, or sentence by sentence from zero state."""
    from .data.lm import join_stream, sentence_batch, stream_windows

    ids = [vocab.encode(s) for s in sentences]
    if batching == "stream":
        batches = stream_windows(join_stream(ids), batch_size, bptt)
    else:
        batches = [sentence_batch(ids[i : i + batch_size]) for i in range(0, len(ids), batch_size)]
    nll, n, state = 0.0, 0, None
    for b in batches:
        x, y, mask = B.to_device(b.x), B.to_device(b.y), B.to_device(b.mask, model.dtype)
        (_, s, k), final = model.forward_backward(x, y, mask, state if b.carry else None, train=False,
                                                  backward=False, real_rows=real_rows(mask))
        state = final
        nll += B.to_float(s)
        n += int(B.to_float(k))
    return {"loss": nll / n, "ppl": perplexity(nll, n)}


def lm_evaluator(task: LMTask, sentences, batching: str, batch_size: int, bptt: int):
    def evaluate(model) -> dict:
        return lm_loss_and_ppl(model, task.vocab, sentences, batching, batch_size, bptt)

    return evaluate


# --------------------------------------------------------------------------- dialogue


def dialogue_task(task_cfg: dict, log_progress: bool = False) -> Task:
    """The chitchat corpus as a Task: (context -> response) word pairs split by conversation
    (:mod:`minis2s.data.dialogue`), word vocabularies from the training pairs. task_cfg: the
    checkpoint's ``{"kind": "dialogue", "data_dir", "turns", "seed", "max_context", "max_response",
    "held_out", "max_held_out", "min_freq", "max_vocab"}``; each held-out split keeps its first
    ``max_held_out`` pairs, so validation while training stays quick."""
    from .data import MosesLikeTokenizer
    from .data.dialogue import load_dialogue

    tok = MosesLikeTokenizer("en")
    data = load_dialogue(task_cfg.get("data_dir"), tok, turns=task_cfg["turns"], seed=task_cfg["seed"],
                         max_context=task_cfg["max_context"], max_response=task_cfg["max_response"],
                         held_out=task_cfg["held_out"], progress=log_progress)
    if not data.train:
        raise UserError("the dialogue corpus gave no training pairs (every response longer than "
                        f"max_response={task_cfg['max_response']} tokens?)")
    src_vocab = Vocab.build([c for c, _ in data.train], min_freq=task_cfg["min_freq"], max_size=task_cfg["max_vocab"])
    tgt_vocab = Vocab.build([r for _, r in data.train], min_freq=task_cfg["min_freq"], max_size=task_cfg["max_vocab"])
    pairs = [(src_vocab.encode(c), tgt_vocab.encode(r)) for c, r in data.train]
    n = task_cfg["max_held_out"]
    return Task("chitchat", tok, tok, src_vocab, tgt_vocab, pairs, data.val[:n], data.test[:n])


def dialogue_figures(model, task: Task, pairs, beam: int = 1, batch_size: int = DECODE_BATCH_SIZE,
                     hyps=None) -> dict:
    """Perplexity and loss (teacher-forced), then of the decoded responses: BLEU and ROUGE-L
    against the real responses, and distinct-1/2 (how varied the responses are)."""
    from .metrics import corpus_rouge_l, distinct_n

    if hyps is None:
        hyps = decode_tokens(model, task.src_vocab, task.tgt_vocab, [s for s, _ in pairs], batch_size, beam=beam)
    return {**bleu_and_ppl(model, task, pairs, beam, batch_size, hyps),
            "rouge_l": round(100 * corpus_rouge_l([" ".join(h) for h in hyps], [" ".join(t) for _, t in pairs]), 2),
            "distinct_1": round(distinct_n(hyps, 1), 4), "distinct_2": round(distinct_n(hyps, 2), 4)}


def dialogue_evaluator(task: Task, pairs, batch_size=DECODE_BATCH_SIZE):
    """Validation while training: the teacher-forced loss and perplexity only (no decoding)."""

    def evaluate(model) -> dict:
        return loss_and_ppl(model, task, pairs, batch_size)

    return evaluate
