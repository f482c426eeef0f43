"""Tokenizers: text -> list of token strings, and back (lesson 01).

Four are enough for this library:

``CharTokenizer``
    One token per character, spaces included. The toy tasks (copy, reverse, dates) use it.
``WhitespaceTokenizer``
    Splits on whitespace. For corpora that are already tokenized, like the Multi30k
    ``*.lc.norm.tok.*`` files.
``SentenceGridTokenizer``
    Whitespace tokens laid out as a grid of sentences, J word slots each: the story of a
    bAbI-style question for a Transformer that reads one vector per sentence (lesson 15).
``MosesLikeTokenizer``
    Rule-based, for raw text a user types at a model trained on Multi30k: it reproduces
    that corpus's normalisation (Moses ``tokenizer.perl``, then lower-casing) so the
    tokens land in the training vocabulary.

Each has a ``name``, ``tokenize(text)``, ``detokenize(tokens)`` and ``to_json()``;
:func:`tokenizer_from_json` rebuilds one from its JSON, which is saved with a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import DataError
from .vocab import Vocab


class CharTokenizer:
    """One token per character, whitespace included: ``"ab c" -> ["a", "b", " ", "c"]``.

    ``detokenize`` is ``"".join``, so ``detokenize(tokenize(s)) == s`` for every string.
    """

    name = "char"

    def tokenize(self, text: str) -> list[str]:
        return list(text)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def to_json(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "CharTokenizer()"


class WhitespaceTokenizer:
    """Splits on runs of whitespace; for text that is already tokenized.

    ``detokenize`` is ``" ".join``: the tokens come back as the corpus wrote them.
    """

    name = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def to_json(self) -> dict:
        return {"name": self.name}

    def __repr__(self) -> str:
        return "WhitespaceTokenizer()"


class SentenceGridTokenizer:
    """Whitespace tokens, each sentence padded with ``<pad>`` to ``words`` slots, so that the
    token list is a grid of sentences (rows) by word slots (columns), read row by row::

        "where is mary ? mary went to the kitchen ."   (words = 6)
        -> where is mary ? <pad> <pad> | mary went to the kitchen .

    A sentence ends with one of ``ends`` (or with the text). A Transformer with
    ``sentence_words = words`` reshapes the ids to (S, J) and embeds each row as one vector
    (eq. 15.6). ``detokenize`` drops the padding.
    """

    name = "sentences"
    PAD = Vocab.PAD  # the id the model reads as an empty slot

    def __init__(self, words: int, ends: Sequence[str] = (".", "?")):
        if int(words) < 1:
            raise DataError(f"a sentence grid needs at least one word slot per sentence, got {words}")
        self.words, self.ends = int(words), tuple(ends)

    def sentences(self, text: str) -> list[list[str]]:
        """The text's sentences, each a list of tokens ending with one of ``ends`` (but the last)."""
        out: list[list[str]] = []
        current: list[str] = []
        for token in text.split():
            current.append(token)
            if token in self.ends:
                out.append(current)
                current = []
        return out + [current] if current else out

    def tokenize(self, text: str) -> list[str]:
        tokens = []
        for sentence in self.sentences(text):
            if len(sentence) > self.words:
                raise DataError(f"the sentence {' '.join(sentence)!r} has {len(sentence)} tokens, more than the "
                                f"{self.words} word slots of this model's sentences; shorten it")
            tokens += sentence + [self.PAD] * (self.words - len(sentence))
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(t for t in tokens if t != self.PAD)

    def to_json(self) -> dict:
        return {"name": self.name, "words": self.words, "ends": list(self.ends)}

    def __repr__(self) -> str:
        return f"SentenceGridTokenizer(words={self.words}, ends={self.ends})"


# --------------------------------------------------------------------------- Moses-like

# Typographic punctuation -> ASCII, as Moses's normalize-punctuation.perl does first.
_NORMALIZE = [
    (re.compile(r"[\u2018\u2019\u00b4`](?=[^\W\d_])"), "'"),  # curly apostrophe inside/before a word
    (re.compile(r"[\u201c\u201d\u201e\u00ab\u00bb\u2018\u2019\u201a]"), '"'),
    (re.compile(r"\u2026"), "..."),
    (re.compile(r"\u2013"), "-"),
    (re.compile(r"\u2014"), " - "),
    (re.compile(r"[\u00a0\u2009\u202f]"), " "),
]

_ALPHA = r"[^\W\d_]"
# Everything but letters, digits, whitespace and . ' ` , - is a token of its own.
_SPECIAL = re.compile(r"([^\w\s.'`,\-]|_)")
_MULTIDOT = re.compile(r"\.{2,}")
# A comma is split off unless it sits between two digits ("95,000", German "2,5").
_COMMA = re.compile(r"(?<!\d),|,(?!\d)")


