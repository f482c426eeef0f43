"""Greedy, beam search and sampling: their invariants on a random model whose sentences end at
different steps, and beam search on a model trained for a few seconds on the dates task."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.data import Vocab, batches_for_inference
from minis2s.decode import beam_search, filtered_probs, greedy, sample
from minis2s.train import TrainConfig, build_run


def _random_model_with_ragged_endings():
    from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig

    cfg = Seq2SeqConfig(src_vocab=12, tgt_vocab=12, emb=8, hidden=16, cell="gru", attention="dot")
    model = Seq2Seq(cfg, seed=4)
    rng = np.random.default_rng(4)
    for p in model.params.values():
        p[...] = B.to_device(rng.normal(0.0, 0.6, size=p.shape), p.dtype)
    model.params["out.b"][Vocab.eos_id] += 1.2  # <eos> wins at some steps of some sentences
    ids = [rng.integers(4, 12, size=int(rng.integers(2, 9))).tolist() for _ in range(24)]
    return model, ids


@pytest.fixture
def random_model():
    """(model, batch of its 24 sources): no training needed for what these tests check."""
    model, ids = _random_model_with_ragged_endings()
    (batch,), _ = batches_for_inference(ids, len(ids))
    return model, batch


def test_beam_of_one_is_greedy_token_for_token(random_model):
    model, batch = random_model
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, max_len=40)
    b = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=1, alpha=0.0, max_len=40)
    assert g.ids == b.ids
    np.testing.assert_allclose(g.scores, b.scores, rtol=1e-5, atol=1e-5)


def test_beam_search_never_scores_below_greedy(random_model):
    model, batch = random_model
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, max_len=40)
    b = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=4, alpha=0.0, max_len=40)
    assert all(sb >= sg - 1e-4 for sb, sg in zip(b.scores, g.scores))
    assert any(sb > sg + 1e-4 for sb, sg in zip(b.scores, g.scores)), "the beam must find a better output somewhere"


def test_sampling_with_top_k_one_is_greedy(random_model):
    model, batch = random_model
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id)
    s = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(0), top_k=1)
    assert s.ids == g.ids


def test_sampling_is_deterministic_given_a_seed_and_varies_across_seeds(random_model):
    model, batch = random_model
    kw = dict(temperature=3.0)
    a = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(5), **kw)
    b = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(5), **kw)
    c = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(6), **kw)
    assert a.ids == b.ids and a.ids != c.ids


@pytest.mark.slow
def test_a_trained_model_decodes_dates_with_beam_search(tmp_path):
    task_cfg = {"kind": "toy", "name": "dates", "seed": 0, "data": {"n_train": 8000, "n_test": 60}}
    tc = TrainConfig(max_steps=700, batch_size=64, lr=5e-3, eval_every=0)
    task, trainer = build_run(task_cfg, dict(cell="gru", emb=16, hidden=48, attention="additive"), tc, tmp_path,
                              quiet=True)
    trainer.fit()
    ids = [task.src_vocab.encode(s) for s, _ in task.test]
    (batch,), _ = batches_for_inference(ids, len(ids))
    out = beam_search(trainer.model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=3)
    refs = [task.test[i][1] for i in batch.index.tolist()]
    hyps = [task.tgt_vocab.decode(seq) for seq in out.ids]
    assert sum(h == r for h, r in zip(hyps, refs)) / len(refs) > 0.5


def test_nucleus_keeps_the_smallest_set_reaching_top_p(backend):
    logp = B.to_device(np.log(np.array([[0.5, 0.3, 0.15, 0.05]])), "float64")
    kept = B.to_host(filtered_probs(logp, top_p=0.7))
    assert (kept > 0).tolist() == [[True, True, False, False]]
    kept = B.to_host(filtered_probs(logp, top_k=3))
    assert (kept > 0).tolist() == [[True, True, True, False]]


def test_best_n_equals_a_full_sort(backend):
    """beam search's top-2k: the chunk-maximum bound must never lose an entry a full sort keeps."""
    from minis2s.decode import best_n

    rng = np.random.default_rng(0)
    for trial in range(40):
        Bsz, N, n = int(rng.integers(1, 6)), int(rng.integers(1, 400)), int(rng.integers(1, 12))
        n = min(n, N)
        x = rng.standard_normal((Bsz, N)).astype("float32")
        if trial % 3 == 0:
            x = np.round(x, 1)  # ties: the lowest index comes first, as in a stable sort
        x[0, rng.random(N) < 0.7] = -np.inf  # a row with few finite entries
        if Bsz > 1:
            x[1] = -np.inf  # a finished sentence
        top, scores = best_n(B.to_device(x), n)
        want = np.argsort(-x, axis=1, kind="stable")[:, :n]
        want_scores = np.take_along_axis(x, want, axis=1)
        np.testing.assert_array_equal(scores, want_scores)
        finite = np.isfinite(want_scores)
        if B.get_backend() == "numpy":
            np.testing.assert_array_equal(top[finite], want[finite])
        else:  # a device argpartition picks among tied entries in no set order
            rows = np.nonzero(finite)[0]
            np.testing.assert_array_equal(x[rows, top[finite]], scores[finite])
            assert all(len(set(r[f])) == f.sum() for r, f in zip(top, finite))


