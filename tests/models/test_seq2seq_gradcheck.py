"""Whole-model gradient checks: the loss with respect to every parameter, in float64.

These prove that gradients cross every joint of the graph -- readout, decoder steps,
attention, bridge, encoder layers, both directions, embeddings -- on padded batches.
"""

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.gradcheck import numerical_gradient, rel_error, sample_coords
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.train import real_rows

MODEL_TOL = 1e-6


def _batch(rng, Vs, Vt, Bsz=3, S=5, T=4):
    src_len = np.array([S, 2, 3][:Bsz])
    tgt_len = np.array([T, 3, 1][:Bsz])
    src = rng.integers(4, Vs, size=(Bsz, S))
    tgt = rng.integers(4, Vt, size=(Bsz, T + 1))
    src_mask = (np.arange(S)[None] < src_len[:, None]).astype("float64")
    tgt_mask = (np.arange(T)[None] < tgt_len[:, None]).astype("float64")
    src = np.where(src_mask > 0, src, 0)
    tgt_in, tgt_out = tgt[:, :-1].copy(), tgt[:, 1:].copy()
    tgt_in[:, 0] = 1
    tgt_out = np.where(tgt_mask > 0, tgt_out, 0)
    tgt_in = np.where(np.roll(tgt_mask, 1, axis=1) + (np.arange(T) == 0) > 0, tgt_in, 0)
    return [B.to_device(src), B.to_device(src_mask), B.to_device(tgt_in), B.to_device(tgt_out), B.to_device(tgt_mask)]


def check_model(cfg, seed=0, max_coords=6, **kw):
    with B.precision("float64"):
        model = Seq2Seq(cfg, seed=seed)
        rng = np.random.default_rng(seed)
        # O(1) weights: with the small training initialisation some gradients are ~1e-7, where
        # finite differences measure their own rounding rather than the backward pass
        for name, p in model.params.items():
            p[...] = B.to_device(rng.normal(0.0, 0.7, size=p.shape))
        model.params["enc.emb"][0] = 0.0
        model.params["dec.emb"][0] = 0.0
        batch = _batch(rng, cfg.src_vocab, cfg.tgt_vocab)
        kw.setdefault("real_rows", real_rows(batch[4]))  # as the trainer runs it: None on a device

        def loss():
            dev_rng = B.DeviceRNG(7)
            return B.to_float(model.forward_backward(*batch, rng=dev_rng, backward=False, **kw)[0])

        model.forward_backward(*batch, rng=B.DeviceRNG(7), **kw)
        worst = {}
        for name, p in model.params.items():
            coords = sample_coords(tuple(p.shape), max_coords, rng)
            grad = B.to_host(model.grads[name])
            analytic = [float(grad[c]) for c in coords]
            numeric = numerical_gradient(loss, p, coords, eps=1e-5)
            worst[name] = rel_error(analytic, numeric)
        return worst


CONFIGS = {
    "lstm-bi-additive": dict(cell="lstm", bidirectional=True, attention="additive"),
    "gru-2layer-general": dict(cell="gru", layers=2, attention="general", dropout=0.3),
    "rnn-dot-noinputfeed": dict(cell="rnn", attention="scaled_dot", input_feeding=False),
    "lstm-noattention-tied": dict(cell="lstm", attention="none", tie_embeddings=True),
    "gru-bi-2layer-dot": dict(cell="gru", bidirectional=True, layers=2, attention="dot", dropout=0.2),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_model_gradients_match_finite_differences(name, backend):
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, **CONFIGS[name])
    worst = check_model(cfg)
    bad = {k: v for k, v in worst.items() if v > MODEL_TOL}
    assert not bad, f"relative errors above {MODEL_TOL}: {bad}"


def test_model_gradients_with_label_smoothing_and_sampling():
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, cell="lstm", bidirectional=True)
    worst = check_model(cfg, label_smoothing=0.1, teacher_forcing=0.5)
    assert max(worst.values()) <= MODEL_TOL, worst


def test_gradient_reaches_encoder_embeddings_through_attention_and_bridge():
    cfg = Seq2SeqConfig(src_vocab=9, tgt_vocab=8, emb=3, hidden=4, cell="lstm", bidirectional=True)
    with B.precision("float64"):
        model = Seq2Seq(cfg)
        batch = _batch(np.random.default_rng(1), 9, 8)
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
        batch = _batch(np.random.default_rng(2), 9, 8)
        tgt_mask = batch[4]
        rows = real_rows(tgt_mask)
        assert rows is not None and rows.size == int(tgt_mask.sum()) < tgt_mask.size

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
