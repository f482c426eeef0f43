import json
import random

import numpy as np
import pytest

from minis2s.data.batching import Batcher, batches_for_inference, make_batch, pad, restore_order
from minis2s.data.vocab import Vocab
from minis2s.errors import DataError

PAD, SOS, EOS = Vocab.pad_id, Vocab.sos_id, Vocab.eos_id


def corpus(n=2000, seed=0, max_len=40):
    """Pairs with widely varying lengths, ids >= 4 (no specials)."""
    r = random.Random(seed)
    pairs = []
    for _ in range(n):
        m = r.randint(1, max_len)
        src = [r.randint(4, 50) for _ in range(m)]
        tgt = [r.randint(4, 50) for _ in range(max(1, m + r.randint(-3, 3)))]
        pairs.append((src, tgt))
    return pairs


def as_lists(batches):
    return [(b.index.tolist(), b.src.tolist(), b.tgt_in.tolist()) for b in batches]


def test_pad_fills_short_rows_and_masks_them():
    ids, mask = pad([[5, 6, 7], [8], []], pad_id=0)
    assert ids.dtype == np.int64 and mask.dtype == np.float32
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert pad([[1]], pad_id=9)[0].tolist() == [[1]]
    assert pad([[4], [4, 4]], pad_id=9)[0].tolist() == [[4, 9], [4, 4]]


def test_pad_refuses_an_empty_list():
    with pytest.raises(ValueError):
        pad([])


def test_make_batch_places_sos_and_eos():
    b = make_batch([[4, 5, 6], [7]], [[8, 9], [10, 11, 12]])
    assert b.src.tolist() == [[4, 5, 6, EOS], [7, EOS, PAD, PAD]]
    assert b.src_mask.tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert b.tgt_in.tolist() == [[SOS, 8, 9, PAD], [SOS, 10, 11, 12]]
    assert b.tgt_out.tolist() == [[8, 9, EOS, PAD], [10, 11, 12, EOS]]
    assert b.tgt_mask.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert (b.n_src_tokens, b.n_tgt_tokens) == (6, 7)
    assert b.index.tolist() == [0, 1] and len(b) == 2
    assert all(a.dtype == np.int64 for a in (b.src, b.tgt_in, b.tgt_out, b.index))
    assert b.src_mask.dtype == np.float32 and b.tgt_mask.dtype == np.float32


def test_make_batch_checks_ids_against_the_vocabularies():
    v = Vocab.build([["a", "b"]])  # ids 0..5
    make_batch([[4]], [[5]], v, v)
    with pytest.raises(DataError, match="tgt"):
        make_batch([[4]], [[6]], v, v)
    with pytest.raises(ValueError):
        make_batch([[4]], [[5], [5]])


def test_batcher_covers_every_pair_once_per_epoch():
    pairs = corpus(1000)
    batcher = Batcher(pairs, batch_size=32, seed=3)
    for _ in range(2):
        seen = sorted(i for b in batcher for i in b.index.tolist())
        assert seen == list(range(len(pairs)))
    assert batcher.epoch == 2 and len(batcher) == batcher.batches_per_epoch() == 32


def test_batch_rows_match_their_index():
    pairs = corpus(300)
    for b in Batcher(pairs, batch_size=16, seed=1):
        for row, i in enumerate(b.index.tolist()):
            src, tgt = pairs[i]
            assert b.src[row, : len(src) + 1].tolist() == src + [EOS]
            assert b.tgt_out[row, : len(tgt) + 1].tolist() == tgt + [EOS]


def test_bucketing_pads_much_less_than_random_batches():
    pairs = corpus(3000)
    bucketed = Batcher(pairs, batch_size=32, bucket=True, seed=0)
    plain = Batcher(pairs, batch_size=32, bucket=False, seed=0)
    list(bucketed), list(plain)
    assert bucketed.padding_share < 0.5 * plain.padding_share
    assert 0.0 <= bucketed.padding_share < 0.1 and plain.padding_share > 0.2


def test_bucketed_order_is_still_random_across_epochs():
    batcher = Batcher(corpus(3000), batch_size=32, seed=0)
    first = [b.index.tolist() for b in batcher]
    second = [b.index.tolist() for b in batcher]
    assert first != second
    lengths = [len(b.src[0]) for b in Batcher(corpus(3000), batch_size=32, seed=0)]
    assert lengths != sorted(lengths) and lengths != sorted(lengths, reverse=True)