def _split_apostrophes(text: str, lang: str) -> str:
    """Moses's apostrophe rules, decided on each apostrophe's original neighbours.

    English clitics keep the apostrophe on the right ("man's" -> "man 's", "don't" ->
    "don 't", "1990's" -> "1990 's"); French elisions keep it on the left ("l'homme" ->
    "l' homme"); in German, and anywhere else, the apostrophe is a token of its own.
    """

    def split(m):
        before = text[m.start() - 1] if m.start() > 0 else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if before.isalpha() and after.isalpha():
            return {"en": " '", "fr": "' "}.get(lang, " ' ")
        if lang == "en" and before.isdigit() and after == "s":
            return " '"
        if lang == "en" and before.isspace() and after.isalpha():
            return " '"  # an already split clitic (" 's" in pre-tokenized text) stays whole
        if lang == "fr" and before.isalpha() and after.isspace():
            return "' "  # an already split elision ("l' homme") stays whole
        return " ' "

    return re.sub("'", split, text)


# Moses's nonbreaking prefixes (the common ones): a word "x." keeps its period when x is
# listed. Single capital letters (initials) are nonbreaking in every language.
_NONBREAKING = {
    "en": {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "mt", "ft", "vs", "dept",
           "gen", "gov", "lt", "col", "sgt", "capt", "rev", "hon", "messrs"},
    "de": {"bzw", "usw", "st", "dr", "prof", "nr", "hr", "fr", "str", "ca", "evtl", "ggf",
           "inkl", "vgl", "bspw", "sog", "abb", "jh"},
    "fr": {"mme", "mlle", "mm", "dr", "st", "ste", "vol", "prof", "mgr", "me", "art", "sec"},
}

_ESCAPE = [("&", "&amp;"), ("|", "&#124;"), ("<", "&lt;"), (">", "&gt;"),
           ("'", "&apos;"), ('"', "&quot;"), ("[", "&#91;"), ("]", "&#93;")]
_UNESCAPE = re.compile("|".join(re.escape(e) for _, e in _ESCAPE))
_UNESCAPE_MAP = {e: c for c, e in _ESCAPE}

_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "]", "%", "..."}
_NO_SPACE_AFTER = {"(", "["}


