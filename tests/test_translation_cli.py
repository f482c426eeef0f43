"""The translation commands end to end on a tiny Multi30k-shaped corpus (the fixtures)."""

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from minis2s.cli import main
from minis2s.data import multi30k

FIXTURES = Path(__file__).resolve().parents[1] / "datasets" / "fixtures"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The 64 fixture pairs laid out as every Multi30k split, de and en."""
    root = tmp_path_factory.mktemp("m30k")
    for split in multi30k.SPLITS:
        for lang in ("de", "en"):
            shutil.copy(FIXTURES / f"tiny.{lang}", root / multi30k.file_name(split, lang))
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """(the run directory, the JSON summary train printed)."""
    out = tmp_path_factory.mktemp("runs") / "m30k"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--max-steps",
                     "6", "--emb", "8", "--hidden", "8", "--batch-size", "16", "--eval-every", "3", "--quiet",
                     "--json"])
    assert code == 0
    return out, json.loads(stdout.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run(trained):
    return trained[0]


def test_train_on_a_corpus_reports_val_bleu_while_training(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    evals = [json.loads(l) for l in lines if "val_bleu" in l]
    assert [e["step"] for e in evals] == [3, 6]
    assert all(0.0 <= e["val_bleu"] <= 100.0 and e["val_ppl"] > 1.0 for e in evals)


def test_train_summary_gives_greedy_and_beam5_test_bleu_as_evaluate_does(trained, corpus, capsys):
    summary = trained[1]
    assert summary["steps"] == 6 and summary["test_ppl"] > 1.0
    for beam, key in ((1, "test_bleu"), (5, "test_bleu_beam5")):
        capsys.readouterr()
        assert main(["evaluate", "--checkpoint", summary["checkpoint"], "--data-dir", str(corpus),
                     "--split", "test2016", "--beam", str(beam), "--json"]) == 0
        figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary[key] == figures["bleu"], key


def test_evaluate_prints_bleu_ppl_and_sentence_count(run, corpus, capsys):
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--data-dir", str(corpus), "--split", "val",
                 "--beam", "2", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["n_sentences"] == 64 and figures["beam"] == 2
    assert 0.0 <= figures["bleu"] <= 100.0 and figures["ppl"] > 1.0


def test_evaluate_without_data_says_how_to_get_it(run, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MINIS2S_DATA", raising=False)
    assert main(["evaluate", "--checkpoint", str(run), "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "python -m minis2s data multi30k" in err and len(err.strip().splitlines()) == 1


def test_plots_write_png_files(run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    curves, heat = tmp_path / "loss.png", tmp_path / "attention.png"
    assert main(["plot", "curves", "--run", str(run), "--out", str(curves)]) == 0
    assert main(["plot", "attention", "--checkpoint", str(run), "--sentence", "ein mann .", "--out", str(heat)]) == 0
    for png in (curves, heat):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_attention_needs_its_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plot", "attention", "--out", "x.png"])
    assert exc.value.code == 2 and "--sentence" in capsys.readouterr().err
