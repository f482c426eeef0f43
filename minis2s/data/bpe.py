"""Byte-pair encoding: subword units learned from word counts (Sennrich et al., 2016).

A word-level vocabulary maps every rare word to ``<unk>``; a character-level one makes
sequences long. BPE sits between them. Start from characters, and repeatedly glue the
most frequent pair of adjacent symbols into one new symbol; each glue is a *merge*, and
the ordered list of merges is the whole model::

    low lower lowest  ->  l o w</w>, l o w e r</w>, ...    (characters, end-of-word marked)
    merge 1: ('l', 'o')      -> lo w</w>, lo w e r</w>, ...
    merge 2: ('lo', 'w</w>') -> low</w>, lo w e r</w>, ...

Applying the model to a new word replays the merges in the order they were learned, so
frequent words become one token and rare words a few pieces, and no word is ever unknown
as long as its characters are known.

Conventions are those of subword-nmt (the authors' implementation, which the tests compare
against merge for merge): the end-of-word marker ``</w>`` is glued to a word's last
character, ties between equally frequent pairs go to the larger pair in string order, and
learning stops early when no pair occurs ``min_frequency`` (2) times. As tokens, every piece
but a word's last carries the separator ``@@`` (``lo@@ west``), so the pieces of a sentence
are read back into words by gluing each ``@@`` piece to the next (:meth:`BPE.decode`) --
BLEU is computed on those words, not on pieces.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..errors import DataError

END = "</w>"  # end-of-word marker, glued to the last character of a word
SEP = "@@"  # marks a token that is not the last piece of its word

_FORMAT = "minis2s.bpe"
_VERSION = 1


# --------------------------------------------------------------------------- learning


def count_words(lines: Iterable[str | Sequence[str]]) -> Counter:
    """Word -> count over ``lines`` (strings split on whitespace, or lists of tokens)."""
    counts = Counter()
    for line in lines:
        counts.update(line.split() if isinstance(line, str) else line)
    return counts


def word_symbols(word: str) -> tuple[str, ...]:
    """A word as its starting symbols: characters, the last one marked ``</w>``."""
    return tuple(word[:-1]) + (word[-1] + END,)


def merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Replace every occurrence of ``pair`` in ``symbols``, left to right, by one symbol (eq. 13.10).

    Occurrences do not overlap: ``a a a`` merged on ``(a, a)`` is ``aa a``.
    """
    first, second = pair
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == first and symbols[i + 1] == second:
            out.append(first + second)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def adjacent_pairs(symbols: tuple[str, ...]):
    """Every adjacent pair of ``symbols``, repeats included (``a a a`` has ``(a, a)`` twice)."""
    return itertools.pairwise(symbols)


def merge_step(words: Mapping[tuple[str, ...], int]) -> tuple[tuple[str, str] | None, int, dict]:
    """One merge of the textbook loop: count, pick, merge (lesson 13, eq. 13.9-13.10).

    words: each word's current symbols -> how often the word occurs, e.g.
    ``{("l", "o", "w</w>"): 5, ("l", "o", "w", "e", "r</w>"): 2}``. Every adjacent pair is
    counted once per occurrence in a word, times the word's count (eq. 13.9); the most
    frequent pair wins, a tie going to the larger pair in string order; it is merged at every
    occurrence in every word (eq. 13.10). Returns (pair, its count, the words after the merge),
    or (None, 0, words) when no word has two symbols left. :func:`learn_bpe` gives the same
    merges without recounting every word at each step (the tests compare them).
    """
    count = defaultdict(int)
    for symbols, n in words.items():
        for pair in adjacent_pairs(symbols):
            count[pair] += n  # eq. 13.9: weighted by how often the word occurs
    if not count:
        return None, 0, dict(words)
    best = max(count, key=lambda pair: (count[pair], pair))  # ties: the larger pair, as subword-nmt
    return best, count[best], {merge_pair(symbols, best): n for symbols, n in words.items()}


class _LargerFirst:
    """A pair that sorts *before* smaller pairs, so that a min-heap of ``(-count, pair)``
    pops the most frequent pair and, among equally frequent ones, the largest."""

    __slots__ = ("pair",)

    def __init__(self, pair):
        self.pair = pair

    def __lt__(self, other):
        return self.pair > other.pair


