"""A trained checkpoint as a translator: text in, text out (the checkpoint carries everything).

``translate`` and ``evaluate`` both decode through :meth:`Translator.translate_tokens`, with
the same default batch size (:data:`minis2s.recipes.DECODE_BATCH_SIZE`), so a checkpoint gives
one answer: the sentences ``translate`` prints for a test file are the ones ``evaluate`` scores.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as ckpt
from . import memory
from .data import Vocab, tokenizer_from_json
from .errors import CheckpointError, UserError
from .models import build_model, config_class
from .recipes import DECODE_BATCH_SIZE
from .tasks import restore_bpe


@dataclass
class Translator:
    model: object  # a Seq2Seq or a Transformer
    src_tokenizer: object
    tgt_tokenizer: object
    src_vocab: Vocab
    tgt_vocab: Vocab
    config: dict
    path: Path | None = None  # the checkpoint directory it was loaded from
    step: int | None = None  # the training step that checkpoint was saved at
    bpe: object = None  # the BPE model of a subword checkpoint: words in, words out

    @classmethod
    def load(cls, path, prefer: str = "best") -> "Translator":
        c = ckpt.load_checkpoint(path, prefer=prefer)
        if (c.config.get("task") or {}).get("kind") == "lm":
            raise UserError(f"{c.path} is a language model, which has no source to translate; "
                            f"use python -m minis2s generate --checkpoint {path}")
        try:
            cfg = config_class(c.config.get("arch", "recurrent")).from_json(c.config["model"])
            tok = c.config["tokenizers"]
            src_tok, tgt_tok = tokenizer_from_json(tok["src"]), tokenizer_from_json(tok["tgt"])
            src_vocab, tgt_vocab = Vocab.from_json(c.vocab["src"]), Vocab.from_json(c.vocab["tgt"])
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{c.path} is not a minis2s translation checkpoint (missing {exc})") from None
        bpe = restore_bpe(c.vocab, c.path)
        if bpe is None and (c.config.get("task") or {}).get("bpe"):
            raise CheckpointError(f"{c.path} was trained on BPE pieces, but its vocab.json holds no BPE model; "
                                  "load another checkpoint")
        model = build_model(cfg)
        model.load_params(c.params)
        step = (c.state.get("trainer") or {}).get("step") if isinstance(c.state, dict) else None
        return cls(model, src_tok, tgt_tok, src_vocab, tgt_vocab, c.config, Path(c.path), step, bpe)

    def translate(self, lines, batch_size: int = DECODE_BATCH_SIZE, beam: int = 1, warn="stderr") -> list[str]:
        """Translate raw text lines; an empty or whitespace-only line gives an empty line (a
        character model would otherwise read the spaces as a sentence). Unknown source tokens
        map to <unk>, with one warning listing them. ``warn``: a file for warnings and notes,
        "stderr" (whatever ``sys.stderr`` is at the call) or None (none)."""
        warn = sys.stderr if warn == "stderr" else warn
        tokens = [self.src_tokenizer.tokenize(line) if line.strip() else [] for line in lines]
        outputs = self.translate_tokens(tokens, batch_size=batch_size, beam=beam, note=warn)
        pieces = [self.bpe.encode(t) for t in tokens] if self.bpe else tokens  # what the model reads
        unknown = sorted({t for toks in pieces for t in toks if t not in self.src_vocab})
        if unknown and warn is not None:  # after decoding: a refused --beam is the only line then
            shown = " ".join(repr(u) for u in unknown[:10])
            print(f"warning: {len(unknown)} unknown input token(s) mapped to <unk>: {shown}", file=warn)
        return [self.tgt_tokenizer.detokenize(out) if toks else "" for toks, out in zip(tokens, outputs)]

    def translate_tokens(self, token_lists, batch_size: int = DECODE_BATCH_SIZE, beam: int = 1,
                         note="stderr") -> list[list[str]]:
        """Source token lists -> output token lists, in order; an empty list gives []. The one
        decoding path of ``translate`` and ``evaluate``. Refuses a beam wider than the target
        vocabulary or too large for the memory (:func:`fit_beam_search`), which writes to
        ``note`` when it lowers the batch size (as ``warn`` of :meth:`translate`). A BPE
        checkpoint takes words and gives words: the pieces stay inside."""
        from .tasks import decode_tokens

        note = sys.stderr if note == "stderr" else note
        todo = [i for i, t in enumerate(token_lists) if t]
        outputs = [[] for _ in token_lists]
        if not todo:
            return outputs
        seg = self.bpe.encode if self.bpe else (lambda words: words)
        longest = max(len(seg(token_lists[i])) for i in todo) + 1  # + <eos>
        batch_size = fit_beam_search(self.model.cfg, beam, min(batch_size, len(todo)), longest,
                                     self.model.dtype.itemsize, note=note,
                                     where=self.path)
        decoded = decode_tokens(self.model, self.src_vocab, self.tgt_vocab, [token_lists[i] for i in todo],
                                batch_size=batch_size, beam=beam, bpe=self.bpe)
        for i, out in zip(todo, decoded):
            outputs[i] = out
        return outputs


# --------------------------------------------------------------------------- language models


@dataclass
class Generator:
    """A trained language model as a text generator (``generate``): the checkpoint carries the
    model, its vocabulary and its tokenizer; level is "word" or "char"."""

    model: object
    tokenizer: object
    vocab: Vocab
    level: str
    path: Path | None = None

    @classmethod
    def load(cls, path, prefer: str = "best") -> "Generator":
        from .models.lm import LanguageModel, LMConfig

        c = ckpt.load_checkpoint(path, prefer=prefer)
        if (c.config.get("task") or {}).get("kind") != "lm":
            raise UserError(f"{c.path} is not a language model (a translation or toy-task checkpoint); "
                            "generate reads checkpoints of train --task lm, and translate reads this one")
        try:
            cfg = LMConfig.from_json(c.config["model"])
            tokenizer = tokenizer_from_json(c.config["tokenizers"]["lm"])
            vocab, level = Vocab.from_json(c.vocab["lm"]), c.config["tokenizers"]["level"]
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{c.path} is not a minis2s language-model checkpoint (missing {exc})") from None
        model = LanguageModel(cfg)
        model.load_params(c.params)
        return cls(model, tokenizer, vocab, level, Path(c.path))

    def prompt_ids(self, prompt: str | None) -> list[int]:
        """The ids the model reads before it generates: <eos> (a sentence starts after it, as
        in training), then the prompt's tokens. A UserError for an empty prompt or tokens the
        vocabulary lacks (the model never saw them, so <unk> would be a guess), naming them."""
        if prompt is None:
            return [Vocab.eos_id]
        tokens = self.tokenizer.tokenize(prompt)
        if not tokens or not prompt.strip():
            raise UserError("--prompt is empty: give the words the text should start with, or leave "
                            "--prompt out to start a sentence from nothing")
        unknown = list(dict.fromkeys(t for t in tokens if t not in self.vocab))
        if unknown:
            what = "characters" if self.level == "char" else "words"
            shown = ", ".join(repr(t) for t in unknown[:10])
            raise UserError(f"the prompt has {what} outside the model's vocabulary ({len(self.vocab)} tokens): "
                            f"{shown}; use {what} of its training text")
        return [Vocab.eos_id] + self.vocab.encode(tokens)

    def generate(self, prompt: str | None = None, method: str = "sample", num: int = 1, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, beam: int = 1, seed: int = 0,
                 max_len: int | None = None) -> tuple[list[str], list[float]]:
        """``num`` continuations of ``prompt`` (prompt included) and their log-probabilities.

        method: "sample" (ancestral sampling from softmax(logits / temperature), restricted to
        the top_k tokens or the top_p nucleus), "greedy" or "beam" (width ``beam``); each
        continuation stops at <eos> or after ``max_len`` tokens (default 50 words, 200
        characters). Arguments are checked before any work, each with one UserError.
        """
        from . import backend as B
        from .decode import beam_search, greedy, sample

        check_generation_options(method, num, temperature, top_k, top_p, beam, max_len, len(self.vocab))
        ids = self.prompt_ids(prompt)
        rows = num if method == "sample" else 1
        # the decoders' "source" is the context before the last prompt token; that token is fed first
        context = B.to_device(B.host.array([ids[:-1]] * rows, dtype=B.host.int64).reshape(rows, len(ids) - 1))
        mask = B.to_device(B.host.ones(context.shape), self.model.dtype)
        max_len = max_len or (200 if self.level == "char" else 50)
        first, eos = ids[-1], Vocab.eos_id
        if method == "greedy":
            out = greedy(self.model, context, mask, first, eos, max_len=max_len)
        elif method == "beam":
            out = beam_search(self.model, context, mask, first, eos, beam=beam, max_len=max_len)
        else:
            out = sample(self.model, context, mask, first, eos, B.DeviceRNG(seed), temperature=temperature,
                         top_k=top_k, top_p=top_p, max_len=max_len)
        join = "".join if self.level == "char" else " ".join
        texts = [join(self.vocab.decode(ids[1:] + list(seq))) for seq in out.ids]
        return texts, [float(s) for s in out.scores]


def check_generation_options(method, num, temperature, top_k, top_p, beam, max_len, vocab_size) -> None:
    """One UserError for the first bad option of :meth:`Generator.generate` (NaN included)."""
    if not (math.isfinite(temperature) and temperature > 0):
        raise UserError(f"--temperature must be a positive number, got {temperature} "
                        "(a tiny one, like 1e-4, is greedy search; --greedy says so directly)")
    if top_k is not None and top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0.0 < top_p <= 1.0:  # NaN fails both comparisons
        raise UserError(f"--top-p must be in (0, 1], got {top_p}")
    if num < 1:
        raise UserError(f"--num must be at least 1, got {num}")
    if max_len is not None and max_len < 1:
        raise UserError(f"--max-len must be at least 1, got {max_len}")
    if method != "sample" and num > 1:
        raise UserError(f"--{method} gives one continuation, the most likely; --num is for sampling")
    if method == "beam" and not 1 <= beam <= vocab_size:
        raise UserError(f"--beam must be between 1 and the vocabulary's {vocab_size} tokens, got {beam}")


# --------------------------------------------------------------------------- beam bounds

def fit_beam_search(cfg, beam: int, batch_size: int, src_len: int, itemsize: int = 4,
                    available: int | None = None, note=None, where=None) -> int:
    """The batch size to decode with ``beam``, or a :class:`UserError` when no batch fits.

    A beam wider than the target vocabulary is refused: after one step there are no more
    distinct hypotheses than tokens. Then the estimate of :func:`minis2s.decode.beam_search_bytes`
    for sources of ``src_len`` positions is held against the free memory: when one sentence at a
    time would not fit, the beam is refused with the largest one that would; when a smaller
    batch fits, the batch is lowered and ``note`` says so. Nothing is allocated to find out.
    """
    from .decode import beam_search_bytes

    model = f" of {where}" if where else ""
    if beam > cfg.tgt_vocab:
        raise UserError(f"--beam {beam} is wider than the target vocabulary{model} ({cfg.tgt_vocab} tokens); "
                        f"use --beam {cfg.tgt_vocab} or less (5 is usual)")
    if beam == 1:
        return batch_size  # greedy search holds one hypothesis per sentence
    available = memory.available_bytes() if available is None else available
    if available is None:
        return batch_size
    need = beam_search_bytes(cfg, batch_size, beam, src_len, itemsize)
    if need <= available:
        return batch_size
    per_sentence = beam_search_bytes(cfg, 1, beam, src_len, itemsize)
    if per_sentence > available:
        per_hypothesis = beam_search_bytes(cfg, 1, 1, src_len, itemsize)
        largest = available // per_hypothesis
        raise UserError(
            f"--beam {beam} needs about {memory.size_text(per_sentence)} for even one sentence of "
            f"{src_len - 1} tokens ({cfg.tgt_vocab}-token target vocabulary), more than the "
            f"{memory.size_text(available)} of memory available; "
            + (f"use --beam {largest} or less" if largest >= 1 else "free some memory"))
    fitting = int(available // per_sentence)
    if note is not None:
        print(f"note: decoding {fitting} sentences at a time instead of {batch_size} so that --beam {beam} fits "
              f"in the {memory.size_text(available)} of memory available "
              f"(about {memory.size_text(need)} for {batch_size}); a smaller "
              "--batch-size can change an output through float rounding", file=note)
    return fitting
