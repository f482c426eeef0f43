"""Training runs end to end through the command line: resume, NaN handling, translate, bad input."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minis2s import checkpoint as ckpt
from minis2s.cli import main

SMALL = ["--task", "dates", "--train-size", "300", "--test-size", "40", "--emb", "8", "--hidden", "16",
         "--batch-size", "16", "--quiet"]


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def params_of(run_dir):
    return ckpt.load_checkpoint(run_dir, prefer="latest").params


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, capsys):
    # dropout and scheduled sampling draw random numbers, so the RNG state must be restored too
    common = ["train"] + SMALL + ["--dropout", "0.2", "--teacher-forcing", "0.7", "--eval-every", "7"]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run_cli(common + ["--out", str(whole), "--max-steps", "20", "--json"], capsys)[0] == 0
    assert run_cli(common + ["--out", str(part), "--max-steps", "10", "--json"], capsys)[0] == 0
    code, out, _ = run_cli(["train", "--resume", str(part), "--max-steps", "20", "--json", "--quiet"], capsys)
    assert code == 0
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 20
    a, b = params_of(whole), params_of(part)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_summary_json_has_the_figures_scripts_read(tmp_path, capsys):
    code, out, _ = run_cli(["train"] + SMALL + ["--out", str(tmp_path / "r"), "--max-steps", "5", "--json"], capsys)
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    for key in ("exact_match", "token_accuracy", "train_seconds", "steps", "tokens_per_s"):
        assert key in summary
    assert summary["steps"] == 5 and summary["tokens_per_s"] > 0
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert any("val_exact_match" in json.loads(line) for line in lines)


def test_non_finite_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    from minis2s.models.seq2seq import Seq2Seq

    real = Seq2Seq.forward_backward
    calls = {"n": 0}

    def poisoned(self, *a, **kw):
        loss, nll, n = real(self, *a, **kw)
        if kw.get("train") and kw.get("backward", True):
            calls["n"] += 1
            if calls["n"] > 12:
                self.grads["dec.emb"][...] = np.nan
                return loss * np.nan, nll, n
        return loss, nll, n

    monkeypatch.setattr(Seq2Seq, "forward_backward", poisoned)
    out_dir = tmp_path / "nan"
    code, out, err = run_cli(["train"] + SMALL + ["--out", str(out_dir), "--max-steps", "40", "--eval-every", "10"], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.strip() == (
        f"error: loss became nan by step 20, so training stopped (--lr is 0.005); {out_dir}/checkpoints/step-00000010 "
        f"(step 10) is the last complete checkpoint and is intact: use it as it is, resume from it with python -m "
        f"minis2s train --resume {out_dir} (same batches and --lr, so it may diverge again), or start again with a "
        f"smaller --lr and --overwrite")
    kept = ckpt.load_checkpoint(out_dir, prefer="latest")
    assert kept.state["trainer"]["step"] == 10
    assert all(np.isfinite(v).all() for v in kept.params.values())


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_non_finite_loss_before_any_checkpoint_says_nothing_was_saved(tmp_path, capsys):
    # plain SGD at lr 1e6 without clipping overflows within the first ten steps
    out_dir = tmp_path / "nan"
    code, _, err = run_cli(["train"] + SMALL + ["--out", str(out_dir), "--max-steps", "40", "--eval-every", "20",
                                                "--optimizer", "sgd", "--lr", "1e6", "--clip", "0"], capsys)
    assert code == 2
    assert err.strip() == ("error: loss became nan by step 10, so training stopped (--lr is 1e+06); nothing was "
                           "saved: start again with a smaller --lr (or --clip)")
    assert not out_dir.exists()  # nothing written, so no folder left to --overwrite


def test_batch_size_above_the_training_pairs_is_capped_with_a_note(tmp_path, capsys):
    out_dir = tmp_path / "r"
    code, _, err = run_cli(["train", "--task", "copy", "--emb", "8", "--hidden", "8", "--train-size", "50",
                            "--test-size", "10", "--batch-size", "64", "--max-steps", "3", "--quiet",
                            "--out", str(out_dir)], capsys)
    assert code == 0
    assert err.strip() == "note: the batch size 64 is more than the 50 training pairs; using batches of 50"
    assert ckpt.load_checkpoint(out_dir).config["train"]["batch_size"] == 50


def test_a_step_too_large_for_memory_is_refused_with_the_batch_size_that_fits(tmp_path, capsys, monkeypatch):
    from minis2s import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * 2**20)
    argv = ["train", "--task", "copy", "--emb", "8", "--hidden", "64", "--train-size", "200", "--test-size", "10",
            "--max-steps", "2", "--quiet", "--batch-size"]
    code, _, err = run_cli(argv + ["200", "--out", str(tmp_path / "big")], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    match = re.search(r"needs about ([\d.]+) MiB .* a batch of 200 x (\d+) source x (\d+) target tokens .* but only "
                      r"3 MiB of memory is available; use --batch-size (\d+) or less \(the largest that fits\)", err)
    assert match, err
    assert float(match[1]) > 3 and not (tmp_path / "big").exists()
    fits = int(match[4])
    assert 1 <= fits < 200
    # the suggestion passes the same check, and one more does not
    assert run_cli(argv + [str(fits), "--out", str(tmp_path / "fits")], capsys)[0] == 0
    assert run_cli(argv + [str(fits + 1), "--out", str(tmp_path / "one_more")], capsys)[0] == 2


def test_a_relative_data_dir_is_stored_absolute_so_evaluate_works_from_elsewhere(tmp_path, capsys, monkeypatch):
    from minis2s.data import multi30k

    fixtures = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"
    (tmp_path / "corpus").mkdir()
    for split in multi30k.SPLITS:
        for lang in ("de", "en"):
            shutil.copy(fixtures / f"tiny.{lang}", tmp_path / "corpus" / multi30k.file_name(split, lang))
    monkeypatch.delenv("MINIS2S_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--data", "multi30k", "--data-dir", "corpus", "--out", "run", "--max-steps", "2",
                 "--emb", "8", "--hidden", "8", "--batch-size", "16", "--quiet"])
    assert code == 0
    assert ckpt.load_checkpoint(tmp_path / "run").config["task"]["data_dir"] == str(tmp_path / "corpus")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(tmp_path / "run"), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n_sentences"] == 64


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "dates"
    assert main(["train"] + SMALL + ["--out", str(out), "--max-steps", "30"]) == 0
    return out


def translate(run_dir, text, *extra):
    return subprocess.run([sys.executable, "-m", "minis2s", "translate", "--checkpoint", str(run_dir), *extra],
                          input=text, capture_output=True, text=True)


def test_translate_keeps_one_output_line_per_input_line_and_empty_lines_empty(trained):
    r = translate(trained, "september 27, 1994\n\n27.09.1994\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert len(lines) == 4 and lines[1] == "" and lines[3] == ""
    assert lines[0] and lines[2]


def test_translate_warns_once_about_unknown_characters(trained):
    r = translate(trained, "§§ 27, 1994\n€ 1 jan\n")
    assert r.returncode == 0
    warnings = [l for l in r.stderr.splitlines() if "unknown" in l]
    assert len(warnings) == 1 and "'§'" in warnings[0] and "'€'" in warnings[0]
    assert len(r.stdout.splitlines()) == 2


def test_translate_beam_search_runs_from_the_command_line(trained):
    r = translate(trained, "september 27, 1994\n", "--beam", "3")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1


@pytest.mark.parametrize("make", ["missing", "empty", "partial", "foreign"])
def test_bad_checkpoint_directory_gives_one_line_and_exit_2(tmp_path, trained, make):
    target = tmp_path / "ckpt"
    if make != "missing":
        target.mkdir()
    if make == "partial":
        (target / "params.npz").write_bytes(b"half")
    if make == "foreign":
        (target / "manifest.json").write_text(json.dumps({"format": "something-else", "files": {}}))
    r = translate(target, "x\n")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("error: ")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("argv, needle", [
    (["train", "--task", "dates", "--out", "x", "--dropout", "1.5"], "--dropout"),
    (["train", "--task", "dates", "--out", "x", "--layers", "0"], "--layers"),
    (["train", "--task", "nope", "--out", "x"], "--task"),
    (["train", "--task", "dates", "--resume", "x"], "not allowed with"),
    (["train", "--task", "dates", "--out", "x", "--attention", "bahdanau"], "--attention"),
])
def test_parser_refuses_invalid_flags_with_a_useful_message(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for cmd in ("gradcheck", "train", "translate", "generate", "evaluate", "data", "plot", "export", "demo"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_train_without_out_or_budget_is_refused(capsys):
    code, _, err = run_cli(["train", "--task", "dates"], capsys)
    assert code == 2 and "--out" in err