def learn_bpe(
    data: Mapping[str, int] | Iterable[str | Sequence[str]],
    num_merges: int,
    min_frequency: int = 2,
) -> list[tuple[str, str]]:
    """Learn up to ``num_merges`` merges from word counts (a mapping) or from lines (eq. 13.9-13.10,
    the merges of :func:`merge_step` repeated).

    Returns the merges in the order learned. Fewer come back when no adjacent pair occurs
    ``min_frequency`` times any more (a small corpus runs out of pairs).

    The textbook loop recounts every pair of every word after each merge. Here two tables
    are kept up to date instead: ``count[pair]`` (how often the pair occurs, weighted by word
    frequency) and ``where[pair]`` (the words that contain it). A merge touches only the
    words in ``where[best]``: their old pairs are subtracted, their new pairs added. A heap
    finds the most frequent pair without scanning all of them; an entry whose count has
    changed since it was pushed is stale and skipped. Measured on Multi30k de+en train
    (27k distinct words, one shared CPU): the textbook loop takes 0.077 s a merge over the
    first 100, so ~13 min for 10k merges; this one takes 4-6 s for all 10k, 130-190x less.
    """
    if num_merges < 0:
        raise ValueError(f"num_merges must be >= 0, got {num_merges}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    counts = data if isinstance(data, Mapping) else count_words(data)
    words = [word_symbols(w) for w in counts if w]
    freqs = [counts[w] for w in counts if w]

    count = defaultdict(int)
    where = defaultdict(set)
    for i, (symbols, freq) in enumerate(zip(words, freqs)):
        for pair in adjacent_pairs(symbols):
            count[pair] += freq
            where[pair].add(i)
    heap = [(-n, _LargerFirst(pair)) for pair, n in count.items()]
    heapq.heapify(heap)

    merges = []
    while len(merges) < num_merges and heap:
        negative, top = heapq.heappop(heap)
        best = top.pair
        if count.get(best, 0) != -negative:
            continue  # stale: the count changed after this entry was pushed
        if -negative < min_frequency:
            break
        merges.append(best)
        changed = set()
        for i in where.pop(best):
            old = words[i]
            new = merge_pair(old, best)
            if new == old:
                continue  # the word lost this pair to an earlier merge; where[] is not pruned
            for pair in adjacent_pairs(old):
                count[pair] -= freqs[i]
                changed.add(pair)
            for pair in adjacent_pairs(new):
                count[pair] += freqs[i]
                where[pair].add(i)
                changed.add(pair)
            words[i] = new
        for pair in changed:
            if count[pair] > 0:
                heapq.heappush(heap, (-count[pair], _LargerFirst(pair)))
            else:
                del count[pair]
    return merges


# --------------------------------------------------------------------------- applying


class BPE:
    """Learned merges, applied to words (:meth:`segment`) and sentences (:meth:`encode`),
    and undone exactly (:meth:`decode`).

    >>> bpe = BPE([("l", "o"), ("lo", "w</w>")])
    >>> bpe.encode(["low", "lower"])
    ['low', 'lo@@', 'w@@', 'e@@', 'r']
    >>> bpe.decode(['low', 'lo@@', 'w@@', 'e@@', 'r'])
    ['low', 'lower']
    """

    CACHE_SIZE = 200_000  # words; the cache is emptied when it grows past this

    def __init__(self, merges: Iterable[Sequence[str]]):
        self.merges = [tuple(m) for m in merges]
        # rank: position of a merge in the learned order; lower ranks are applied first
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._cache: dict[str, tuple[str, ...]] = {}

    @classmethod
    def learn(cls, data, num_merges: int, min_frequency: int = 2) -> "BPE":
        """:func:`learn_bpe`, wrapped in a :class:`BPE`."""
        return cls(learn_bpe(data, num_merges, min_frequency))

    def __len__(self) -> int:
        return len(self.merges)

    def __eq__(self, other) -> bool:
        return isinstance(other, BPE) and self.merges == other.merges

    def __repr__(self) -> str:
        return f"BPE(merges={len(self)}, fingerprint={self.fingerprint[:12]})"

    # ------------------------------------------------------------------ words

    def segment(self, word: str) -> tuple[str, ...]:
        """One word -> its pieces, without separators (``"lower"`` -> ``("lo", "w", "e", "r")``).

        Replays the merges in learned order: of all adjacent pairs in the word, the one
        learned first is merged (everywhere in the word), until no pair is a merge.
        Characters never seen in training simply stay single pieces.
        """
        pieces = self._cache.get(word)
        if pieces is not None:
            return pieces
        symbols = word_symbols(word)
        while len(symbols) > 1:
            pair = min(adjacent_pairs(symbols), key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break
            symbols = merge_pair(symbols, pair)
        pieces = symbols[:-1] + (symbols[-1].removesuffix(END),)
        if pieces[-1].endswith(SEP):
            # A word ending in "@@" would end in a piece that reads as "glue to the next
            # word". Splitting its last character off keeps decode exact: "x@@" -> "x@", "@".
            pieces = pieces[:-1] + (pieces[-1][:-1], pieces[-1][-1])
        if len(self._cache) >= self.CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = pieces
        return pieces

    # ------------------------------------------------------------------ sentences

    def encode(self, words: Sequence[str]) -> list[str]:
        """Words -> subword tokens; every piece but a word's last ends in ``@@``.
        Empty strings are not words and are dropped."""
        tokens = []
        for word in words:
            if not word:
                continue
            pieces = self.segment(word)
            tokens.extend(p + SEP for p in pieces[:-1])
            tokens.append(pieces[-1])
        return tokens

    @staticmethod
    def decode(tokens: Iterable[str]) -> list[str]:
        """Subword tokens -> words: each ``@@`` token is glued to the one after it.

        The exact inverse of :meth:`encode`. A model's output may stop after a ``@@``
        token; that unfinished word is kept as it is (without the ``@@``).
        """
        words, current = [], ""
        for token in tokens:
            if token.endswith(SEP):
                current += token[: -len(SEP)]
            else:
                words.append(current + token)
                current = ""
        if current:
            words.append(current)
        return words

    # ------------------------------------------------------------------ matching a vocabulary

    def token_set(self) -> set[str]:
        """Every multi-character token :meth:`encode` can produce, ``@@`` included (single
        characters, with or without ``@@``, are possible too, from any word)."""
        out = set()
        for first, second in self.merges:
            symbol = first + second
            out.add(symbol[: -len(END)] if symbol.endswith(END) else symbol + SEP)
        return out

    def check_vocab(self, vocab, what: str = "the vocabulary") -> None:
        """Raise :class:`DataError` if ``vocab`` holds tokens this BPE never produces:
        it was built from words, or from another BPE model's pieces."""
        made = self.token_set()
        foreign = [t for t in vocab.tokens[len(vocab.SPECIALS):]
                   if t not in made and len(t.removesuffix(SEP)) > 1]
        if foreign:
            raise DataError(
                f"the BPE model ({len(self)} merges, fingerprint {self.fingerprint[:12]}) does not match "
                f"{what}: {len(foreign)} of its tokens can never come out of it (e.g. {foreign[:3]}); "
                "use the BPE model the vocabulary was built with")

    # ------------------------------------------------------------------ saving

    @property
    def fingerprint(self) -> str:
        """sha256 of the merges and conventions: equal fingerprints, equal segmentations.
        Store it beside a vocabulary built on this model's tokens."""
        canon = json.dumps([END, SEP, self.merges], ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canon.encode("utf-8")).hexdigest()

    def check_fingerprint(self, expected: str, what: str = "the vocabulary") -> None:
        """Raise :class:`DataError` unless ``expected`` (stored with ``what``) is ours."""
        if expected != self.fingerprint:
            raise DataError(
                f"the BPE model (fingerprint {self.fingerprint[:12]}) does not match {what} "
                f"(built with BPE {str(expected)[:12]}); use the BPE model saved with it")

    def to_json(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "end_of_word": END, "separator": SEP,
                "merges": [list(m) for m in self.merges], "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, d) -> "BPE":
        """Read what :meth:`to_json` wrote; raises :class:`DataError` if it is malformed."""
        if not isinstance(d, dict):
            raise DataError(f"BPE JSON must be an object, got {type(d).__name__}")
        if d.get("format") != _FORMAT:
            raise DataError(f"not a minis2s BPE model (format {d.get('format')!r}, expected {_FORMAT!r})")
        if d.get("version") != _VERSION:
            raise DataError(f"unsupported BPE model version {d.get('version')!r} (this minis2s reads {_VERSION})")
        if d.get("end_of_word", END) != END or d.get("separator", SEP) != SEP:
            raise DataError(f"BPE model uses end-of-word {d.get('end_of_word')!r} and separator "
                            f"{d.get('separator')!r}; this minis2s uses {END!r} and {SEP!r}")
        merges = d.get("merges")
        if not isinstance(merges, list):
            raise DataError("BPE JSON has no 'merges' list")
        known = set()  # symbols a merge may use: characters, or what an earlier merge made
        for n, m in enumerate(merges):
            if not (isinstance(m, list) and len(m) == 2 and all(isinstance(s, str) and s for s in m)):
                raise DataError(f"BPE merge {n} must be a pair of non-empty strings, got {m!r}")
            for s in m:
                if s not in known and len(s.removesuffix(END)) != 1:
                    raise DataError(f"BPE merge {n} {m!r} uses {s!r}, which no earlier merge makes")
            known.add(m[0] + m[1])
        bpe = cls(merges)
        if "fingerprint" in d and d["fingerprint"] != bpe.fingerprint:
            raise DataError(f"BPE model's fingerprint {str(d['fingerprint'])[:12]} does not match its "
                            f"merges ({bpe.fingerprint[:12]}): the file was edited or damaged")
        return bpe

    def save(self, path) -> Path:
        """Write :meth:`to_json` to ``path`` whole or not at all."""
        from ..atomic import write_file

        text = json.dumps(self.to_json(), ensure_ascii=False)
        return write_file(path, lambda f: f.write(text.encode("utf-8")), "the BPE path")

    @classmethod
    def load(cls, path) -> "BPE":
        """Read a file written by :meth:`save`; one :class:`DataError` line if it cannot."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(f"BPE model {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read BPE model {path}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"BPE model {path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
        try:
            return cls.from_json(d)
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