class MosesLikeTokenizer:
    """Moses ``tokenizer.perl`` (non-aggressive), then lower-casing: Multi30k's
    ``lc.norm.tok`` normalisation, for raw user input.

    >>> MosesLikeTokenizer("en").tokenize('A man\\'s "red" T-shirt, 95,000 dogs.')
    ['a', 'man', '&apos;s', '&quot;', 'red', '&quot;', 't-shirt', ',', '95,000', 'dogs', '.']

    What it does, in order:

    1. Typographic quotes, dashes and ellipses become ASCII (normalize-punctuation).
    2. Punctuation other than ``. ' , -`` becomes a token of its own: ``! ? ; : " ( ) & %``
       and friends. Hyphens stay inside words (``t-shirt``, ``middle-aged``), as in the corpus.
    3. A comma splits off unless it sits between digits (``95,000``).
    4. Apostrophes follow the language, as Moses does: English clitics keep the apostrophe on
       the right (``man 's``, ``don 't``); French elisions on the left (``l' homme``,
       ``qu' il``); German (and any other language) splits every apostrophe off (``' s``).
    5. A word-final period splits off (``dogs .``) unless the word is an abbreviation with
       inner periods (``u.s.``), a single letter (initials, ``john a. noble``), a listed
       prefix (``mr.``, ``st.``, German ``bzw.``, French ``vol.``, ``art.``) or a German
       ordinal (``am 25. mai``). At the end of the text English splits all but initials
       (``3rd st .``), as the corpus does; German and French keep them (``nummer 10.``,
       ``une œuvre d' art.``). Runs of dots (``...``) are one token. With these rules every
       val and test2016 line of the corpus tokenizes to its own tokens.
    6. Like the corpus, special characters are XML-escaped: ``'`` -> ``&apos;``, ``"`` ->
       ``&quot;``, ``&`` -> ``&amp;`` (also ``| < > [ ]``), so ``"man's"`` gives
       ``["man", "&apos;s"]``. ``escape=False`` keeps them raw (``["man", "'s"]``).
    7. Everything is lower-cased (``lowercase=False`` keeps case). Case is lowered after
       tokenizing, as in the corpus pipeline, so initials are still recognised.

    One deliberate difference from Moses: Moses also keeps ``word.`` whole when the next
    word starts in lower case (it guesses that the sentence goes on). Users often type all
    lower case, where that rule would produce tokens like ``runs.`` that no vocabulary
    holds; here the period splits off.

    ``detokenize`` undoes the escaping and glues punctuation back on (``"a dog ."`` ->
    ``"a dog."``, ``"man 's"`` -> ``"man's"``, ``"l' homme"`` -> ``"l'homme"``); the text
    stays lower-case.
    """

    name = "moses"
    LANGS = ("en", "de", "fr")

    def __init__(self, lang: str = "en", lowercase: bool = True, escape: bool = True):
        if lang not in self.LANGS:
            raise ValueError(f"MosesLikeTokenizer: unknown language {lang!r}; choose one of {', '.join(self.LANGS)}")
        self.lang = lang
        self.lowercase = lowercase
        self.escape = escape

    def __repr__(self) -> str:
        return f"MosesLikeTokenizer(lang={self.lang!r}, lowercase={self.lowercase}, escape={self.escape})"

    def to_json(self) -> dict:
        return {"name": self.name, "lang": self.lang, "lowercase": self.lowercase, "escape": self.escape}

    # ------------------------------------------------------------------ tokenize

    def tokenize(self, text: str) -> list[str]:
        # Already-escaped input (a line copied from the corpus) is unescaped first, so
        # tokenizing pre-tokenized text gives back its tokens instead of "&amp; apos ;".
        text = _unescape(text)
        for pattern, repl in _NORMALIZE:
            text = pattern.sub(repl, text)
        text = _SPECIAL.sub(r" \1 ", text)
        text = _MULTIDOT.sub(r" \g<0> ", text)
        text = _COMMA.sub(" , ", text)
        text = _split_apostrophes(text, self.lang)
        words = text.split()
        tokens = []
        for i, word in enumerate(words):
            if len(word) > 1 and word.endswith(".") and not _MULTIDOT.fullmatch(word):
                pre = word[:-1]
                if not self._keeps_period(pre, is_last=i == len(words) - 1):
                    tokens.extend([pre, "."])
                    continue
            tokens.append(word)
        if self.escape:
            tokens = [_escape(t) for t in tokens]
        if self.lowercase:
            tokens = [t.lower() for t in tokens]
        return tokens

    def _keeps_period(self, pre: str, is_last: bool) -> bool:
        if "." in pre and re.search(_ALPHA, pre):
            return True
        if len(pre) == 1 and pre.isupper():
            return True
        if is_last and self.lang == "en":  # the English corpus splits "st." at the end: "3rd st ."
            return False
        # Initials are lower-cased in the corpus ("john a. noble", "linie a."), and it keeps
        # German and French prefixes whole even at the end ("d' art.", "nummer 10."): without
        # these rules a line copied from the corpus would not come back as its own tokens.
        if len(pre) == 1 and pre.isalpha():
            return True
        if pre.lower() in _NONBREAKING[self.lang]:
            return True
        # German ordinals ("am 25. mai"); at the end only one or two digits ("nummer 10." but "281 .")
        return self.lang == "de" and pre.isdigit() and (not is_last or len(pre) <= 2)

    # ------------------------------------------------------------------ detokenize

    def detokenize(self, tokens: Sequence[str]) -> str:
        pieces = []
        glue_next = True  # no space before the first token
        in_quote = False
        for raw in tokens:
            tok = _unescape(raw)
            if tok == '"':
                # Quotes alternate: an opening one sticks to the next word, a closing one
                # to the previous.
                in_quote = not in_quote
                glue, glue_next = (glue_next, True) if in_quote else (True, False)
            else:
                clitic = self.lang == "en" and len(tok) > 1 and tok.startswith("'")  # 's 't
                elision = self.lang == "fr" and len(tok) > 1 and tok.endswith("'")  # l' qu'
                glue = glue_next or clitic or tok in _NO_SPACE_BEFORE
                glue_next = elision or tok in _NO_SPACE_AFTER
            pieces.append(tok if glue else " " + tok)
        return "".join(pieces)


def _escape(token: str) -> str:
    for char, entity in _ESCAPE:
        token = token.replace(char, entity)
    return token


def _unescape(token: str) -> str:
    return _UNESCAPE.sub(lambda m: _UNESCAPE_MAP[m.group()], token)


# --------------------------------------------------------------------------- JSON

_BY_NAME = {
    CharTokenizer.name: CharTokenizer,
    WhitespaceTokenizer.name: WhitespaceTokenizer,
    MosesLikeTokenizer.name: MosesLikeTokenizer,
    SentenceGridTokenizer.name: SentenceGridTokenizer,
}


def tokenizer_from_json(d):
    """Rebuild a tokenizer from its ``to_json()``; raises :class:`DataError` if malformed."""
    if not isinstance(d, dict) or d.get("name") not in _BY_NAME:
        name = d.get("name") if isinstance(d, dict) else d
        raise DataError(f"unknown tokenizer {name!r}: expected one of {', '.join(_BY_NAME)}")
    if d["name"] == SentenceGridTokenizer.name:
        if not isinstance(d.get("words"), int) or not isinstance(d.get("ends"), list):
            raise DataError(f"malformed tokenizer JSON: a sentence grid needs 'words' and 'ends', got {d}")
        return SentenceGridTokenizer(d["words"], d["ends"])
    if d["name"] != MosesLikeTokenizer.name:
        return _BY_NAME[d["name"]]()
    try:
        return MosesLikeTokenizer(
            lang=d.get("lang", "en"),
            lowercase=bool(d.get("lowercase", True)),
            escape=bool(d.get("escape", True)),
        )
    except ValueError as exc:
        raise DataError(f"malformed tokenizer JSON: {exc}") from exc
