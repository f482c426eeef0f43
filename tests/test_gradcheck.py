"""The gradient checker itself: it finds wrong backward passes, and the command reports them."""

import json

import numpy as np
import pytest

from minis2s import suite
from minis2s.cli import main
from minis2s.functional import linear as F
from minis2s.gradcheck import TOLERANCE, gradcheck, rel_error, sample_coords


def _inputs(rng):
    return {"x": rng.standard_normal((3, 4)), "W": rng.standard_normal((2, 4)), "b": rng.standard_normal(2)}


def wrong_affine_backward(dy, cache):
    dx, dW, db = F.affine_backward(dy, cache)
    return dx, dW, db * 0.5  # a classic: averaging where the forward sums


def test_checker_flags_exactly_the_wrong_gradient():
    results = gradcheck(F.affine_forward, wrong_affine_backward, _inputs(np.random.default_rng(0)), ["x", "W", "b"])
    verdict = {r.wrt: r.passed() for r in results}
    assert verdict == {"x": True, "W": True, "b": False}
    assert {r.wrt: r.rel_error for r in results}["b"] == pytest.approx(1 / 3, rel=1e-6)


def test_checker_refuses_float32_inputs():
    inputs = {k: v.astype("float32") for k, v in _inputs(np.random.default_rng(0)).items()}
    with pytest.raises(TypeError, match="float64"):
        gradcheck(F.affine_forward, F.affine_backward, inputs, ["x"])


def test_relative_error_is_norm_based_and_safe_at_zero():
    assert rel_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert rel_error([1.0, 0.0], [1.0, 1e-12]) < 1e-11
    assert rel_error([1.0], [-1.0]) == 1.0


def test_sampled_coordinates_are_distinct_and_in_range():
    coords = sample_coords((7, 9), 20, np.random.default_rng(0))
    assert len(set(coords)) == 20 and all(0 <= i < 7 and 0 <= j < 9 for i, j in coords)
    assert len(sample_coords((3, 2), 20, np.random.default_rng(0))) == 6


def test_command_exits_1_and_prints_json_when_a_check_fails(monkeypatch, capsys):
    broken = suite.Case("affine (broken on purpose)", F.affine_forward, wrong_affine_backward,
                        lambda rng: (_inputs(rng), {}), ("x", "W", "b"))
    monkeypatch.setattr(suite, "CASES", [broken])
    assert main(["gradcheck", "--json"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    rows = json.loads(out[-1])
    assert [r["wrt"] for r in rows] == ["x", "W", "b"] and rows[2]["rel_error"] > TOLERANCE
    assert any("FAIL" in line for line in out)


def test_command_runs_the_cases_of_one_family(capsys):
    # the whole catalogue runs in tests/suite/test_catalogue.py, on every backend
    assert main(["gradcheck", "--only", "attention", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {r["op"] for r in rows} == {c.name for c in suite.CASES if "attention" in c.name}
    assert max(r["rel_error"] for r in rows) <= TOLERANCE
    assert {"op", "wrt", "rel_error"} == set(rows[0])


def test_command_checks_a_whole_model_with_model(capsys):
    from minis2s.suite.model import MODEL_TOLERANCE

    assert main(["gradcheck", "--model", "--only", "lstm-noattention-tied"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].split()[:2] == ["op", "wrt"] and all(line.endswith("pass") for line in out[1:-1])
    assert {line.split()[1] for line in out[1:-1]} >= {"enc.emb", "dec.emb", "bridge.l0.c.W", "out.proj.W"}
    assert out[-1].startswith(f"{len(out) - 2} checks, 0 failed") and f"tolerance {MODEL_TOLERANCE:.0e}" in out[-1]


def test_command_names_what_it_cannot_find(capsys):
    assert main(["gradcheck", "--only", "no such op"]) == 2
    assert "no gradient-check case matches" in capsys.readouterr().err
