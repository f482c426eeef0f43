"""train --task qa-N, evaluate and plot attention on a tiny QA model: the toy-task path, word-level."""

import contextlib
import io
import json

import numpy as np
import pytest

from minis2s import plots
from minis2s.cli import main
from minis2s.inference import Translator

STORY = "where is mary ? mary went to the kitchen . john moved to the garden . mary travelled to the office ."


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "qa1"
    code, stdout, err = run(["train", "--task", "qa-1", "--train-size", "400", "--test-size", "40", "--max-steps", "30",
                             "--emb", "8", "--hidden", "16", "--batch-size", "16", "--eval-every", "15", "--quiet",
                             "--out", str(out), "--json"])
    assert code == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_train_qa_reports_held_out_exact_match_and_evaluate_agrees(qa_run):
    out, summary = qa_run
    assert 0.0 <= summary["exact_match"] <= 1.0 and summary["steps"] == 30
    code, stdout, err = run(["evaluate", "--checkpoint", str(out), "--json"])
    assert code == 0, err
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["n_sentences"] == 40 and figures["exact_match"] == pytest.approx(summary["exact_match"])


def test_qa_checkpoints_read_and_write_words(qa_run):
    tr = Translator.load(qa_run[0])
    assert tr.src_tokenizer.name == tr.tgt_tokenizer.name == "whitespace"
    assert {"kitchen", ".", "?", "where"} <= set(tr.src_vocab.tokens) and "office" in tr.tgt_vocab.tokens


def test_sentence_attention_sums_each_sentence_columns():
    src = ["a", "b", ".", "c", ".", "q", "?", "<eos>"]
    weights = np.array([[0.1, 0.1, 0.0, 0.5, 0.1, 0.1, 0.05, 0.05]])
    texts, summed = plots.sentence_attention(src, weights)
    assert texts == ["a b .", "c .", "q ?"]
    np.testing.assert_allclose(summed, [[0.2, 0.6, 0.2]])


def test_plot_attention_by_sentence_on_a_qa_checkpoint(qa_run, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "a.png"
    code, _, err = run(["plot", "attention", "--checkpoint", str(qa_run[0]), "--sentence", STORY,
                             "--by-sentence", "--out", str(png)])
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = plots.sentence_attention_heatmap(Translator.load(qa_run[0]), STORY, ax=_axes())
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "where is mary ?", "mary went to the kitchen .", "john moved to the garden .",
        "mary travelled to the office ."]


def _axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def test_an_unknown_task_is_refused_naming_the_qa_tasks(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--task", "qa-9", "--out", "x"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert info.value.code == 2 and "invalid choice: 'qa-9'" in last and "'qa-1'" in last


def test_qa_training_and_evaluation_read_nothing_back_from_the_device(tmp_path, numpy_afterwards):
    """On the strict backend, which refuses hidden host reads, a QA run trains and is scored."""
    out = tmp_path / "strict"
    code, stdout, err = run(["train", "--backend", "strict", "--task", "qa-2", "--train-size", "40",
                             "--test-size", "5", "--max-steps", "3", "--emb", "8", "--hidden", "8",
                             "--out", str(out), "--quiet", "--json"])
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["steps"] == 3
    code, stdout, err = run(["evaluate", "--backend", "strict", "--checkpoint", str(out), "--json"])
    assert code == 0, err
    assert 0.0 <= json.loads(stdout.strip().splitlines()[-1])["exact_match"] <= 100.0
