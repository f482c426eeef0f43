"""The training-step memory estimate: parameter shapes as the model has them, and a peak
within a stated factor of the one tracemalloc measures."""

import itertools
import tracemalloc

import numpy as np
import pytest

from minis2s import backend as B
from minis2s import memory
from minis2s.data import make_batch
from minis2s.functional.clip import clip_grad_norm
from minis2s.models import build_model
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.models.transformer import Transformer, TransformerConfig
from minis2s.train import TrainConfig, batch_to_device, make_optimizer

ARCHITECTURES = list(itertools.product(["rnn", "lstm", "gru"], [False, True],
                                       ["none", "additive", "dot", "scaled_dot", "general"], [1, 2]))


@pytest.mark.parametrize("cell, bidirectional, attention, layers", ARCHITECTURES)
def test_param_shapes_are_the_models_for_every_architecture(cell, bidirectional, attention, layers):
    for tie, feed in ((False, True), (True, False)):
        cfg = Seq2SeqConfig(src_vocab=11, tgt_vocab=13, cell=cell, emb=5, hidden=7, layers=layers,
                            bidirectional=bidirectional, attention=attention, tie_embeddings=tie,
                            input_feeding=feed)
        model = {k: tuple(v.shape) for k, v in Seq2Seq(cfg).params.items()}
        assert memory.param_shapes(cfg) == model


def traced_training_step(cfg, Bn, S, T, optimizer):
    """Peak bytes tracemalloc sees while a model is built and takes one full training step."""
    rng = np.random.default_rng(0)
    batch = make_batch([list(rng.integers(4, cfg.src_vocab, S - 1)) for _ in range(Bn)],
                       [list(rng.integers(4, cfg.tgt_vocab, T - 1)) for _ in range(Bn)])
    assert batch.src.shape == (Bn, S) and batch.tgt_in.shape == (Bn, T)
    tracemalloc.start()
    try:
        model = build_model(cfg)
        opt = make_optimizer(model.params, TrainConfig(max_steps=1, optimizer=optimizer))
        model.forward_backward(*batch_to_device(batch, np.float32), rng=B.DeviceRNG(0), train=True,
                               label_smoothing=0.1)
        clip_grad_norm(model.grads.values(), 1.0)
        opt.step(model.grads)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kw, shape, optimizer", [
    (dict(emb=32, hidden=64, bidirectional=True, dropout=0.5), (32, 20, 20), "adam"),
    (dict(cell="gru", emb=32, hidden=64, layers=2, attention="dot"), (32, 15, 18), "sgd"),
])
def test_step_estimate_is_within_half_to_three_times_the_traced_peak(kw, shape, optimizer):
    cfg = Seq2SeqConfig(src_vocab=500, tgt_vocab=600, **kw)
    with B.use("numpy"):
        traced = traced_training_step(cfg, *shape, optimizer)
    estimate = sum(memory.training_step_bytes(cfg, *shape, optimizer=optimizer).values())
    assert 0.5 * traced <= estimate <= 3.0 * traced, (estimate, traced)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, positional="learned", tie_embeddings=False,
                                             share_vocab=True, src_vocab=600, dropout=0.0)])
def test_transformer_param_shapes_are_the_models(kw):
    cfg = TransformerConfig(**{"src_vocab": 500, "tgt_vocab": 600, "d_model": 16, "heads": 2, "d_ff": 24,
                               "layers": 2, **kw})
    assert memory.param_shapes(cfg) == {k: tuple(v.shape) for k, v in Transformer(cfg).params.items()}


