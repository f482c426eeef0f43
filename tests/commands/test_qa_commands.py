"""train --task qa-N, evaluate and plot attention on tiny QA models: the toy-task path, word-level;
the recurrent model reads words, the recipe's Transformer reads sentences (eq. 15.6)."""

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
    code, stdout, err = run(["train", "--task", "qa-1", "--arch", "recurrent", "--train-size", "400", "--test-size",
                             "40", "--max-steps", "30", "--emb", "8", "--hidden", "16", "--batch-size", "16", "--eval-every", "15", "--quiet",
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
    for arch, sizes in (("recurrent", ["--emb", "8", "--hidden", "8"]),
                        ("transformer", ["--d-model", "8", "--heads", "2", "--d-ff", "8", "--layers", "1"])):
        code, stdout, err = run(["train", "--backend", "strict", "--task", "qa-2", "--arch", arch, "--train-size",
                                 "40", "--test-size", "5", "--max-steps", "3", *sizes,
                                 "--out", str(out / arch), "--quiet", "--json"])
        assert code == 0, err
        assert json.loads(stdout.strip().splitlines()[-1])["steps"] == 3
        code, stdout, err = run(["evaluate", "--backend", "strict", "--checkpoint", str(out / arch), "--json"])
        assert code == 0, err
        assert 0.0 <= json.loads(stdout.strip().splitlines()[-1])["exact_match"] <= 100.0


# --------------------------------------------------------------------------- the recipe: sentences

QA2_STORY = "where is the milk ? mary got the milk . mary went to the garden ."


@pytest.fixture(scope="module")
def sentence_run(tmp_path_factory):
    """qa-2 with the recipe's architecture (no --arch), shrunk: a Transformer reading sentences."""
    out = tmp_path_factory.mktemp("runs") / "qa2"
    code, stdout, err = run(["train", "--task", "qa-2", "--train-size", "400", "--test-size", "40", "--max-steps", "30",
                             "--d-model", "16", "--heads", "2", "--d-ff", "16", "--layers", "1", "--batch-size", "16",
                             "--eval-every", "15", "--quiet", "--out", str(out), "--json"])
    assert code == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


def test_the_qa_recipe_is_a_transformer_reading_sentences_and_evaluate_agrees(sentence_run):
    out, summary = sentence_run
    tr = Translator.load(out)
    assert tr.model.arch == "transformer" and tr.model.cfg.sentence_words == 8
    assert tr.src_tokenizer.name == "sentences" and tr.src_tokenizer.words == 8
    assert tr.src_tokenizer.tokenize("mary got the milk .") == ["mary", "got", "the", "milk", "."] + ["<pad>"] * 3
    code, stdout, err = run(["evaluate", "--checkpoint", str(out), "--json"])
    assert code == 0, err
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["n_sentences"] == 40 and figures["exact_match"] == pytest.approx(summary["exact_match"])
    answer = tr.translate([QA2_STORY])[0]  # 30 steps: places, perhaps not yet one
    assert answer and set(answer.split()) <= set(tr.tgt_vocab.tokens[4:])


def test_plots_of_a_sentence_model_have_one_column_per_sentence(sentence_run, tmp_path):
    pytest.importorskip("matplotlib")
    tr = Translator.load(sentence_run[0])
    src, tgt, weights = plots.transformer_attention(tr, QA2_STORY)
    assert src == ["where is the milk ?", "mary got the milk .", "mary went to the garden .", "<eos>"]
    assert weights.shape == (1, 2, len(tgt), 4)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    ax = plots.sentence_attention_heatmap(tr, QA2_STORY, ax=_axes())
    assert [t.get_text() for t in ax.get_yticklabels()] == src[:-1]  # <eos> joins the last sentence
    for extra in ([], ["--by-sentence"]):
        png = tmp_path / f"a{len(extra)}.png"
        code, _, err = run(["plot", "attention", "--checkpoint", str(sentence_run[0]), "--sentence", QA2_STORY,
                            *extra, "--out", str(png)])
        assert code == 0, err
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, message", [
    (["--task", "qa-2", "--hidden", "8"],
     "--hidden belongs to the recurrent model, but the qa-2 recipe's architecture is transformer; "
     "add --arch recurrent to use it"),
    (["--task", "qa-2", "--arch", "recurrent", "--sentence-words", "6"],
     "--sentence-words belongs to the Transformer (--arch transformer), but --arch is recurrent"),
    (["--task", "dates", "--arch", "transformer", "--sentence-words", "6"],
     "--sentence-words needs a word-level task (qa-1 .. qa-4); 'dates' reads characters"),
    (["--data", "multi30k", "--arch", "transformer", "--sentence-words", "6"],
     "--sentence-words reads a story one sentence at a time: it belongs to the QA tasks"),
    (["--task", "qa-2", "--sentence-words", "4", "--train-size", "20", "--test-size", "4"],
     "more than the 4 word slots of this model's sentences"),
])
def test_sentence_flags_in_the_wrong_place_are_one_line(argv, message, tmp_path):
    code, _, err = run(["train", *argv, "--out", str(tmp_path / "r"), "--max-steps", "1", "--quiet"])
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()
