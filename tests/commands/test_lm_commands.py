"""train --task lm and generate end to end on the fixture corpus, and the inputs they refuse."""

import contextlib
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from minis2s import backend as B
from minis2s import checkpoint as ckpt
from minis2s.cli import main
from minis2s.data import multi30k
from minis2s.decode import filtered_probs, greedy, sample
from minis2s.inference import Generator

FIXTURES = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"
TINY = ["--emb", "8", "--hidden", "16", "--batch-size", "4", "--bptt", "8", "--eval-every", "10", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The 64 fixture sentences laid out as every Multi30k split (en and de)."""
    root = tmp_path_factory.mktemp("m30k")
    for split in multi30k.SPLITS:
        for lang in ("de", "en"):
            shutil.copy(FIXTURES / f"tiny.{lang}", root / multi30k.file_name(split, lang))
    return root


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def lm_run(corpus, tmp_path_factory):
    """(run directory, the JSON summary) of 20 steps of train --task lm."""
    out = tmp_path_factory.mktemp("runs") / "lm"
    code, stdout, err = run(["train", "--task", "lm", "--data", "multi30k", "--lang", "en", "--data-dir", str(corpus),
                             "--out", str(out), "--max-steps", "20", "--lr", "1e-2", "--json"] + TINY)
    assert code == 0, err
    return out, json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def translation_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "mt"
    code, _, err = run(["train", "--data", "multi30k", "--data-dir", str(corpus), "--out", str(out), "--max-steps", "2",
                        "--emb", "8", "--hidden", "8", "--batch-size", "16", "--quiet"])
    assert code == 0, err
    return out


def test_train_lm_reports_validation_and_test_perplexity_and_learns(lm_run):
    out, summary = lm_run
    assert summary["steps"] == 20
    for split in ("val", "test"):
        assert summary[f"{split}_ppl"] == pytest.approx(math.exp(summary[f"{split}_loss"]), rel=1e-5)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val = [r["val_ppl"] for r in records if "val_ppl" in r]
    assert len(val) == 2 and val[-1] < val[0]  # the fixture's val split is its train split: it must fall
    assert summary["val_ppl"] == pytest.approx(min(val), rel=1e-6)  # the best checkpoint's


@pytest.mark.parametrize("ema", [[], ["--ema", "0.9"]], ids=["trained", "averaged"])
def test_train_lm_resumes_bit_identically_with_the_carried_state(corpus, tmp_path, ema):
    # windows 11-20 continue the rows of windows 1-10: the state they start from is saved with
    # the checkpoint, so a resumed run is the uninterrupted one (dropout draws included); with
    # --ema the trained weights are saved beside it and the average in params.npz
    base = ["train", "--task", "lm", "--data", "multi30k", "--data-dir", str(corpus), "--dropout", "0.2"] + TINY + ema
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert run(base + ["--out", str(whole), "--max-steps", "20"])[0] == 0
    assert run(base + ["--out", str(part), "--max-steps", "10"])[0] == 0
    saved = ckpt.load_checkpoint(part, prefer="latest")
    assert saved.state_arrays and all(np.isfinite(a).all() and a.any() for a in saved.state_arrays.values())
    assert any(k.startswith("trained.") for k in saved.state_arrays) == bool(ema)
    code, stdout, _ = run(["train", "--resume", str(part), "--max-steps", "20", "--quiet", "--json"])
    assert code == 0 and json.loads(stdout.strip().splitlines()[-1])["steps"] == 20
    a, b = (ckpt.load_checkpoint(r, prefer="latest") for r in (whole, part))
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    for k in a.state_arrays:
        assert np.array_equal(a.state_arrays[k], b.state_arrays[k]), k


def test_generate_prints_num_samples_that_start_with_the_prompt(lm_run):
    code, stdout, _ = run(["generate", "--checkpoint", str(lm_run[0]), "--prompt", "A man", "--num", "3",
                           "--seed", "1", "--json", "--threads", "1"])
    assert code == 0
    lines = stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert lines[:-1] == summary["samples"] and len(summary["samples"]) == 3
    assert all(s.startswith("a man") for s in summary["samples"])  # tokenized like the corpus
    assert all(lp <= 0 for lp in summary["log_probs"])


@pytest.mark.parametrize("how", [[], ["--greedy"], ["--beam", "3"]])
def test_generate_is_reproducible(lm_run, how):
    argv = ["generate", "--checkpoint", str(lm_run[0]), "--seed", "5", "--threads", "1"] + how
    assert run(argv)[1] == run(argv)[1]


def test_sampling_with_a_fixed_seed_is_reproducible_and_seeds_differ(lm_run):
    g = Generator.load(lm_run[0])
    a = g.generate("a", num=8, seed=3)
    assert a == g.generate("a", num=8, seed=3)
    assert a[0] != g.generate("a", num=8, seed=4)[0]


def test_a_tiny_temperature_samples_the_greedy_continuation(lm_run):
    g = Generator.load(lm_run[0])
    (greedy_text,), _ = g.generate("a man", method="greedy", max_len=15)
    texts, _ = g.generate("a man", num=4, temperature=1e-4, seed=0, max_len=15)
    assert texts == [greedy_text] * 4


def test_generation_decodes_through_minis2s_decode(lm_run):
    """The generator is the decoders of minis2s.decode on the language model: same tokens."""
    g = Generator.load(lm_run[0])
    ids = g.prompt_ids("a man")
    ctx = B.to_device(np.array([ids[:-1]], dtype=np.int64))
    mask = B.to_device(np.ones(ctx.shape), g.model.dtype)
    out = greedy(g.model, ctx, mask, ids[-1], 2, max_len=12)
    assert g.generate("a man", method="greedy", max_len=12)[0] == [" ".join(g.vocab.decode(ids[1:] + out.ids[0]))]
    drawn = sample(g.model, ctx, mask, ids[-1], 2, B.DeviceRNG(9), temperature=0.7, top_k=5, max_len=12)
    assert g.generate("a man", temperature=0.7, top_k=5, seed=9, max_len=12)[0] == [
        " ".join(g.vocab.decode(ids[1:] + drawn.ids[0]))]


def test_top_k_keeps_exactly_the_k_most_likely_tokens():
    logp = np.log(np.array([[0.1, 0.4, 0.05, 0.3, 0.15], [0.2, 0.2, 0.2, 0.3, 0.1]]))
    p = filtered_probs(logp, top_k=2)
    assert (p > 0).tolist() == [[False, True, False, True, False], [True, True, True, True, False]]  # a tie stays
    assert (filtered_probs(logp, top_k=1)[0] > 0).tolist() == [False, True, False, False, False]


def test_top_p_keeps_the_smallest_set_whose_mass_reaches_p():
    logp = np.log(np.array([[0.1, 0.4, 0.05, 0.3, 0.15]]))

    def support(p):
        return (filtered_probs(logp, top_p=p)[0] > 0).tolist()

    assert support(0.4) == [False, True, False, False, False]  # 0.4 alone reaches 0.4
    assert support(0.5) == [False, True, False, True, False]  # 0.4 + 0.3
    assert support(0.71) == [False, True, False, True, True]  # + 0.15 = 0.85
    assert support(1.0) == [True] * 5


def test_sampled_tokens_stay_inside_the_top_k_support(lm_run):
    g = Generator.load(lm_run[0])
    ids = g.prompt_ids("a")
    ctx = B.to_device(np.array([ids[:-1]] * 64, dtype=np.int64))
    logp, _, _ = g.model.decode_step(None, g.model.encode(ctx, B.to_device(np.ones(ctx.shape)))[1],
                                     B.to_device(np.full(64, ids[-1])))
    top3 = set(np.argsort(-B.to_host(logp)[0])[:3].tolist())
    drawn = sample(g.model, ctx, B.to_device(np.ones(ctx.shape)), ids[-1], 2, B.DeviceRNG(0), top_k=3, max_len=1)
    firsts = {seq[0] if seq else 2 for seq in drawn.ids}
    assert firsts <= top3 and len(firsts) > 1


@pytest.mark.parametrize("extra, needle", [
    (["--temperature", "0"], "--temperature"),
    (["--temperature", "-1"], "--temperature"),
    (["--temperature", "nan"], "--temperature"),
    (["--top-p", "0"], "--top-p"),
    (["--top-p", "1.5"], "--top-p"),
    (["--top-p", "nan"], "--top-p"),
    (["--top-k", "0"], "--top-k"),
    (["--prompt", ""], "--prompt is empty"),
    (["--prompt", "   "], "--prompt is empty"),
    (["--prompt", "a zyzzyva man qwxq"], "'zyzzyva', 'qwxq'"),
    (["--greedy", "--num", "2"], "--num"),
])
def test_generate_refuses_bad_input_with_one_line(lm_run, extra, needle):
    code, stdout, err = run(["generate", "--checkpoint", str(lm_run[0]), "--threads", "1"] + extra)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and needle in err


def test_generate_refuses_a_translation_checkpoint(translation_run):
    code, stdout, err = run(["generate", "--checkpoint", str(translation_run)])
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1
    assert "not a language model" in err and "translate" in err


def test_translate_refuses_a_language_model_checkpoint(lm_run, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a man\n"))
    code, stdout, err = run(["translate", "--checkpoint", str(lm_run[0])])
    assert code == 2 and stdout == "" and len(err.strip().splitlines()) == 1
    assert "language model" in err and "generate" in err


def test_refused_lm_runs_write_nothing(corpus, tmp_path, capsys):
    out = tmp_path / "never"
    for argv in (["train", "--task", "lm", "--out", str(out), "--max-steps", "1"],  # no --data
                 ["train", "--task", "lm", "--data", "multi30k", "--data-dir", str(corpus), "--out", str(out),
                  "--max-steps", "1", "--attention", "dot"],
                 ["train", "--task", "dates", "--out", str(out), "--max-steps", "1", "--bptt", "5"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    assert not out.exists()


def test_generate_has_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--help"])
    assert exc.value.code == 0 and "--top-p" in capsys.readouterr().out


def test_char_level_lm_trains_and_generates_characters(corpus, tmp_path):
    out = tmp_path / "char"
    code, _, err = run(["train", "--task", "lm", "--data", "multi30k", "--data-dir", str(corpus), "--level", "char",
                        "--lm-batches", "sentence", "--out", str(out), "--max-steps", "3"] + TINY)
    assert code == 0, err
    texts, _ = Generator.load(out).generate("a m", num=2, max_len=10)
    assert all(t.startswith("a m") and len(t) <= 13 for t in texts)
    code, _, err = run(["generate", "--checkpoint", str(out), "--prompt", "A"])
    assert code == 2 and "characters outside" in err and "'A'" in err


def test_lm_training_step_reads_nothing_back_from_the_device(corpus, tmp_path, numpy_afterwards):
    """The strict backend refuses hidden host reads: a step with a carried state makes none."""
    code, stdout, err = run(["train", "--backend", "strict", "--task", "lm", "--data", "multi30k", "--data-dir",
                             str(corpus), "--out", str(tmp_path / "s"), "--max-steps", "4", "--json"] + TINY)
    assert code == 0, err
    assert json.loads(stdout.strip().splitlines()[-1])["steps"] == 4
