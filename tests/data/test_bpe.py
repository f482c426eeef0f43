"""Byte-pair encoding: the merges learned, applying and undoing them, saving, and agreement
with subword-nmt (the authors' implementation) merge for merge."""

import io
import json
import random
from pathlib import Path

import pytest

from minis2s.data.bpe import BPE, count_words, learn_bpe, merge_step, word_symbols
from minis2s.data.vocab import Vocab
from minis2s.errors import DataError, UserError

MIRROR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "multi30k"
SENNRICH = {"low": 5, "lower": 2, "newest": 6, "widest": 3}  # the paper's example


def synthetic_lines(n=400, seed=0):
    """Sentences of made-up words with a Zipf-like spread, runs of one letter ("aaaa",
    where pairs overlap) and a few '@' words."""
    rng = random.Random(seed)
    stems = ["".join(rng.choice("abcdeilnorst") for _ in range(rng.randint(1, 7))) for _ in range(60)]
    stems += ["aaaa", "aaa", "abab", "@", "x@y", "e-mail"]
    endings = ["", "s", "er", "est", "ing", "ed"]
    weights = [1 / (k + 1) for k in range(len(stems))]
    return [" ".join(rng.choices(stems, weights)[0] + rng.choice(endings) for _ in range(rng.randint(1, 12)))
            for _ in range(n)]


def textbook_bpe(counts, num_merges, min_frequency=2):
    """The textbook loop: recount every pair of every word before each merge (merge_step)."""
    words = {word_symbols(w): n for w, n in counts.items()}
    merges = []
    for _ in range(num_merges):
        best, n, merged = merge_step(words)
        if best is None or n < min_frequency:
            break
        merges.append(best)
        words = merged
    return merges


# --------------------------------------------------------------------------- learning


def test_the_most_frequent_pair_is_merged_first_and_ties_go_to_the_larger_pair():
    merges = learn_bpe(SENNRICH, 4)
    # e s and s t</w> both occur 9 times (newest 6, widest 3); 's' > 'e', so s t</w> wins
    assert merges[0] == ("s", "t</w>")
    assert merges[1] == ("e", "st</w>")  # 9 again, now the only pair that frequent
    assert merges[2] == ("l", "o")  # 7: low 5 + lower 2
    assert merges[3] == ("w", "est</w>")  # 6, tied with n e and e w (newest): 'w' is largest


def test_one_merge_step_weights_pairs_by_word_count_and_merges_every_occurrence():
    words = {("a", "b", "a", "b", "c</w>"): 3, ("a", "b</w>"): 1, ("c", "a", "b", "c</w>"): 4}
    pair, n, merged = merge_step(words)
    # (a, b): twice in ababc (3 x 2) + once in cabc (4) = 10; next (b, c</w>): 3 + 4 = 7
    assert (pair, n) == (("a", "b"), 10)
    assert merged == {("ab", "ab", "c</w>"): 3, ("a", "b</w>"): 1, ("c", "ab", "c</w>"): 4}
    assert merge_step({("x</w>",): 2}) == (None, 0, {("x</w>",): 2})


def test_incremental_counts_give_the_merges_of_recounting_from_scratch():
    counts = count_words(synthetic_lines())
    assert learn_bpe(counts, 300) == textbook_bpe(counts, 300)


def test_learning_stops_when_no_pair_occurs_twice():
    counts = {"ab": 1, "cd": 1}
    assert learn_bpe(counts, 10) == []
    assert learn_bpe(counts, 10, min_frequency=1) == textbook_bpe(counts, 10, min_frequency=1)
    # with min_frequency 1 every word ends as one symbol, so the merges run out: 2 per word
    assert len(learn_bpe(counts, 10, min_frequency=1)) == 2


def test_exactly_num_merges_come_back_when_the_corpus_has_enough_pairs():
    lines = synthetic_lines()
    for n in (0, 1, 50, 200):
        assert len(learn_bpe(lines, n)) == n


def test_lines_token_lists_and_counts_in_any_order_learn_the_same_merges():
    lines = synthetic_lines()
    counts = count_words(lines)
    shuffled = dict(sorted(counts.items(), key=lambda kv: kv[0][::-1]))
    expected = learn_bpe(lines, 150)
    assert learn_bpe([l.split() for l in lines], 150) == expected
    assert learn_bpe(shuffled, 150) == expected


