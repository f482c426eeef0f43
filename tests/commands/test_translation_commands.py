"""The translation commands end to end on a tiny Multi30k-shaped corpus (the fixtures)."""

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from minis2s.cli import main
from minis2s.data import multi30k

FIXTURES = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"


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


# --------------------------------------------------------------------------- one answer per checkpoint


@pytest.fixture(scope="module")
def fluent(corpus, tmp_path_factory):
    """A fixture-corpus model trained long enough for a BLEU above 0 (about 2 s)."""
    out = tmp_path_factory.mktemp("runs") / "fluent"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--max-steps",
                     "60", "--emb", "32", "--hidden", "32", "--batch-size", "16", "--dropout", "0", "--lr", "0.01",
                     "--eval-every", "1000", "--quiet"]) == 0
    return out


def translate_in_process(argv, text, capsys, monkeypatch):
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["translate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("beam", [1, 3, 5])
def test_translate_prints_the_sentences_evaluate_scores(fluent, corpus, tmp_path, capsys, monkeypatch, beam):
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = tmp_path / "hyps.txt"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(fluent), "--data-dir", str(corpus), "--split", "test2016",
                 "--beam", str(beam), "--hyps", str(hyps), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    source = (corpus / multi30k.file_name("test2016", "de")).read_text(encoding="utf-8")
    code, out, _ = translate_in_process(["--checkpoint", str(fluent), "--beam", str(beam)], source, capsys,
                                        monkeypatch)
    assert code == 0
    assert out == hyps.read_text(encoding="utf-8")  # the same sentences, in the same order
    refs = (corpus / multi30k.file_name("test2016", "en")).read_text(encoding="utf-8").splitlines()
    bleu = sacrebleu.corpus_bleu(out.splitlines(), [refs], tokenize="none").score
    assert figures["bleu"] > 0 and round(bleu, 2) == figures["bleu"]


def test_translate_output_does_not_depend_on_the_order_of_the_input_lines(fluent, corpus, capsys, monkeypatch):
    lines = (corpus / multi30k.file_name("test2016", "de")).read_text(encoding="utf-8").splitlines()
    _, forward, _ = translate_in_process(["--checkpoint", str(fluent), "--beam", "3"], "\n".join(lines) + "\n",
                                         capsys, monkeypatch)
    _, backward, _ = translate_in_process(["--checkpoint", str(fluent), "--beam", "3"],
                                          "\n".join(lines[::-1]) + "\n", capsys, monkeypatch)
    assert forward.splitlines() == backward.splitlines()[::-1]


def test_whitespace_only_lines_give_empty_lines_for_a_word_model(fluent, capsys, monkeypatch):
    real = ["ein mann schläft in einem grünen raum auf einem sofa .", "zwei hunde spielen im schnee ."]
    _, alone, _ = translate_in_process(["--checkpoint", str(fluent)], "\n".join(real) + "\n", capsys, monkeypatch)
    code, mixed, _ = translate_in_process(["--checkpoint", str(fluent)], f"{real[0]}\n   \n\t\n\n{real[1]}\n",
                                          capsys, monkeypatch)
    assert code == 0
    first, second = alone.splitlines()
    assert first and second
    assert mixed.split("\n") == [first, "", "", "", second, ""]


def test_evaluate_hyps_into_a_missing_folder_is_refused_before_decoding(fluent, corpus, tmp_path, capsys):
    capsys.readouterr()
    target = tmp_path / "nowhere" / "hyps.txt"
    assert main(["evaluate", "--checkpoint", str(fluent), "--data-dir", str(corpus), "--hyps", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not exist" in err and str(target.parent) in err
    assert not target.parent.exists()


def test_translate_into_a_pipe_closed_early_ends_quietly_with_status_141(fluent, tmp_path):
    # `translate | head -1`: head exits after one line and the next write fails (EPIPE); the
    # output (~290 kB) is several times a pipe's 64 kB, so the write cannot finish first
    import subprocess
    import sys

    big = tmp_path / "big.de"
    big.write_text((FIXTURES / "tiny.de").read_text(encoding="utf-8") * 100, encoding="utf-8")
    script = (f"{sys.executable} -m minis2s translate --checkpoint {fluent} < {big} 2>{tmp_path / 'err'} "
              "| head -1; echo ${PIPESTATUS[0]}")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    first, status = r.stdout.splitlines()
    assert first and status == "141"
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_translate_evaluate_and_train_share_one_default_batch_size():
    # a different batch can tip a near tie (float rounding): 64 for translate and 128 for
    # evaluate gave 40.94 and 40.92 BLEU for the same Multi30k checkpoint
    import inspect

    from minis2s import tasks
    from minis2s.cli import build_parser
    from minis2s.recipes import DECODE_BATCH_SIZE

    parser = build_parser()
    for argv in (["translate", "--checkpoint", "x"], ["evaluate", "--checkpoint", "x"]):
        assert parser.parse_args(argv).batch_size == DECODE_BATCH_SIZE, argv[0]
    for fn in (tasks.decode_tokens, tasks.bleu, tasks.bleu_and_ppl, tasks.exact_match, tasks.translation_evaluator,
               tasks.toy_evaluator):
        assert inspect.signature(fn).parameters["batch_size"].default == DECODE_BATCH_SIZE, fn.__name__
