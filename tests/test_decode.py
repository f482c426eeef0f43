"""Greedy, beam search and sampling on a model trained for a few seconds on the dates task."""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.commands import build_run
from minis2s.data import Vocab, batches_for_inference
from minis2s.decode import beam_search, filtered_probs, greedy, sample
from minis2s.train import TrainConfig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("decode")
    task_cfg = {"kind": "toy", "name": "dates", "seed": 0, "data": {"n_train": 8000, "n_test": 60}}
    tc = TrainConfig(max_steps=700, batch_size=64, lr=5e-3, eval_every=0)
    task, trainer = build_run(task_cfg, dict(cell="gru", emb=16, hidden=48, attention="additive"), tc, out, quiet=True)
    trainer.fit()
    return task, trainer.model


def _sources(task, n=24):
    ids = [task.src_vocab.encode(s) for s, _ in task.test[:n]]
    (batch,), _ = batches_for_inference(ids, len(ids))
    return batch, ids


def test_beam_of_one_is_greedy_token_for_token(trained):
    task, model = trained
    batch, _ = _sources(task)
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id)
    b = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=1, alpha=0.0)
    assert g.ids == b.ids
    np.testing.assert_allclose(g.scores, b.scores, rtol=1e-5, atol=1e-5)


def test_beam_search_never_scores_below_greedy(trained):
    task, model = trained
    batch, _ = _sources(task, 60)
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id)
    b = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=4, alpha=0.0)
    assert all(sb >= sg - 1e-4 for sb, sg in zip(b.scores, g.scores))


def test_batched_and_one_at_a_time_beam_search_agree(trained):
    task, model = trained
    batch, ids = _sources(task, 12)
    together = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=3)
    for row, index in enumerate(batch.index.tolist()):
        (single,), _ = batches_for_inference([ids[index]], 1)
        alone = beam_search(model, single.src, single.src_mask, Vocab.sos_id, Vocab.eos_id, beam=3)
        assert alone.ids[0] == together.ids[row]
        assert abs(alone.scores[0] - together.scores[row]) < 1e-3


def test_trained_model_decodes_dates(trained):
    task, model = trained
    batch, _ = _sources(task, 60)
    out = beam_search(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, beam=3)
    refs = [task.test[i][1] for i in batch.index.tolist()]
    hyps = [task.tgt_vocab.decode(seq) for seq in out.ids]
    assert sum(h == r for h, r in zip(hyps, refs)) / len(refs) > 0.5


def test_sampling_with_top_k_one_is_greedy(trained):
    task, model = trained
    batch, _ = _sources(task)
    g = greedy(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id)
    s = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(0), top_k=1)
    assert s.ids == g.ids


def test_sampling_is_deterministic_given_a_seed_and_varies_across_seeds(trained):
    task, model = trained
    batch, _ = _sources(task)
    kw = dict(temperature=3.0)
    a = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(5), **kw)
    b = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(5), **kw)
    c = sample(model, batch.src, batch.src_mask, Vocab.sos_id, Vocab.eos_id, B.DeviceRNG(6), **kw)
    assert a.ids == b.ids and a.ids != c.ids


def test_nucleus_keeps_the_smallest_set_reaching_top_p(backend):
    logp = B.to_device(np.log(np.array([[0.5, 0.3, 0.15, 0.05]])), "float64")
    kept = B.to_host(filtered_probs(logp, top_p=0.7))
    assert (kept > 0).tolist() == [[True, True, False, False]]
    kept = B.to_host(filtered_probs(logp, top_k=3))
    assert (kept > 0).tolist() == [[True, True, True, False]]
