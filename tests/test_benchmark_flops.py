"""The analytic GEMM count of benchmarks/speed.py against torch's own count of the same step."""

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch.utils.flop_counter import FlopCounterMode

from minis2s import backend as B

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


def _speed():
    spec = importlib.util.spec_from_file_location("minis2s_bench_speed", SPEED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_transformer_flops_equal_torch_flop_counter_on_the_twin():
    # the twin runs every product on the padded batch (its readout too), so the count without
    # readout_rows must be exactly what torch counts for its forward and backward
    speed, batch_size = _speed(), 9
    with B.use("numpy"):
        _check(speed, batch_size)


def _check(speed, batch_size):
    corpus = speed.random_corpus(batch_size, n=300)
    pair = speed.TransformerPair(corpus.n_src, corpus.n_tgt, seed=0)
    batch = speed.training_batches(corpus, batch_size, 1, seed=batch_size)[0]
    _, theirs = speed.Pair.inputs(batch)
    pair.twin.train()
    with FlopCounterMode(display=False) as counter:
        pair.twin.loss(*theirs, label_smoothing=0.1).backward()
    ours = speed.transformer_flops(pair.cfg, len(batch), batch.src.shape[1], batch.tgt_in.shape[1])
    assert sum(ours.values()) == counter.get_total_flops()
    assert batch.src.shape[1] != batch.tgt_in.shape[1]  # S and T apart, so a swapped length would show
