import json

import pytest

from minis2s.data.vocab import Vocab
from minis2s.errors import DataError


def test_specials_have_fixed_ids():
    v = Vocab.build([["x"]])
    assert [v.id_to_token(i) for i in range(4)] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert (v.pad_id, v.sos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert (Vocab.PAD, Vocab.SOS, Vocab.EOS, Vocab.UNK) == ("<pad>", "<sos>", "<eos>", "<unk>")
    assert v.encode([Vocab.EOS]) == [Vocab.eos_id]


def test_build_orders_by_frequency_then_token():
    v = Vocab.build([["b", "a", "c"], ["c", "b", "d"], ["c"]])
    assert v.tokens[4:] == ["c", "b", "a", "d"]  # c:3, then b:2, then a and d (1) by token


def test_build_is_independent_of_input_order():
    data = [["q", "w", "e"], ["e", "w"], ["z", "q"]]
    assert Vocab.build(data).tokens == Vocab.build(reversed(data)).tokens


def test_build_min_freq_and_max_size():
    data = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert Vocab.build(data, min_freq=2).tokens[4:] == ["a", "b", "c"]
    assert Vocab.build(data, max_size=6).tokens[4:] == ["a", "b"]
    assert len(Vocab.build(data, max_size=6)) == 6


def test_build_does_not_duplicate_specials_found_in_data():
    v = Vocab.build([["<unk>", "<pad>", "a"]])
    assert v.tokens == ["<pad>", "<sos>", "<eos>", "<unk>", "a"]


def test_build_rejects_bad_limits():
    with pytest.raises(ValueError):
        Vocab.build([["a"]], min_freq=0)
    with pytest.raises(ValueError):
        Vocab.build([["a"]], max_size=3)


def test_encode_maps_unknown_to_unk_and_adds_markers():
    v = Vocab.build([["a", "b"]])
    assert v.encode(["a", "z", "b"]) == [4, 3, 5]
    assert v.encode(["a"], add_sos=True, add_eos=True) == [1, 4, 2]


def test_encode_with_unknowns_reports_the_unknown_tokens():
    v = Vocab.build([["a", "b"]])
    ids, unknown = v.encode_with_unknowns(["z", "a", "y", "z"], add_eos=True)
    assert ids == [3, 4, 3, 3, 2]
    assert unknown == ["z", "y", "z"]
    assert v.encode_with_unknowns(["a", "<unk>"])[1] == []  # a literal <unk> is not news


def test_decode_stops_at_eos_and_drops_pad_and_sos():
    v = Vocab.build([["a", "b"]])
    assert v.decode([1, 4, 0, 5, 3, 2, 4, 0]) == ["a", "b", "<unk>"]
    assert v.decode([1, 4, 2, 0], strip_specials=False) == ["<sos>", "a", "<eos>", "<pad>"]


def test_decode_rejects_out_of_range_ids():
    v = Vocab.build([["a"]])
    with pytest.raises(IndexError):
        v.decode([99])


def test_len_contains_and_lookups():
    v = Vocab.build([["a", "b"]])
    assert len(v) == 6
    assert "a" in v and "z" not in v
    assert v.encode(["z"]) == [v.unk_id]
    assert v.id_to_token(v.encode(["b"])[0]) == "b"


def test_json_round_trip_through_text():
    v = Vocab.build([["ein", "mann", "ein"]])
    again = Vocab.from_json(json.loads(json.dumps(v.to_json())))
    assert again == v and again.tokens == v.tokens


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"tokens": ["<pad>", "<sos>", "<eos>", "<unk>"]},
        {"format": "minis2s.vocab", "version": 99, "tokens": ["<pad>", "<sos>", "<eos>", "<unk>"]},
        {"format": "minis2s.vocab", "version": 1},
        {"format": "minis2s.vocab", "version": 1, "tokens": ["a", "<sos>", "<eos>", "<unk>"]},
        {"format": "minis2s.vocab", "version": 1, "tokens": ["<pad>", "<sos>", "<eos>", "<unk>", "a", "a"]},
        {"format": "minis2s.vocab", "version": 1, "tokens": ["<pad>", "<sos>", "<eos>", "<unk>", 5]},
    ],
)
def test_from_json_rejects_malformed(bad):
    with pytest.raises(DataError):
        Vocab.from_json(bad)


def test_constructor_requires_specials_first():
    with pytest.raises(DataError):
        Vocab(["a", "b"])
