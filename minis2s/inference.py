"""A trained checkpoint as a translator: text in, text out (the checkpoint carries everything)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import checkpoint as ckpt
from .data import Vocab, tokenizer_from_json
from .errors import CheckpointError
from .models.seq2seq import Seq2Seq, Seq2SeqConfig


@dataclass
class Translator:
    model: Seq2Seq
    src_tokenizer: object
    tgt_tokenizer: object
    src_vocab: Vocab
    tgt_vocab: Vocab
    config: dict

    @classmethod
    def load(cls, path, prefer: str = "best") -> "Translator":
        c = ckpt.load_checkpoint(path, prefer=prefer)
        try:
            cfg = Seq2SeqConfig.from_json(c.config["model"])
            tok = c.config["tokenizers"]
            src_tok, tgt_tok = tokenizer_from_json(tok["src"]), tokenizer_from_json(tok["tgt"])
            src_vocab, tgt_vocab = Vocab.from_json(c.vocab["src"]), Vocab.from_json(c.vocab["tgt"])
        except (KeyError, TypeError) as exc:
            raise CheckpointError(f"{c.path} is not a minis2s translation checkpoint (missing {exc})") from None
        model = Seq2Seq(cfg)
        model.load_params(c.params)
        return cls(model, src_tok, tgt_tok, src_vocab, tgt_vocab, c.config)

    def translate(self, lines, batch_size: int = 64, beam: int = 1, warn=sys.stderr) -> list[str]:
        """Translate raw text lines; empty lines stay empty. Unknown source tokens map to
        <unk>, with one warning listing them."""
        from .tasks import decode_tokens

        tokens = [self.src_tokenizer.tokenize(line) for line in lines]
        unknown = sorted({t for toks in tokens for t in toks if t not in self.src_vocab})
        if unknown and warn is not None:
            shown = " ".join(repr(u) for u in unknown[:10])
            print(f"warning: {len(unknown)} unknown input token(s) mapped to <unk>: {shown}", file=warn)
        todo = [i for i, t in enumerate(tokens) if t]
        outputs = [""] * len(lines)
        if todo:
            decoded = decode_tokens(self.model, self.src_vocab, self.tgt_vocab, [tokens[i] for i in todo],
                                    batch_size=batch_size, beam=beam)
            for i, out in zip(todo, decoded):
                outputs[i] = self.tgt_tokenizer.detokenize(out)
        return outputs