def test_negative_arguments_are_refused():
    with pytest.raises(ValueError, match="num_merges"):
        learn_bpe(SENNRICH, -1)
    with pytest.raises(ValueError, match="min_frequency"):
        learn_bpe(SENNRICH, 5, min_frequency=0)


# --------------------------------------------------------------------------- applying


def test_a_word_seen_in_training_is_rebuilt_by_replaying_the_merges():
    bpe = BPE.learn(SENNRICH, 20)
    assert bpe.segment("newest") == ("newest",)
    # an unseen word: l+o and w+est</w> (merges 3, 4) apply, and no merge joins lo and west
    assert ("lo", "west</w>") not in bpe.merges
    assert bpe.segment("lowest") == ("lo", "west")
    assert bpe.encode(["lowest", "low"]) == ["lo@@", "west", "low"]


def test_unknown_characters_stay_single_pieces_and_round_trip():
    bpe = BPE.learn(synthetic_lines(), 200)
    words = ["zürich", "straße", "日本", "a", "ü"]
    tokens = bpe.encode(words)
    assert {"ü@@", "ß@@", "日@@", "本", "ü"} <= set(tokens)
    assert bpe.decode(tokens) == words


def test_encode_then_decode_is_the_identity_on_a_synthetic_corpus():
    lines = synthetic_lines()
    bpe = BPE.learn(lines[:300], 200)
    for line in lines:  # 100 of them unseen in training
        words = line.split()
        assert bpe.decode(bpe.encode(words)) == words


def test_words_that_end_in_the_separator_still_round_trip():
    bpe = BPE.learn(["a@@ a@@ x@@ @@ b@@@ a@@b"] * 3, 50)
    words = ["a@@", "@@", "@@@", "b@@@", "a@@b", "x@@", "@", "lo@@", "c"]
    tokens = bpe.encode(words)
    assert all(not t.endswith("@@") for t in (bpe.segment(w)[-1] for w in words))
    assert bpe.decode(tokens) == words


def test_decode_keeps_an_unfinished_last_word():
    assert BPE.decode(["the", "lo@@", "w@@"]) == ["the", "low"]


def test_the_cache_returns_the_same_pieces_and_stays_bounded(monkeypatch):
    bpe = BPE.learn(synthetic_lines(), 100)
    monkeypatch.setattr(BPE, "CACHE_SIZE", 5)
    first = [bpe.segment(w) for w in synthetic_lines(20, seed=1)[0].split()]
    assert [bpe.segment(w) for w in synthetic_lines(20, seed=1)[0].split()] == first
    assert len(bpe._cache) <= 5


# --------------------------------------------------------------------------- saving and matching


def test_json_round_trip_keeps_merges_and_fingerprint(tmp_path):
    bpe = BPE.learn(synthetic_lines(), 120)
    again = BPE.from_json(json.loads(json.dumps(bpe.to_json())))
    assert again == bpe and again.fingerprint == bpe.fingerprint
    path = bpe.save(tmp_path / "bpe.json")
    loaded = BPE.load(path)
    assert loaded == bpe and loaded.encode(["abab", "aaaa"]) == bpe.encode(["abab", "aaaa"])


def test_fingerprints_differ_when_the_merges_do():
    lines = synthetic_lines()
    assert BPE.learn(lines, 100).fingerprint != BPE.learn(lines, 101).fingerprint
    assert BPE.learn(lines, 100).fingerprint == BPE.learn(lines, 100).fingerprint


@pytest.mark.parametrize("edit, says", [
    (lambda d: [], "must be an object"),
    (lambda d: {**d, "format": "minis2s.vocab"}, "not a minis2s BPE model"),
    (lambda d: {**d, "version": 99}, "unsupported BPE model version"),
    (lambda d: {**d, "separator": "##"}, "separator"),
    (lambda d: {k: v for k, v in d.items() if k != "merges"}, "no 'merges' list"),
    (lambda d: {**d, "merges": d["merges"] + [["a"]]}, "pair of non-empty strings"),
    (lambda d: {**d, "merges": [["ab", "c"]] + d["merges"]}, "which no earlier merge makes"),
    (lambda d: {**d, "merges": d["merges"][::-1]}, "no earlier merge makes|fingerprint"),
    (lambda d: {**d, "merges": d["merges"][:-1]}, "edited or damaged"),
])
def test_a_malformed_model_is_one_clear_data_error(edit, says):
    d = BPE.learn(SENNRICH, 6).to_json()
    with pytest.raises(DataError, match=says) as exc:
        BPE.from_json(edit(d))
    assert "\n" not in str(exc.value)


