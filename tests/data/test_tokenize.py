import json
from pathlib import Path

import pytest

from minis2s.data.tokenize import (
    CharTokenizer,
    MosesLikeTokenizer,
    SentenceGridTokenizer,
    WhitespaceTokenizer,
    tokenizer_from_json,
)
from minis2s.errors import DataError

MULTI30K = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "multi30k"


def test_char_tokenizer_round_trips_exactly():
    t = CharTokenizer()
    text = "Sep 27, 1994 ü"
    assert t.tokenize("ab c") == ["a", "b", " ", "c"]
    assert t.detokenize(t.tokenize(text)) == text


def test_whitespace_tokenizer():
    t = WhitespaceTokenizer()
    assert t.tokenize("  a man &apos;s\tdog . ") == ["a", "man", "&apos;s", "dog", "."]
    assert t.detokenize(["a", "dog", "."]) == "a dog ."


def test_sentence_grid_pads_each_sentence_to_its_slots_and_round_trips():
    t = SentenceGridTokenizer(4)
    text = "where is mary ? mary went to . john left"
    assert t.tokenize(text) == ["where", "is", "mary", "?", "mary", "went", "to", ".",
                                "john", "left", "<pad>", "<pad>"]
    assert t.detokenize(t.tokenize(text)) == text
    assert tokenizer_from_json(json.loads(json.dumps(t.to_json()))).tokenize(text) == t.tokenize(text)
    with pytest.raises(DataError, match="has 6 tokens, more than the 4 word slots"):
        t.tokenize("mary went to the kitchen .")


def test_moses_example_from_the_brief_raw_and_escaped():
    assert MosesLikeTokenizer("en", escape=False).tokenize("A man's dog.") == ["a", "man", "'s", "dog", "."]
    assert MosesLikeTokenizer("en").tokenize("A man's dog.") == ["a", "man", "&apos;s", "dog", "."]


@pytest.mark.parametrize(
    "lang, text, tokens",
    [
        ("en", 'Two men in "hard hats" (one red)!', ["two", "men", "in", "&quot;", "hard", "hats", "&quot;", "(", "one", "red", ")", "!"]),
        ("en", "A middle-aged man in a T-shirt; 95,000 fans, 5 dogs: ok?",
         ["a", "middle-aged", "man", "in", "a", "t-shirt", ";", "95,000", "fans", ",", "5", "dogs", ":", "ok", "?"]),
        ("en", "They don't see the 1990's kids' toys", ["they", "don", "&apos;t", "see", "the", "1990", "&apos;s", "kids", "&apos;", "toys"]),
        ("en", "Mr. Smith walks to St. Louis in the U.S. Wow...", ["mr.", "smith", "walks", "to", "st.", "louis", "in", "the", "u.s.", "wow", "..."]),
        ("en", "A dog runs. A cat sits.", ["a", "dog", "runs", ".", "a", "cat", "sits", "."]),
        ("en", "Rock & roll at 50% off", ["rock", "&amp;", "roll", "at", "50", "%", "off"]),
        ("en", "He\u2019s \u201cfine\u201d", ["he", "&apos;s", "&quot;", "fine", "&quot;"]),
        ("fr", "L'homme qu'il voit, aujourd'hui.", ["l&apos;", "homme", "qu&apos;", "il", "voit", ",", "aujourd&apos;", "hui", "."]),
        ("de", "Am 25. Mai geht's zur U-Bahn, bzw. zum Zug.",
         ["am", "25.", "mai", "geht", "&apos;", "s", "zur", "u-bahn", ",", "bzw.", "zum", "zug", "."]),
        ("de", "Er trägt 2,5 Kilo.", ["er", "trägt", "2,5", "kilo", "."]),
    ],
)
def test_moses_like_tokenization(lang, text, tokens):
    assert MosesLikeTokenizer(lang).tokenize(text) == tokens


def test_moses_keeps_case_when_asked():
    assert MosesLikeTokenizer("en", lowercase=False).tokenize("Hi Bob.") == ["Hi", "Bob", "."]


