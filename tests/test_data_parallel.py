"""Data parallelism (minis2s/parallel.py): a batch split into shards on CPU processes gives the
batch's loss and gradients, the same step side by side as one shard after another, a resumed
sharded run continues bit-identically, and misuse is one clear line."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minis2s
from minis2s import backend as B
from minis2s import checkpoint as ckpt
from minis2s.cli import main
from minis2s.data import make_batch
from minis2s.errors import UserError
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig
from minis2s.models.transformer import Transformer, TransformerConfig
from minis2s.parallel import DataParallel, shard_bounds, trim
from minis2s.train import batch_to_device, real_rows

REPO = Path(minis2s.__file__).resolve().parents[1]
V_SRC, V_TGT = 13, 11


def _batch(n=7, seed=0):
    """n sentence pairs of lengths 1-6: padding in every shard, and columns only some shards need."""
    rng = np.random.default_rng(seed)
    src = [rng.integers(4, V_SRC, rng.integers(1, 7)).tolist() for _ in range(n)]
    tgt = [rng.integers(4, V_TGT, rng.integers(1, 7)).tolist() for _ in range(n)]
    return make_batch(src, tgt)


def _model(arch, dropout=0.0, dtype="float64"):
    if arch == "transformer":
        cfg = TransformerConfig(V_SRC, V_TGT, layers=2, d_model=8, heads=2, d_ff=12, dropout=dropout, norm_first=True)
        return Transformer(cfg, seed=3, dtype=dtype)
    cfg = Seq2SeqConfig(V_SRC, V_TGT, emb=5, hidden=6, cell="lstm", bidirectional=True, attention="general",
                        dropout=dropout)
    return Seq2Seq(cfg, seed=3, dtype=dtype)


def _arrays(model, batch):
    return batch_to_device(batch, model.dtype)


def test_shard_bounds_cover_the_batch_in_blocks_that_differ_by_at_most_one():
    assert shard_bounds(7, 3) == [(0, 2), (2, 4), (4, 7)]
    assert shard_bounds(4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_trim_drops_exactly_the_columns_that_are_padding_in_every_row():
    arrays = tuple(batch_to_device(_batch(), "float64"))
    rows = tuple(a[:2] for a in arrays)
    src, src_mask, tgt_in, tgt_out, tgt_mask = trim(rows)
    assert src.shape[1] == src_mask.shape[1] == int(rows[1].sum(1).max())
    assert tgt_in.shape[1] == tgt_out.shape[1] == tgt_mask.shape[1] == int(rows[4].sum(1).max())
    assert src_mask.sum() == rows[1].sum() and tgt_mask.sum() == rows[4].sum()  # no token dropped
    assert np.array_equal(src, rows[0][:, : src.shape[1]]) and np.array_equal(tgt_out, rows[3][:, : tgt_out.shape[1]])


@pytest.mark.parametrize("arch", ["transformer", "recurrent"])
@pytest.mark.parametrize("shards", [2, 3])
def test_shards_give_the_loss_and_every_gradient_of_the_whole_batch(arch, shards):
    model = _model(arch)
    arrays = _arrays(model, _batch())
    kw = {"rng": B.DeviceRNG(0), "label_smoothing": 0.1}
    loss, nll, n = model.forward_backward(*arrays, real_rows=real_rows(arrays.tgt_mask), **kw)
    whole = {k: g.copy() for k, g in model.grads.items()}
    dp = DataParallel(model, shards, seed=0)
    try:
        s_loss, s_nll, s_n = dp.forward_backward(*arrays, **kw)
    finally:
        dp.close()
    assert float(s_n) == float(n)
    np.testing.assert_allclose([float(s_loss), float(s_nll)], [float(loss), float(nll)], rtol=1e-13)
    for k, g in whole.items():
        if k.endswith("_bk"):  # 0 in exact arithmetic (a softmax ignores a shift of all scores): rounding only
            assert np.abs(model.grads[k]).max() < 1e-15, k
            continue
        # sums in another order: rounding only, against the gradient's own scale
        assert np.abs(model.grads[k] - g).max() <= 1e-13 * max(np.abs(g).max(), 1e-12), k


def _sharded_step(arch, cores, seed=0):
    model = _model(arch, dropout=0.3, dtype="float32")
    dp = DataParallel(model, 2, seed=seed)
    try:
        with threadpool_limits(limits=cores, user_api="blas"):  # what --threads leaves free
            assert dp._cores() == cores
            loss, _, _ = dp.forward_backward(*_arrays(model, _batch(n=9)), rng=B.DeviceRNG(seed))
        return float(loss), {k: g.copy() for k, g in model.grads.items()}
    finally:
        dp.close()


@pytest.mark.parametrize("arch", ["transformer", "recurrent"])
def test_a_step_is_the_same_side_by_side_as_one_shard_after_another(arch):
    # dropout on: shard 1 draws its masks in its own process from its own generator
    side_by_side, in_turn = _sharded_step(arch, cores=2), _sharded_step(arch, cores=1)
    assert side_by_side[0] == in_turn[0]
    for k, g in side_by_side[1].items():
        assert np.array_equal(g, in_turn[1][k]), k
    other_seed = _sharded_step(arch, cores=2, seed=1)
    assert other_seed[0] != side_by_side[0]  # the masks do depend on the seed


def test_the_parameters_move_into_shared_memory_so_an_update_reaches_the_workers():
    model = _model("transformer")
    arrays = _arrays(model, _batch())
    dp = DataParallel(model, 2)
    try:
        first, _, _ = dp.forward_backward(*arrays, rng=B.DeviceRNG(0))
        for p in model.params.values():
            p *= 0.5  # in place, as the optimizers update
        halved, _, _ = dp.forward_backward(*arrays, rng=B.DeviceRNG(0))
    finally:
        dp.close()
    reference = _model("transformer")
    for p in reference.params.values():
        p *= 0.5
    expected, _, _ = reference.forward_backward(*arrays, rng=B.DeviceRNG(0), real_rows=real_rows(arrays.tgt_mask))
    assert float(halved) != float(first)
    np.testing.assert_allclose(float(halved), float(expected), rtol=1e-13)


def test_a_worker_that_dies_stops_the_step_with_one_line():
    model = _model("transformer")
    dp = DataParallel(model, 2)
    try:
        os.kill(dp._procs[0].pid, signal.SIGKILL)
        dp._procs[0].join(timeout=10)
        with pytest.raises(UserError, match=r"the process of shard 1 stopped .*resume it"):
            dp.forward_backward(*_arrays(model, _batch()), rng=B.DeviceRNG(0))
    finally:
        dp.close()


def test_a_batch_smaller_than_the_shards_is_refused_in_one_line():
    model = _model("transformer")
    dp = DataParallel(model, 3)
    try:
        with pytest.raises(UserError, match="a batch of 2 sentences cannot be split into 3 shards"):
            dp.forward_backward(*_arrays(model, _batch(n=2)), rng=B.DeviceRNG(0))
    finally:
        dp.close()


def test_shards_on_a_device_backend_are_refused():
    with B.use("strict"), pytest.raises(UserError, match="for the NumPy backend; train with --shards 1"):
        DataParallel(_model("transformer", dtype=None), 2)


# --------------------------------------------------------------------------- through the trainer

SMALL = ["--task", "dates", "--arch", "transformer", "--train-size", "300", "--test-size", "40", "--layers", "1",
         "--d-model", "16", "--heads", "2", "--d-ff", "24", "--batch-size", "16", "--warmup", "5", "--quiet",
         "--dropout", "0.2", "--eval-every", "7"]


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_sharded_run_resumes_bit_identically(tmp_path, capsys):
    common = ["train"] + SMALL + ["--shards", "2"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run_cli(common + ["--out", str(whole), "--max-steps", "14", "--json"], capsys)[0] == 0
    assert run_cli(common + ["--out", str(part), "--max-steps", "7", "--json"], capsys)[0] == 0
    code, out, _ = run_cli(["train", "--resume", str(part), "--max-steps", "14", "--json", "--quiet"], capsys)
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["steps"] == 14
    a, b = ckpt.load_checkpoint(whole), ckpt.load_checkpoint(part)
    assert a.config["train"]["shards"] == 2 and len(a.state["shard_rngs"]) == 1
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k


def test_more_shards_than_sentences_in_a_batch_is_one_line_and_nothing_is_written(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, _, err = run_cli(["train"] + SMALL + ["--shards", "17", "--out", str(out_dir)], capsys)
    assert code != 0 and "--shards must be between 1 and the batch size (16), got 17" in err
    assert "Traceback" not in err and not out_dir.exists()


def test_a_language_model_refuses_shards_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--task", "lm", "--data", "multi30k", "--shards", "2", "--out", str(tmp_path / "lm")])
    err = capsys.readouterr().err
    assert "--shards belongs to encoder-decoders, not to --task lm" in err and not (tmp_path / "lm").exists()


def test_ctrl_c_at_the_terminal_saves_the_step_and_no_worker_prints_a_traceback(tmp_path):
    # a terminal's Ctrl-C reaches the whole process group: the main process and its shard's worker
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "minis2s", "train", "--task", "copy", "--emb", "8", "--hidden", "8",
            "--train-size", "200", "--test-size", "20", "--quiet", "--shards", "2", "--max-steps", "1000000",
            "--eval-every", "50", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (out / "metrics.jsonl").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().splitlines()[-1].startswith("interrupted: saved ")
    saved = ckpt.load_checkpoint(out, prefer="latest")
    assert saved.config["train"]["shards"] == 2 and len(saved.state["shard_rngs"]) == 1


def test_a_device_backend_trains_the_recipes_shards_as_one_stream_unless_shards_is_given():
    from minis2s.commands import _one_stream_on_a_device

    recipe_train = {"batch_size": 64, "shards": 2}
    assert _one_stream_on_a_device(recipe_train, {})["shards"] == 2  # NumPy: the recipe's
    with B.use("strict"):
        assert _one_stream_on_a_device(recipe_train, {})["shards"] == 1
        assert _one_stream_on_a_device(recipe_train, {"shards": 2})["shards"] == 2  # refused by the trainer