def test_a_file_that_is_missing_or_not_json_is_one_line_naming_it(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        BPE.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "minis2s.bpe", "merges": [')
    with pytest.raises(DataError, match=f"{bad}.*not valid JSON") as exc:
        BPE.load(bad)
    assert "\n" not in str(exc.value)
    bad.write_text(json.dumps({"format": "minis2s.bpe", "version": 1, "merges": 3}))
    with pytest.raises(UserError, match=f"{bad}: BPE JSON has no 'merges' list"):
        BPE.load(bad)


def test_a_stored_fingerprint_that_is_not_ours_is_refused():
    lines = synthetic_lines()
    bpe, other = BPE.learn(lines, 100), BPE.learn(lines, 90)
    bpe.check_fingerprint(bpe.fingerprint)
    with pytest.raises(DataError, match="does not match the checkpoint's vocabulary") as exc:
        bpe.check_fingerprint(other.fingerprint, what="the checkpoint's vocabulary")
    assert "\n" not in str(exc.value)


def test_a_vocabulary_from_other_pieces_or_from_words_does_not_match():
    lines = synthetic_lines()
    bpe = BPE.learn(lines, 150)
    own = Vocab.build(bpe.encode(l.split()) for l in lines)
    bpe.check_vocab(own)
    other = BPE.learn([l[::-1] for l in lines], 150)  # words spelled backwards
    with pytest.raises(DataError, match="can never come out of it") as exc:
        bpe.check_vocab(Vocab.build(other.encode(l.split()) for l in lines))
    assert "\n" not in str(exc.value)
    with pytest.raises(DataError, match="does not match"):
        BPE.learn(lines, 5).check_vocab(Vocab.build(l.split() for l in lines))


# --------------------------------------------------------------------------- Multi30k and subword-nmt


def multi30k_lines(split, lang):
    names = {"train": "train", "val": "val", "test2016": "test_2016_flickr"}
    path = MIRROR / f"{names[split]}.lc.norm.tok.{lang}"
    if not path.is_file():
        pytest.skip(f"no Multi30k mirror at {MIRROR}")
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def multi30k_bpe():
    lines = multi30k_lines("train", "de") + multi30k_lines("train", "en")
    return lines, BPE.learn(lines, 10_000)


@pytest.mark.slow
def test_encode_then_decode_is_the_identity_on_every_multi30k_sentence(multi30k_bpe):
    _, bpe = multi30k_bpe
    for split in ("train", "val", "test2016"):
        for lang in ("de", "en"):
            for line in multi30k_lines(split, lang):
                words = line.split()
                assert bpe.decode(bpe.encode(words)) == words, line


def subword_nmt_merges(lines, num_merges):
    learn = pytest.importorskip("subword_nmt.learn_bpe")
    codes = io.StringIO()
    learn.learn_bpe(io.StringIO("\n".join(lines) + "\n"), codes, num_merges)
    return codes.getvalue()


def assert_same_as_subword_nmt(lines, bpe, codes):
    apply = pytest.importorskip("subword_nmt.apply_bpe")
    header, *rows = codes.splitlines()
    assert header == "#version: 0.2"
    assert [tuple(r.split(" ")) for r in rows] == bpe.merges
    theirs = apply.BPE(io.StringIO(codes))
    mismatched = [l for l in lines if theirs.segment_tokens(l.split()) != bpe.encode(l.split())]
    assert mismatched == []


def test_merges_and_segmentations_match_subword_nmt_on_a_synthetic_corpus():
    lines = synthetic_lines()
    codes = subword_nmt_merges(lines, 300)
    assert_same_as_subword_nmt(lines, BPE.learn(lines, 300), codes)


@pytest.mark.slow
def test_merges_and_segmentations_match_subword_nmt_on_multi30k(multi30k_bpe):
    lines, bpe = multi30k_bpe
    codes = subword_nmt_merges(lines, 10_000)
    assert len(bpe) == 10_000
    assert_same_as_subword_nmt(lines + multi30k_lines("val", "de") + multi30k_lines("val", "en"), bpe, codes)
