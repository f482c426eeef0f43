"""Ctrl-C during training (issue 11, item 5): the first saves the current step and says how to
resume (exit 130); the second stops at once and the last complete checkpoint still loads.

The subprocess tests send real SIGINTs to ``python -m minis2s train``; the in-process ones
raise SIGINT at chosen points (a step, a save), so what they check does not depend on timing.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import minis2s
from minis2s import checkpoint as ckpt
from minis2s.cli import main
from minis2s.models.seq2seq import Seq2Seq

REPO = Path(minis2s.__file__).resolve().parents[1]
TINY = ["train", "--task", "copy", "--emb", "8", "--hidden", "8", "--train-size", "200", "--test-size", "20",
        "--quiet"]
SAVED = re.compile(r"^interrupted: saved (\S+) \(step (\d+)\); continue with python -m minis2s train --resume (\S+)$")
STOPPED = re.compile(r"^stopped at once by Ctrl-C at step \d+: the last complete checkpoint, (\S+) \(step (\d+)\), "
                     r"is intact; continue with python -m minis2s train --resume (\S+)$")


class Training:
    """``python -m minis2s train`` in a subprocess, its stderr collected line by line."""

    def __init__(self, out: Path, *extra):
        env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "minis2s", *TINY, "--out", str(out), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.lines = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stderr), daemon=True)
        self._reader.start()

    def wait_for(self, condition, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"training ended before {what}: {''.join(self.lines)}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
            time.sleep(0.005)

    def finish(self) -> tuple[int, list[str]]:
        code = self.proc.wait(timeout=120)
        self._reader.join(timeout=10)
        return code, [line.rstrip("\n") for line in self.lines if line.strip()]


def saved_checkpoint(out: Path) -> int:
    return ckpt.load_checkpoint(out, prefer="latest").state["trainer"]["step"]


def test_first_ctrl_c_saves_the_current_step_and_prints_the_resume_command(tmp_path, capsys):
    out = tmp_path / "run"
    run = Training(out, "--max-steps", "1000000", "--eval-every", "50")
    run.wait_for(lambda: (out / "metrics.jsonl").exists(), "metrics.jsonl")
    run.proc.send_signal(signal.SIGINT)
    code, lines = run.finish()
    assert code == 130, lines
    assert "Traceback" not in "\n".join(lines)
    assert lines[0].startswith("Ctrl-C: saving a checkpoint after this step")
    match = SAVED.match(lines[-1])
    assert match, lines
    path, step, resume_dir = Path(match[1]), int(match[2]), match[3]
    assert path == out / "checkpoints" / f"step-{step:08d}" and resume_dir == str(out)
    assert step >= 10 and saved_checkpoint(out) == step
    assert ckpt.load_checkpoint(out, prefer="best").path.exists()  # the run reports a best at its end
    # the printed command continues the run from the saved step
    code = main(["train", "--resume", str(out), "--max-steps", str(step + 5), "--quiet", "--json"])
    assert code == 0
    assert '"steps": %d' % (step + 5) in capsys.readouterr().out
    assert saved_checkpoint(out) == step + 5


@pytest.mark.slow
def test_second_ctrl_c_stops_at_once_and_the_last_checkpoint_still_loads(tmp_path):
    out = tmp_path / "run"
    # steps slow enough (~0.1 s) that the second Ctrl-C usually lands inside a step or a save
    run = Training(out, "--max-steps", "1000000", "--eval-every", "5", "--hidden", "256", "--batch-size", "200")
    run.wait_for(lambda: (out / "latest.json").exists(), "first checkpoint")
    run.proc.send_signal(signal.SIGINT)
    run.wait_for(lambda: any("Ctrl-C" in line for line in run.lines), "Ctrl-C message")
    run.proc.send_signal(signal.SIGINT)
    code, lines = run.finish()
    assert code == 130, lines
    assert "Traceback" not in "\n".join(lines)
    # the second Ctrl-C may land before the save, inside it, or after it (then the first's
    # message stands); either way the line names a checkpoint that loads
    match = STOPPED.match(lines[-1]) or SAVED.match(lines[-1])
    assert match, lines
    assert saved_checkpoint(out) == int(match[2])
    assert ckpt.load_checkpoint(match[1]).path == Path(match[1])
    assert not list(out.glob(".tmp-*")), "a save cut short removes its temporary folder"


def sigint_at_call(monkeypatch, n: int) -> None:
    """Raise SIGINT in this process during the n-th training forward_backward."""
    real, calls = Seq2Seq.forward_backward, {"n": 0}

    def forward_backward(self, *a, **kw):
        if kw.get("train") and kw.get("backward", True):
            calls["n"] += 1
            if calls["n"] == n:
                signal.raise_signal(signal.SIGINT)
        return real(self, *a, **kw)

    monkeypatch.setattr(Seq2Seq, "forward_backward", forward_backward)


def test_ctrl_c_in_a_step_saves_that_step_and_resuming_is_bit_identical(tmp_path, capsys, monkeypatch):
    whole, part = tmp_path / "whole", tmp_path / "part"
    common = TINY + ["--dropout", "0.2", "--eval-every", "10"]
    assert main(common + ["--out", str(whole), "--max-steps", "25"]) == 0
    handler = signal.getsignal(signal.SIGINT)
    sigint_at_call(monkeypatch, 15)
    assert main(common + ["--out", str(part), "--max-steps", "25"]) == 130
    assert signal.getsignal(signal.SIGINT) is handler, "fit restores the previous handler"
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"interrupted: saved {part}/checkpoints/step-00000015 (step 15); "
                       f"continue with python -m minis2s train --resume {part}")
    assert saved_checkpoint(part) == 15
    assert ckpt.load_checkpoint(part, prefer="best").path.name == "step-00000010"  # a best is kept as best
    monkeypatch.undo()
    assert main(["train", "--resume", str(part), "--quiet"]) == 0
    a, b = ckpt.load_checkpoint(whole).params, ckpt.load_checkpoint(part).params
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_second_ctrl_c_during_the_save_keeps_the_previous_checkpoint(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    sigint_at_call(monkeypatch, 15)
    real = ckpt._write_npz

    def write_npz(path, arrays):
        if "step-00000015" in str(path):
            signal.raise_signal(signal.SIGINT)  # the second Ctrl-C, in the middle of the save
        return real(path, arrays)

    monkeypatch.setattr(ckpt, "_write_npz", write_npz)
    handler = signal.getsignal(signal.SIGINT)
    assert main(TINY + ["--out", str(out), "--max-steps", "40", "--eval-every", "10"]) == 130
    assert signal.getsignal(signal.SIGINT) is handler
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"stopped at once by Ctrl-C at step 15: the last complete checkpoint, "
                       f"{out}/checkpoints/step-00000010 (step 10), is intact; "
                       f"continue with python -m minis2s train --resume {out}")
    assert saved_checkpoint(out) == 10
    assert not (out / "checkpoints" / "step-00000015").exists()
    assert not list(out.glob(".tmp-*")), "the cut-short save removed its temporary folder"


def test_ctrl_c_before_any_checkpoint_still_saves_one(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    sigint_at_call(monkeypatch, 3)
    assert main(TINY + ["--out", str(out), "--max-steps", "40", "--eval-every", "20"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"interrupted: saved {out}/checkpoints/step-00000003")
    assert saved_checkpoint(out) == 3
    assert ckpt.load_checkpoint(out, prefer="best").state["trainer"]["step"] == 3


def test_ctrl_c_right_after_a_validation_save_does_not_save_twice(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    sigint_at_call(monkeypatch, 10)
    real, names = ckpt.save_checkpoint, []

    def save_checkpoint(run_dir, name, **kw):
        names.append(name)
        return real(run_dir, name, **kw)

    monkeypatch.setattr(ckpt, "save_checkpoint", save_checkpoint)
    assert main(TINY + ["--out", str(out), "--max-steps", "40", "--eval-every", "10"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        f"interrupted: saved {out}/checkpoints/step-00000010 (step 10)")
    assert names == ["step-00000010"]