def test_greedy_drops_finished_rows_without_changing_any_output(backend):
    model, ids = _random_model_with_ragged_endings()
    (batch,), _ = batches_for_inference(ids, len(ids))
    src, mask = B.to_device(batch.src), B.to_device(batch.src_mask, B.float_dtype())
    together = greedy(model, src, mask, Vocab.sos_id, Vocab.eos_id, max_len=40)
    lengths = sorted(len(x) for x in together.ids)
    assert lengths[0] < 7 and lengths[-1] > 8, f"the rows must end at different checks: {lengths}"
    dense = greedy(model, src, mask, Vocab.sos_id, Vocab.eos_id, max_len=40, return_attention=True)
    assert together.ids == dense.ids
    np.testing.assert_allclose(together.scores, dense.scores, rtol=1e-5)
    for row, index in enumerate(batch.index.tolist()):
        (single,), _ = batches_for_inference([ids[index]], 1)
        alone = greedy(model, B.to_device(single.src), B.to_device(single.src_mask, B.float_dtype()),
                       Vocab.sos_id, Vocab.eos_id, max_len=40)
        assert alone.ids[0] == together.ids[row]


def test_beam_search_drops_finished_sentences_without_changing_any_output(backend):
    model, ids = _random_model_with_ragged_endings()
    (batch,), _ = batches_for_inference(ids, len(ids))
    src, mask = B.to_device(batch.src), B.to_device(batch.src_mask, B.float_dtype())
    together = beam_search(model, src, mask, Vocab.sos_id, Vocab.eos_id, beam=3, max_len=40)
    lengths = sorted(len(x) for x in together.ids)
    assert lengths[0] < lengths[-1], f"sentences must finish at different steps: {lengths}"
    for row, index in enumerate(batch.index.tolist()):
        (single,), _ = batches_for_inference([ids[index]], 1)
        alone = beam_search(model, B.to_device(single.src), B.to_device(single.src_mask, B.float_dtype()),
                            Vocab.sos_id, Vocab.eos_id, beam=3, max_len=40)
        assert alone.ids[0] == together.ids[row]
        assert abs(alone.scores[0] - together.scores[row]) < 1e-4


def test_beam_search_memory_estimate_is_near_the_measured_peak():
    # the estimate that refuses a beam too large for the memory (minis2s.inference) must be
    # neither far above the truth (refusing beams that fit) nor far below (letting one swap)
    import tracemalloc

    from minis2s.decode import beam_search_bytes
    from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig

    cfg = Seq2SeqConfig(src_vocab=50, tgt_vocab=3000, cell="lstm", emb=16, hidden=32, bidirectional=True,
                        attention="additive")
    model = Seq2Seq(cfg, seed=0)
    rng = np.random.default_rng(0)
    ids = [list(rng.integers(4, 50, 11)) for _ in range(6)]  # untrained: runs to the length limit
    (batch,), _ = batches_for_inference(ids, len(ids))
    mask = batch.src_mask.astype(np.float32)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        beam_search(model, batch.src, mask, Vocab.sos_id, Vocab.eos_id, beam=8)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    estimate = beam_search_bytes(cfg, len(ids), 8, batch.src.shape[1])
    assert 0.7 <= estimate / peak <= 1.5, (estimate, peak)
