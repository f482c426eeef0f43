"""train --arch transformer end to end: resume bit-identical, translate and evaluate through the
Transformer's decoder, and the one-line refusals that write nothing."""

import json

import numpy as np
import pytest

from minis2s import checkpoint as ckpt
from minis2s.cli import main

SMALL = ["--task", "dates", "--arch", "transformer", "--train-size", "300", "--test-size", "40", "--layers", "1",
         "--d-model", "16", "--heads", "2", "--d-ff", "24", "--batch-size", "16", "--warmup", "5", "--quiet",
         "--threads", "1"]


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_transformer_run_resumes_bit_identically_and_records_its_architecture(tmp_path, capsys):
    common = ["train"] + SMALL + ["--dropout", "0.2", "--eval-every", "7", "--norm-first"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run_cli(common + ["--out", str(whole), "--max-steps", "14", "--json"], capsys)[0] == 0
    assert run_cli(common + ["--out", str(part), "--max-steps", "7", "--json"], capsys)[0] == 0
    code, out, _ = run_cli(["train", "--resume", str(part), "--max-steps", "14", "--json", "--quiet"], capsys)
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["steps"] == 14
    a, b = ckpt.load_checkpoint(whole).params, ckpt.load_checkpoint(part).params
    assert a.keys() == b.keys() and "enc.ln_g" in a
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    config = ckpt.load_checkpoint(whole).config
    assert config["arch"] == "transformer" and config["model"]["heads"] == 2
    assert config["train"]["schedule"] == "inverse_sqrt" and config["train"]["adam_beta2"] == 0.98


def test_translate_and_evaluate_read_a_transformer_checkpoint(tmp_path, capsys, monkeypatch):
    import io

    run = tmp_path / "r"
    assert run_cli(["train"] + SMALL + ["--out", str(run), "--max-steps", "5"], capsys)[0] == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("9/27/94\n\n"))
    code, out, _ = run_cli(["translate", "--checkpoint", str(run), "--beam", "2"], capsys)
    assert code == 0 and len(out.splitlines()) == 2 and out.splitlines()[1] == ""
    code, out, _ = run_cli(["evaluate", "--checkpoint", str(run), "--json"], capsys)
    figures = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and figures["n_sentences"] == 40 and np.isfinite(figures["loss"])


@pytest.mark.parametrize("argv, message", [
    (["--arch", "transformer", "--heads", "3", "--d-model", "16"], "--heads 3 does not divide --d-model 16"),
    (["--arch", "transformer", "--cell", "gru"], "--cell belongs to the recurrent model, but --arch is transformer"),
    (["--heads", "2"], "--heads belongs to the Transformer (--arch transformer), but --arch is recurrent"),
    (["--arch", "transformer", "--positional", "learned", "--max-len", "5"],
     "more than the learned position table's --max-len 5"),
    (["--arch", "transformer", "--teacher-forcing", "0.5"], "--teacher-forcing belongs to the recurrent model"),
])
def test_bad_transformer_flags_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "r"
    code, _, err = run_cli(["train", "--task", "dates", "--train-size", "50", "--test-size", "10", "--batch-size", "16", "--quiet",
                            "--out", str(out), "--max-steps", "1"] + argv, capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "checkpoints").exists()


def test_resuming_with_the_other_architectures_flags_is_refused(tmp_path, capsys):
    rec, tfm = tmp_path / "rec", tmp_path / "tfm"
    assert run_cli(["train", "--task", "dates", "--train-size", "50", "--test-size", "10", "--batch-size", "16", "--emb", "4",
                    "--hidden", "8", "--quiet", "--out", str(rec), "--max-steps", "2"], capsys)[0] == 0
    assert run_cli(["train"] + SMALL + ["--out", str(tfm), "--max-steps", "2"], capsys)[0] == 0
    before = sorted(p.name for p in (rec / "checkpoints").iterdir())
    for run, argv, message in (
            (rec, ["--arch", "transformer"], "the run in"),
            (rec, ["--heads", "4"], "--heads belongs to the Transformer"),
            (tfm, ["--cell", "lstm"], "--cell belongs to the recurrent model"),
            (tfm, ["--arch", "recurrent"], "a resumed run keeps its architecture"),
            (tfm, ["--d-model", "32"], "a resumed run keeps its model")):
        code, _, err = run_cli(["train", "--resume", str(run), "--max-steps", "4", "--quiet"] + argv, capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in (rec / "checkpoints").iterdir()) == before


def test_plot_attention_draws_every_layer_and_head(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from minis2s import plots
    from minis2s.inference import Translator

    run = tmp_path / "r"
    assert run_cli(["train"] + SMALL + ["--out", str(run), "--max-steps", "2"], capsys)[0] == 0
    src, tgt, weights = plots.transformer_attention(Translator.load(run), "9/27/94")
    assert weights.shape == (1, 2, len(tgt), len(src))
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    code, out, _ = run_cli(["plot", "attention", "--checkpoint", str(run), "--sentence", "9/27/94",
                            "--out", str(tmp_path / "a.png")], capsys)
    assert code == 0 and (tmp_path / "a.png").stat().st_size > 0
