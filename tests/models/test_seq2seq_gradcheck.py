"""Whole-model gradient checks: the loss with respect to every parameter, in float64.

These prove that gradients cross every joint of the graph -- readout, decoder steps,
attention, bridge, encoder layers, both directions, embeddings -- on padded batches.
"""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.suite.model import MODEL_CASES, MODEL_TOLERANCE, SIZES, check_model, random_batch, run
from minis2s.train import real_rows

RECURRENT_CASES = [c for c in MODEL_CASES if c.arch == "recurrent"]
CONFIGS = {c.name: c.config for c in RECURRENT_CASES}


@pytest.mark.parametrize("case", RECURRENT_CASES, ids=lambda c: c.name)
def test_model_gradients_match_finite_differences(case, backend):
    results = run(case)
    assert [r.wrt for r in results] == list(Seq2Seq(Seq2SeqConfig(**SIZES, **case.config)).params)
    bad = {r.wrt: r.rel_error for r in results if not r.passed(MODEL_TOLERANCE)}
    assert not bad, f"relative errors above {MODEL_TOLERANCE}: {bad}"


def test_check_model_finds_a_wrong_parameter_gradient(monkeypatch):
    """A backward that halves one parameter's gradient fails there and nowhere else."""
    forward_backward = Seq2Seq.forward_backward

    def halved(self, *args, **kw):
        out = forward_backward(self, *args, **kw)
        if kw.get("backward", True):
            self.grads["dec.l0.Wh"] *= 0.5
        return out

    monkeypatch.setattr(Seq2Seq, "forward_backward", halved)
    cfg = Seq2SeqConfig(9, 8, emb=3, hidden=4, cell="gru", attention="dot")
    failed = [r.wrt for r in check_model(cfg) if not r.passed(MODEL_TOLERANCE)]
    assert failed == ["dec.l0.Wh"]


def test_gradient_reaches_encoder_embeddings_through_attention_and_bridge():
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, cell="lstm", bidirectional=True)
    with B.precision("float64"):
        model = Seq2Seq(cfg)
        batch = random_batch(np.random.default_rng(1), 9, 8)
        model.forward_backward(*batch)
        g = B.to_host(model.grads["enc.emb"])
    assert np.abs(g[4:]).sum() > 0
    assert np.all(g[0] == 0), "the padding row must receive no gradient"


@pytest.mark.parametrize("teacher_forcing", [1.0, 0.5])
@pytest.mark.parametrize("name", ["lstm-bi-additive", "lstm-noattention-tied"])
def test_readout_over_real_rows_only_equals_the_dense_readout(name, teacher_forcing):
    """On the host the trainer runs the readout on the real target rows alone; it must change
    no figure."""
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, dropout=0.3, **CONFIGS[name])
    with B.precision("float64"):
        model = Seq2Seq(cfg, seed=3)
        batch = random_batch(np.random.default_rng(2), 9, 8)
        rows = real_rows(batch[4])
        assert rows is not None and rows.size == int(batch[4].sum()) < batch[4].size

        def run(rows):
            figures = model.forward_backward(*batch, rng=B.DeviceRNG(5), label_smoothing=0.1,
                                             teacher_forcing=teacher_forcing, real_rows=rows)
            return [float(f) for f in figures], {k: g.copy() for k, g in model.grads.items()}

        packed, packed_grads = run(rows)
        dense, dense_grads = run(None)
    np.testing.assert_allclose(packed, dense, rtol=1e-12)
    for k in dense_grads:
        np.testing.assert_allclose(packed_grads[k], dense_grads[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_real_rows_keeps_every_row_without_padding():
    mask = np.ones((2, 3))
    assert real_rows(mask) is None
    mask[1, 2] = 0
    assert real_rows(mask).tolist() == [0, 1, 2, 3, 4]


def test_real_rows_is_none_on_a_device_backend():
    """Counting a device mask's rows would read it back once per step: the trainer keeps the
    dense readout there."""
    with B.use("strict"):
        assert real_rows(B.to_device(np.array([[1.0, 0.0]]))) is None
