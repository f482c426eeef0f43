"""train --bpe N on a tiny Multi30k-shaped corpus: joint merges learned on the training pairs,
stored beside the vocabularies, applied by translate / evaluate / validation, and undone
before scoring, so BLEU is computed on words."""

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from minis2s import checkpoint as ckpt
from minis2s.cli import main
from minis2s.data import BPE, Vocab, multi30k

FIXTURES = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The 64 fixture pairs laid out as every Multi30k split, de and en."""
    root = tmp_path_factory.mktemp("m30k")
    for split in multi30k.SPLITS:
        for lang in ("de", "en"):
            shutil.copy(FIXTURES / f"tiny.{lang}", root / multi30k.file_name(split, lang))
    return root


def _train(argv):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["train", *argv, "--quiet", "--json"]) == 0
    return json.loads(stdout.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """(run directory, train's JSON summary): 50 merges, trained long enough for a BLEU above 0."""
    out = tmp_path_factory.mktemp("runs") / "bpe"
    summary = _train(["--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--bpe", "50",
                      "--max-steps", "60", "--emb", "32", "--hidden", "32", "--batch-size", "16", "--dropout", "0",
                      "--lr", "0.01", "--eval-every", "30"])
    return out, summary


@pytest.fixture(scope="module")
def run(trained):
    return trained[0]


def _words(corpus, split, lang):
    return (corpus / multi30k.file_name(split, lang)).read_text(encoding="utf-8")


def _translate(argv, text, capsys, monkeypatch):
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["translate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_checkpoint_holds_the_merges_and_fingerprint_beside_vocabularies_of_pieces(run, corpus):
    c = ckpt.load_checkpoint(run)
    assert c.config["task"]["bpe"] == 50
    bpe = BPE.from_json(c.vocab["bpe"])
    assert len(bpe) == 50 and c.vocab["bpe_fingerprint"] == bpe.fingerprint
    # joint: learned on both sides of the training pairs, as learn_bpe on them gives
    lines = _words(corpus, "train", "de").splitlines() + _words(corpus, "train", "en").splitlines()
    assert bpe == BPE.learn(lines, 50)
    for side in ("src", "tgt"):
        vocab = Vocab.from_json(c.vocab[side])
        assert any(t.endswith("@@") for t in vocab.tokens), side  # pieces, not words
        bpe.check_vocab(vocab)


def test_validation_reports_bleu_on_words_while_training(run):
    evals = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if "val_bleu" in l]
    assert [e["step"] for e in evals] == [30, 60]
    assert all(0.0 <= e["val_bleu"] <= 100.0 and e["val_ppl"] > 1.0 for e in evals)


def test_translate_takes_words_and_prints_words(run, corpus, capsys, monkeypatch):
    source = _words(corpus, "val", "de")
    code, out, err = _translate(["--checkpoint", str(run)], source, capsys, monkeypatch)
    assert code == 0 and "Traceback" not in err
    lines = out.splitlines()
    assert len(lines) == len(source.splitlines()) and all(lines)
    assert "@@" not in out


def test_evaluate_scores_the_words_translate_prints_as_sacrebleu_does(trained, corpus, tmp_path, capsys,
                                                                      monkeypatch):
    sacrebleu = pytest.importorskip("sacrebleu")
    _, summary = trained
    hyps = tmp_path / "hyps.txt"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", summary["checkpoint"], "--data-dir", str(corpus), "--split",
                 "test2016", "--hyps", str(hyps), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    words = hyps.read_text(encoding="utf-8")
    assert "@@" not in words
    refs = _words(corpus, "test2016", "en").splitlines()
    expected = round(sacrebleu.corpus_bleu(words.splitlines(), [refs], tokenize="none").score, 2)
    assert figures["bleu"] > 0 and figures["bleu"] == expected == summary["test_bleu"]
    _, out, _ = _translate(["--checkpoint", summary["checkpoint"]], _words(corpus, "test2016", "de"), capsys,
                           monkeypatch)
    assert out == words  # the sentences evaluate scored


def _tampered(run, tmp_path, change):
    """A copy of the run's best checkpoint, saved whole (a valid manifest) with ``change``
    applied to its vocab.json: what a wrong or hand-edited checkpoint looks like."""
    c = ckpt.load_checkpoint(run, prefer="best")
    vocab = json.loads(json.dumps(c.vocab))
    change(vocab)
    out = tmp_path / "tampered"
    return ckpt.save_checkpoint(out, "step-1", config=c.config, vocab=vocab, params=c.params,
                                optimizer=c.optimizer, state=c.state)


def _other_model(vocab):
    other = BPE(BPE.from_json(vocab["bpe"]).merges[:10])  # consistent in itself, not the vocabularies' own
    vocab.update(bpe=other.to_json(), bpe_fingerprint=other.fingerprint)


TAMPERING = {
    "fingerprint": (lambda v: v.update(bpe_fingerprint="0" * 64), "does not match the checkpoint's vocabularies"),
    "merges": (lambda v: v["bpe"].update(merges="low"), "no 'merges' list"),
    "record fingerprint": (lambda v: v["bpe"].update(fingerprint="f" * 64), "edited or damaged"),
    "another model": (_other_model, "can never come out of it"),
    "no record": (lambda v: (v.pop("bpe"), v.pop("bpe_fingerprint")), "holds no BPE model"),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_a_bpe_record_that_does_not_fit_the_vocabularies_is_refused_in_one_line(run, corpus, tmp_path, capsys,
                                                                              monkeypatch, how):
    change, says = TAMPERING[how]
    bad = _tampered(run, tmp_path, change)
    code, out, err = _translate(["--checkpoint", str(bad)], "ein mann .\n", capsys, monkeypatch)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and says in err, err
    hyps = tmp_path / "hyps.txt"
    assert main(["evaluate", "--checkpoint", str(bad), "--data-dir", str(corpus), "--hyps", str(hyps)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and not hyps.exists()


def test_resume_keeps_the_stored_merges_and_never_learns_again(run, tmp_path, monkeypatch):
    from minis2s.data import bpe as bpe_module

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = ckpt.load_checkpoint(copy).vocab

    def refuse(*args, **kw):
        raise AssertionError("resume learned BPE merges again")

    monkeypatch.setattr(bpe_module, "learn_bpe", refuse)
    summary = _train(["--resume", str(copy), "--max-steps", "64"])
    assert summary["steps"] == 64
    after = ckpt.load_checkpoint(copy, prefer="latest")
    assert after.path.name == "step-00000064"
    assert after.vocab == before


def test_resume_refuses_a_new_bpe(run, capsys):
    assert main(["train", "--resume", str(run), "--bpe", "20", "--max-steps", "70"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--bpe" in err and "keeps the BPE model" in err


def test_the_transformer_trains_on_pieces_with_one_shared_vocabulary_and_translates_words(corpus, tmp_path, capsys,
                                                                                      monkeypatch):
    out = tmp_path / "tfm"
    summary = _train(["--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--arch", "transformer",
                      "--bpe", "50", "--share-vocab", "--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff",
                      "32", "--max-steps", "4", "--batch-size", "16", "--eval-every", "4"])
    assert summary["steps"] == 4 and 0.0 <= summary["test_bleu"] <= 100.0
    vocab = ckpt.load_checkpoint(out).vocab
    assert BPE.from_json(vocab["bpe"]).fingerprint == vocab["bpe_fingerprint"]
    # joint merges, one vocabulary over both sides' pieces
    assert vocab["src"] == vocab["tgt"] and "@@" in "".join(vocab["src"]["tokens"])
    code, text, _ = _translate(["--checkpoint", str(out)], "ein mann schläft .\n", capsys, monkeypatch)
    assert code == 0 and "@@" not in text and len(text.splitlines()) == 1


def test_export_carries_the_bpe_model_with_the_vocabularies(run, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    target = tmp_path / "model.pt"
    assert main(["export", "--checkpoint", str(run), "--torch", str(target), "--json"]) == 0
    vocab = torch.load(target, weights_only=True)["vocab"]
    assert BPE.from_json(vocab["bpe"]) == BPE.from_json(ckpt.load_checkpoint(run, prefer="best").vocab["bpe"])
    assert vocab["bpe_fingerprint"] == BPE.from_json(vocab["bpe"]).fingerprint


@pytest.mark.parametrize("flags, merges", [([], 10000), (["--bpe", "0"], None), (["--bpe", "30"], 30)])
def test_the_transformer_recipe_learns_its_merges_unless_told(corpus, tmp_path, flags, merges):
    """The Multi30k Transformer recipe trains on 10,000 BPE merges (benchmarks/RESULTS.md: the
    better 60-minute BLEU); --bpe 0 trains it on words, --bpe N on N merges. The run's config
    records what it learned, and a words run holds no BPE model."""
    out = tmp_path / "tfm"
    _train(["--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--arch", "transformer",
            "--layers", "1", "--d-model", "16", "--heads", "2", "--d-ff", "32", "--max-steps", "1",
            "--batch-size", "16", "--eval-every", "1", *flags])
    c = ckpt.load_checkpoint(out)
    assert c.config["task"].get("bpe") == merges
    assert ("bpe" in c.vocab) == (merges is not None)
    if merges == 30:
        assert len(BPE.from_json(c.vocab["bpe"]).merges) == 30