@pytest.mark.parametrize(
    "lang, tokens, text",
    [
        ("en", ["a", "man", "&apos;s", "&quot;", "red", "&quot;", "hat", ",", "ok", "."], 'a man\'s "red" hat, ok.'),
        ("en", ["(", "one", ")", "&amp;", "two", "!"], "(one) & two!"),
        ("fr", ["l&apos;", "homme", "d&apos;", "un", "chien", "."], "l'homme d'un chien."),
    ],
)
def test_moses_detokenize(lang, tokens, text):
    assert MosesLikeTokenizer(lang).detokenize(tokens) == text


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_moses_reproduces_the_multi30k_tokenization(lang):
    """Detokenizing a corpus line and tokenizing it again must give the corpus tokens back.
    The few misses are Moses's case-dependent rules, which a lower-cased corpus hides."""
    path = MULTI30K / f"train.lc.norm.tok.{lang}"
    if not path.exists():
        pytest.skip(f"{path} not present")
    t = MosesLikeTokenizer(lang)
    lines = path.read_text(encoding="utf-8").splitlines()[:5000]
    misses = [line for line in lines if t.tokenize(t.detokenize(line.split())) != line.split()]
    assert len(misses) / len(lines) < 0.005, misses[:5]


@pytest.mark.parametrize(
    "tokenizer",
    [CharTokenizer(), WhitespaceTokenizer(), MosesLikeTokenizer("fr", lowercase=False, escape=False)],
)
def test_json_round_trip(tokenizer):
    again = tokenizer_from_json(json.loads(json.dumps(tokenizer.to_json())))
    assert type(again) is type(tokenizer) and again.to_json() == tokenizer.to_json()
    assert again.name == tokenizer.name


@pytest.mark.parametrize("bad", [None, {}, {"name": "bpe"}, {"name": "moses", "lang": "xx"}])
def test_json_rejects_malformed(bad):
    with pytest.raises(DataError):
        tokenizer_from_json(bad)


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        MosesLikeTokenizer("es")


@pytest.mark.parametrize("lang, line", [
    ("de", "der spieler im schwarzen trikot mit der nummer 10."),
    ("de", "ein mann mit der zahl 281 ."),
    ("de", "eine person blickt auf einen bus der linie a."),
    ("fr", "un caniche noir joue avec un autre chien sur un terrain sec."),
    ("fr", "des gens admirent une œuvre d&apos; art."),
    ("en", "people are standing near 3rd st ."),
    ("en", "men are standing in john a. noble facility ."),
])
def test_corpus_lines_whose_last_word_keeps_its_period_come_back_unchanged(lang, line):
    # the lines of val and test2016 that the tokenizer changed before (translate and evaluate
    # must see the same tokens for the same line)
    assert MosesLikeTokenizer(lang).tokenize(line) == line.split()


def test_raw_text_still_splits_its_final_period():
    assert MosesLikeTokenizer("de").tokenize("Ein Hund läuft.") == ["ein", "hund", "läuft", "."]
    assert MosesLikeTokenizer("fr").tokenize("Un chien court.") == ["un", "chien", "court", "."]
    assert MosesLikeTokenizer("en").tokenize("He walks down St.") == ["he", "walks", "down", "st", "."]


def test_moses_like_tokenizer_leaves_pre_tokenized_corpus_lines_as_they_are():
    # translate reads raw or pre-tokenized lines; every val and test2016 line of the corpus
    # must come back token for token (3 of 6,042 did not before issue 11)
    import os

    mirror = Path(os.environ.get("MINIS2S_DATA") or MULTI30K)
    if not (mirror / "val.lc.norm.tok.de").is_file():
        pytest.skip("Multi30k mirror not present (set MINIS2S_DATA)")
    for lang in ("de", "en", "fr"):
        tok = MosesLikeTokenizer(lang)
        for split in ("val", "test_2016_flickr"):
            lines = (mirror / f"{split}.lc.norm.tok.{lang}").read_text(encoding="utf-8").splitlines()
            changed = [line for line in lines if tok.tokenize(line) != line.split()]
            assert changed == [], (lang, split, changed[:3])
    assert MosesLikeTokenizer("en").tokenize("a woman &apos;s shoulders .") == ["a", "woman", "&apos;s", "shoulders", "."]
