"""The README's main job: a step budget with a target, so every machine gets the same result."""

import json

import pytest

from minis2s.cli import main


def run_demo(capsys, out, *flags):
    code = main(["demo", "--out", str(out), "--quiet", "--json", *flags])
    captured = capsys.readouterr()
    return code, json.loads(captured.out.strip().splitlines()[-1]), captured


def validation_exact_match(run_dir) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["val_exact_match"]) for r in records if "val_exact_match" in r]


@pytest.mark.parametrize("higher_is_better, figures, target, stops_after", [
    (True, [0.1, 0.3, 0.6, 0.9], 0.5, 3),
    (True, [0.1, 0.3, 0.4, 0.45], 0.5, None),
    (False, [3.0, 2.0, 1.0, 0.5], 1.0, 3),
])
def test_training_stops_at_the_first_evaluation_that_reaches_the_target(
        tmp_path, higher_is_better, figures, target, stops_after):
    from minis2s.train import build_run
    from minis2s.recipes import recipe
    from minis2s.train import TrainConfig

    r = recipe("copy")
    tc = TrainConfig(max_steps=8, eval_every=2, batch_size=8, metric="score",
                     higher_is_better=higher_is_better, target=target)
    task_cfg = {"kind": "toy", "name": "copy", "seed": 0, "data": {"n_train": 64, "n_test": 8, "max_len": 5}}
    _, trainer = build_run(task_cfg, {**r["model"], "emb": 4, "hidden": 4}, tc, tmp_path / "run", quiet=True)
    seen = iter(figures)
    trainer.evaluate = lambda model: {"score": next(seen)}
    summary = trainer.fit()
    if stops_after is None:
        assert summary["stop_reason"] == "budget" and summary["steps"] == 8
    else:
        assert summary["stop_reason"] == "target" and summary["steps"] == 2 * stops_after


@pytest.mark.slow
def test_demo_stops_at_its_target_and_repeats_exactly_on_any_thread_count(tmp_path, capsys):
    """Two runs with the same seed, one on 1 BLAS thread and one on 2: same steps, same
    held-out figure, same losses at every logged step -- wall time plays no part."""
    code, first, captured = run_demo(capsys, tmp_path / "a", "--target", "0.2", "--threads", "1")
    assert code == 0
    assert first["stop_reason"] == "target"
    step, reached = validation_exact_match(tmp_path / "a")[-1]
    assert step == first["steps"] and reached >= 0.2
    assert f"after {first['steps']} steps (" in captured.out and "s of training)" in captured.out

    code, second, _ = run_demo(capsys, tmp_path / "b", "--target", "0.2", "--threads", "2")
    assert code == 0
    assert (second["steps"], second["exact_match"]) == (first["steps"], first["exact_match"])
    losses = [[json.loads(r)["loss"] for r in (tmp_path / d / "metrics.jsonl").read_text().splitlines()
               if '"loss"' in r and "val_loss" not in r] for d in ("a", "b")]
    assert losses[0] == losses[1]


@pytest.mark.slow
def test_demo_says_when_the_step_cap_comes_first(tmp_path, capsys):
    code, summary, captured = run_demo(capsys, tmp_path / "d", "--max-steps", "200", "--threads", "1")
    assert code == 0
    assert summary["stop_reason"] == "budget" and summary["steps"] == 200
    assert "did not reach 99.9% within 200 steps" in captured.err and "--max-steps" in captured.err


def test_demo_help_shows_its_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("runs/demo", "0.999", "6000", "0", "auto"):
        assert f"(default: {default})" in text


@pytest.mark.slow
def test_a_second_demo_replaces_the_first_and_says_so(tmp_path, capsys):
    out = tmp_path / "demo"
    run_demo(capsys, out, "--max-steps", "20", "--threads", "1")
    code, summary, captured = run_demo(capsys, out, "--max-steps", "20", "--threads", "1")
    assert code == 0
    assert f"starting {out} afresh" in captured.err and "is replaced" in captured.err
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps.count(20) == 2, "one run's records: a log line and a validation at step 20"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000020"]