def test_order_is_deterministic_given_seed_and_epoch():
    pairs = corpus(500)
    a = Batcher(pairs, batch_size=20, seed=7)
    b = Batcher(pairs, batch_size=20, seed=7)
    c = Batcher(pairs, batch_size=20, seed=8)
    epoch_a = as_lists(a)
    assert epoch_a == as_lists(b)
    assert [x[0] for x in epoch_a] != [x[0] for x in as_lists(c)]
    assert [r.tolist() for r in a.plan(5)] == [r.tolist() for r in b.plan(5)]


def test_no_shuffle_no_bucket_keeps_data_order():
    batcher = Batcher(corpus(50), batch_size=16, shuffle=False, bucket=False)
    assert [b.index.tolist() for b in batcher] == [
        list(range(0, 16)), list(range(16, 32)), list(range(32, 48)), [48, 49]
    ]


def test_next_batch_returns_none_once_at_epoch_end():
    batcher = Batcher(corpus(40), batch_size=16)
    got = [batcher.next_batch() for _ in range(4)]
    assert [g is None for g in got] == [False, False, False, True]
    assert batcher.epoch == 1 and batcher.position == 0
    assert batcher.next_batch() is not None


@pytest.mark.parametrize("consumed", [0, 5, 31, 32, 45])
def test_state_round_trip_resumes_the_exact_remaining_batches(consumed):
    pairs = corpus(1000)
    reference = Batcher(pairs, batch_size=32, seed=11)
    expected = []
    while len(expected) < consumed + 40:
        b = reference.next_batch()
        expected.append(None if b is None else (b.index.tolist(), b.src.tolist(), b.tgt_out.tolist()))

    first = Batcher(pairs, batch_size=32, seed=11)
    for _ in range(consumed):
        first.next_batch()
    state = json.loads(json.dumps(first.state_dict()))

    resumed = Batcher(pairs, batch_size=32, seed=11)
    resumed.load_state_dict(state)
    got = []
    for _ in range(40):
        b = resumed.next_batch()
        got.append(None if b is None else (b.index.tolist(), b.src.tolist(), b.tgt_out.tolist()))
    assert got == expected[consumed:]


def test_load_state_refuses_other_data_or_settings():
    pairs = corpus(100)
    state = Batcher(pairs, batch_size=10, seed=1).state_dict()
    with pytest.raises(DataError, match="batch_size"):
        Batcher(pairs, batch_size=20, seed=1).load_state_dict(state)
    with pytest.raises(DataError, match="n_pairs"):
        Batcher(pairs[:50], batch_size=10, seed=1).load_state_dict(state)
    with pytest.raises(DataError):
        Batcher(pairs, batch_size=10, seed=1).load_state_dict({"epoch": "x"})


def test_batcher_refuses_empty_data():
    with pytest.raises(DataError):
        Batcher([], batch_size=4)


def test_inference_batches_are_sorted_and_restore_order():
    srcs = [[4] * n for n in (3, 9, 1, 7, 7, 2, 5)]
    batches, order = batches_for_inference(srcs, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert order.tolist() == [i for b in batches for i in b.index.tolist()]
    lengths = [int(b.src_mask.sum(axis=1).max()) for b in batches]
    assert lengths == sorted(lengths, reverse=True)
    assert all(b.tgt_in is None and b.n_tgt_tokens == 0 for b in batches)
    for b in batches:
        for row, i in enumerate(b.index.tolist()):
            assert b.src[row, : len(srcs[i]) + 1].tolist() == srcs[i] + [EOS]
    # a fake "model" that reports each row's length; put back in the original order
    outputs = [int(n) - 1 for b in batches for n in b.src_mask.sum(axis=1)]
    assert restore_order(outputs, order) == [len(s) for s in srcs]


def test_inference_batches_depend_on_the_set_of_sentences_not_their_order():
    # equal lengths are ordered by ids: a shuffled file gets the same batches, so the same outputs
    srcs = [[4, 5], [9, 9], [6, 7], [5, 5], [8, 4, 4], [7, 6]]
    shuffled = [srcs[i] for i in (3, 0, 5, 1, 4, 2)]
    batches_a, _ = batches_for_inference(srcs, batch_size=2)
    batches_b, _ = batches_for_inference(shuffled, batch_size=2)
    for a, b in zip(batches_a, batches_b):
        assert a.src.tolist() == b.src.tolist()
    assert [srcs[i] for i in batches_a[1].index.tolist()] == [[5, 5], [6, 7]]