@pytest.mark.parametrize("kw, shape", [
    (dict(d_model=64, heads=4, d_ff=128, layers=2, dropout=0.1), (32, 20, 20)),
    (dict(d_model=32, heads=2, d_ff=128, layers=3, dropout=0.0, norm_first=True), (16, 30, 25)),
])
def test_transformer_step_estimate_is_within_half_to_three_times_the_traced_peak(kw, shape):
    cfg = TransformerConfig(src_vocab=500, tgt_vocab=600, **kw)
    with B.use("numpy"):
        traced = traced_training_step(cfg, *shape, "adam")
    estimate = sum(memory.training_step_bytes(cfg, *shape, optimizer="adam").values())
    print(f"estimate / traced = {estimate / traced:.2f}")
    assert 0.5 * traced <= estimate <= 3.0 * traced, (estimate, traced)


def test_largest_batch_that_fits_fits_and_one_more_does_not():
    cfg = Seq2SeqConfig(src_vocab=500, tgt_vocab=600, emb=32, hidden=64)
    budget = 40 * 2**20
    n = memory.largest_batch_that_fits(cfg, 30, 31, budget)
    assert n >= 1
    assert sum(memory.training_step_bytes(cfg, n, 30, 31).values()) <= budget
    assert sum(memory.training_step_bytes(cfg, n + 1, 30, 31).values()) > budget
    assert memory.largest_batch_that_fits(cfg, 30, 31, 1000) == 0  # not even the parameters fit


def test_available_memory_is_read_from_proc_meminfo():
    got = memory.available_bytes()
    try:
        text = open("/proc/meminfo").read()
    except OSError:
        assert got is None
        return
    assert "MemAvailable:" in text and got is not None and got > 0


def test_a_step_must_fit_with_headroom(monkeypatch):
    """The estimate runs below the traced peak (0.78-0.97x), so a step that only just fits by
    the estimate is refused; one with HEADROOM to spare passes."""
    from minis2s.errors import UserError

    cfg = Seq2SeqConfig(src_vocab=500, tgt_vocab=600, emb=32, hidden=64)
    pairs = [([5] * 29, [6] * 30)] * 4  # S = 30, T = 31 with <eos> / <sos>
    total = sum(memory.training_step_bytes(cfg, 16, 30, 31).values())
    monkeypatch.setattr(memory, "available_bytes", lambda: int(total * 1.1))
    with pytest.raises(UserError, match="1.3x that to be safe"):
        memory.check_step_fits(cfg, 16, pairs)
    monkeypatch.setattr(memory, "available_bytes", lambda: int(total * memory.HEADROOM) + 1)
    memory.check_step_fits(cfg, 16, pairs)


@pytest.mark.parametrize("kw, shape", [
    (dict(d_model=64, heads=4, d_ff=256, layers=2, dropout=0.1), (32, 20, 20)),
    (dict(d_model=32, heads=8, d_ff=64, layers=3, dropout=0.0, norm_first=True), (16, 12, 40)),
])
def test_transformer_forward_backward_peak_is_its_activations_and_transients_within_a_quarter(kw, shape):
    """The part ``benchmarks/speed.py transformer-memory`` measures: what forward + backward
    add above the parameters and gradients (the attention weights B x h x T x S per layer
    among them), traced, against the count's activations and backward transients."""
    cfg = TransformerConfig(src_vocab=1500, tgt_vocab=2000, **kw)
    Bn, S, T = shape
    rng = np.random.default_rng(0)
    batch = make_batch([list(rng.integers(4, cfg.src_vocab, S - 1)) for _ in range(Bn)],
                       [list(rng.integers(4, cfg.tgt_vocab, T - 1)) for _ in range(Bn)])
    with B.use("numpy"):
        model = Transformer(cfg)
        inputs = batch_to_device(batch, np.float32)
        model.forward_backward(*inputs, rng=B.DeviceRNG(0), train=True)  # allocator and caches warm
        tracemalloc.start()
        try:
            model.forward_backward(*inputs, rng=B.DeviceRNG(0), train=True)
            traced = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    parts = memory.training_step_bytes(cfg, Bn, S, T)
    estimate = parts["activations"] + parts["backward transients"]
    assert 0.8 * traced <= estimate <= 1.25 * traced, (estimate / traced, estimate, traced)
