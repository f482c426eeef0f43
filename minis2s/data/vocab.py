"""Token <-> id vocabulary with four fixed special tokens (lesson 01).

Every vocabulary starts with the same specials, so code anywhere can use the class constants
without holding a particular vocabulary::

    <pad> = 0   fills the short rows of a batch; masked out of losses and attention
    <sos> = 1   start of sequence: the decoder's first input
    <eos> = 2   end of sequence: the decoder learns to emit it, decoding stops at it
    <unk> = 3   any token the vocabulary does not hold

A vocabulary is built once from training data (:meth:`Vocab.build`), saved beside the model
as JSON (:meth:`Vocab.to_json`) and read back with :meth:`Vocab.from_json`, so a trained
model always sees ids from the vocabulary it was trained with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ..errors import DataError

_FORMAT = "minis2s.vocab"
_VERSION = 1


class Vocab:
    """An ordered token list; a token's id is its position in the list.

    ``Vocab(tokens)`` takes the full list, specials included, in id order (as saved by
    :meth:`to_json`). Use :meth:`build` to make one from data.
    """

    PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
    SPECIALS = (PAD, SOS, EOS, UNK)
    pad_id, sos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, tokens: Sequence[str]):
        tokens = list(tokens)
        if tuple(tokens[: len(self.SPECIALS)]) != self.SPECIALS:
            raise DataError(
                f"a vocabulary must start with the specials {list(self.SPECIALS)}, "
                f"got {tokens[: len(self.SPECIALS)]}"
            )
        for t in tokens:
            if not isinstance(t, str) or not t:
                raise DataError(f"vocabulary tokens must be non-empty strings, got {t!r}")
        self._itos = tokens
        self._stoi = {t: i for i, t in enumerate(tokens)}
        if len(self._stoi) != len(tokens):
            dupes = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise DataError(f"vocabulary has duplicate tokens: {dupes[:10]}")

    # ------------------------------------------------------------------ building

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> "Vocab":
        """Count tokens and keep those seen at least ``min_freq`` times.

        Order is by frequency, most frequent first, ties by the token itself, so the same
        data always gives the same ids. ``max_size`` caps the total size, specials included.
        Tokens spelled like a special are counted as that special and never added twice.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(cls.SPECIALS):
            raise ValueError(f"max_size must be >= {len(cls.SPECIALS)} (the specials), got {max_size}")
        counts = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_freq and t not in cls.SPECIALS),
            key=lambda t: (-counts[t], t),
        )
        if max_size is not None:
            kept = kept[: max_size - len(cls.SPECIALS)]
        return cls(list(cls.SPECIALS) + kept)

    # ------------------------------------------------------------------ lookups

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token) -> bool:
        return token in self._stoi

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self._itos == other._itos

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)})"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._itos)

    def id_to_token(self, index: int) -> str:
        index = int(index)
        if not 0 <= index < len(self._itos):
            raise IndexError(f"token id {index} is outside the vocabulary [0, {len(self)})")
        return self._itos[index]

    # ------------------------------------------------------------------ sequences

    def encode(self, tokens: Sequence[str], add_sos: bool = False, add_eos: bool = False) -> list[int]:
        """Tokens -> ids; unknown tokens become ``unk_id``."""
        return self.encode_with_unknowns(tokens, add_sos, add_eos)[0]

    def encode_with_unknowns(
        self, tokens: Sequence[str], add_sos: bool = False, add_eos: bool = False
    ) -> tuple[list[int], list[str]]:
        """Like :meth:`encode`, and also the tokens that were not in the vocabulary
        (in order of appearance, repeats kept) so a caller can warn about them."""
        unk = self.unk_id
        ids = [self.sos_id] if add_sos else []
        unknown = []
        for t in tokens:
            i = self._stoi.get(t, unk)
            if i == unk and t != self.UNK:
                unknown.append(t)
            ids.append(i)
        if add_eos:
            ids.append(self.eos_id)
        return ids, unknown

    def decode(self, ids: Iterable[int], strip_specials: bool = True) -> list[str]:
        """Ids -> tokens.

        With ``strip_specials`` (the default) this reads a model's output: it stops at the
        first ``<eos>`` and drops ``<pad>`` and ``<sos>``; ``<unk>`` stays visible. Without
        it, every id is spelled out.
        """
        out = []
        for i in ids:
            i = int(i)
            if strip_specials:
                if i == self.eos_id:
                    break
                if i in (self.pad_id, self.sos_id):
                    continue
            out.append(self.id_to_token(i))
        return out

    # ------------------------------------------------------------------ saving

    def to_json(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "tokens": list(self._itos)}

    @classmethod
    def from_json(cls, d) -> "Vocab":
        """Read what :meth:`to_json` wrote; raises :class:`DataError` if it is malformed."""
        if not isinstance(d, dict):
            raise DataError(f"vocabulary JSON must be an object, got {type(d).__name__}")
        if d.get("format") != _FORMAT:
            raise DataError(f"not a minis2s vocabulary (format {d.get('format')!r}, expected {_FORMAT!r})")
        if d.get("version") != _VERSION:
            raise DataError(f"unsupported vocabulary version {d.get('version')!r} (this minis2s reads {_VERSION})")
        tokens = d.get("tokens")
        if not isinstance(tokens, list):
            raise DataError("vocabulary JSON has no 'tokens' list")
        return cls(tokens)
