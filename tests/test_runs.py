"""Run folders: one run each, one writer at a time, and file-system failures that end with one
line naming the path and the checkpoint still intact (issue 11, items 4 and 9).

We run as root, so a read-only folder or a full disk is simulated by making the writer raise
the OSError the kernel would give.
"""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minis2s import checkpoint as ckpt
from minis2s import runs
from minis2s.cli import main

TINY = ["train", "--task", "copy", "--emb", "8", "--hidden", "8", "--train-size", "200", "--test-size", "20",
        "--quiet"]


def train(out, *extra, capsys):
    code = main(TINY + ["--out", str(out), *extra])
    _, err = capsys.readouterr()
    return code, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def os_error(code: int, path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


# --------------------------------------------------------------------------- one run per folder


def test_a_folder_holding_a_run_is_refused_with_the_three_ways_out(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--max-steps", "10", capsys=capsys)[0] == 0
    before = tree_digest(out)
    code, err = train(out, "--max-steps", "10", capsys=capsys)
    assert code == 2
    line = one_line(err)
    assert f"{out} already holds a copy run at step 10" in line
    assert f"--resume {out}" in line and "--overwrite" in line and "another --out" in line
    assert tree_digest(out) == before  # nothing was touched


@pytest.mark.parametrize("leftover", ["metrics.jsonl", "latest.json", "checkpoints"])
def test_any_trace_of_a_run_counts_as_a_run(tmp_path, capsys, leftover):
    out = tmp_path / "run"
    out.mkdir()
    (out / leftover).mkdir() if leftover == "checkpoints" else (out / leftover).write_text("{}\n")
    code, err = train(out, "--max-steps", "5", capsys=capsys)
    assert code == 2 and "already holds a run with no complete checkpoint" in one_line(err)


def test_overwrite_removes_only_what_a_run_writes(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, "--max-steps", "10", capsys=capsys)[0] == 0
    (out / "notes.txt").write_text("mine\n")
    (out / ".tmp-latest.json-999999-abcd").write_text("a crashed save's leftover")
    assert train(out, "--max-steps", "5", "--overwrite", capsys=capsys)[0] == 0
    assert (out / "notes.txt").read_text() == "mine\n"
    assert not list(out.glob(".tmp-*"))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000005"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 5
    assert ckpt.load_checkpoint(out).state["trainer"]["step"] == 5


def test_overwrite_and_resume_together_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", str(tmp_path), "--overwrite"])
    assert exc.value.code == 2 and "--overwrite" in capsys.readouterr().err


def test_open_run_with_overwrite_says_what_it_replaced(tmp_path, capsys):
    out = tmp_path / "demo"
    assert train(out, "--max-steps", "10", capsys=capsys)[0] == 0
    with runs.open_run(out, overwrite=True) as run:
        assert run.replaced == "a copy run at step 10"
        assert not (out / "checkpoints").exists() and not (out / "latest.json").exists()
    with runs.open_run(tmp_path / "fresh", overwrite=True) as run:
        assert run.replaced is None


def test_a_refused_run_leaves_no_empty_folder_behind(tmp_path, capsys):
    code, err = train(tmp_path / "new", "--schedule", "cosine", "--minutes", "1", capsys=capsys)
    assert code == 2 and "--schedule cosine needs" in one_line(err)
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- one writer at a time

HOLDER = textwrap.dedent("""
    import sys
    from minis2s import runs
    with runs.open_run(sys.argv[1], resume=len(sys.argv) > 2):
        print("locked", flush=True)
        sys.stdin.read()
""")


@pytest.mark.parametrize("resume", [False, True])
def test_a_second_training_in_the_same_folder_is_refused_while_the_first_runs(tmp_path, capsys, resume):
    out = tmp_path / "run"
    if resume:
        assert train(out, "--max-steps", "5", capsys=capsys)[0] == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)] + (["resume"] if resume else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path(runs.__file__).parents[1])})
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = tree_digest(out)
        argv = ["train", "--resume", str(out), "--max-steps", "10", "--quiet"] if resume else \
            TINY + ["--out", str(out), "--max-steps", "5"]
        code = main(argv)
        line = one_line(capsys.readouterr().err)
        assert code == 2
        assert line == (f"error: {out} is being written by another training (pid {holder.pid}); "
                        "wait for it to finish or choose another --out")
        assert tree_digest(out) == before
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
    # the lock went with the process that held it
    argv = ["train", "--resume", str(out), "--max-steps", "10", "--quiet"] if resume else \
        TINY + ["--out", str(out), "--max-steps", "5"]
    assert main(argv) == 0


# --------------------------------------------------------------------------- before any work


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "model.txt"
    f.write_text("not a folder")
    code, err = train(f, "--max-steps", "5", capsys=capsys)
    assert code == 2
    assert one_line(err) == f"error: --out {f} is a file, not a folder; choose another --out"
    code, err = train(f / "run", "--max-steps", "5", capsys=capsys)
    assert code == 2 and f"{f} is a file" in one_line(err)
    assert f.read_text() == "not a folder"


@pytest.mark.parametrize("code_", [errno.EROFS, errno.EACCES])
def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, monkeypatch, code_):
    def refuse(*args, dir=None, **kwargs):
        raise os_error(code_, Path(dir) / ".minis2s-probe-x")

    monkeypatch.setattr(runs.tempfile, "mkstemp", refuse)
    out = tmp_path / "a" / "run"
    code, err = train(out, "--max-steps", "5", capsys=capsys)
    assert code == 2
    line = one_line(err)
    assert f"cannot write in {tmp_path} ({os.strerror(code_)})" in line and "choose another --out" in line
    assert not (tmp_path / "a").exists()


# --------------------------------------------------------------------------- while training


@pytest.fixture(scope="module")
def ten_steps(tmp_path_factory):
    """The run of 10 steps an interrupted 20-step run must still hold, bit for bit."""
    out = tmp_path_factory.mktemp("ref") / "run"
    assert main(TINY + ["--out", str(out), "--max-steps", "10", "--eval-every", "10"]) == 0
    return ckpt.load_checkpoint(out)


def assert_step_10_intact(out: Path, reference) -> None:
    kept = ckpt.load_checkpoint(out)  # verifies every file against its manifest
    assert kept.path.name == "step-00000010" and kept.state["trainer"]["step"] == 10
    for k, v in reference.params.items():
        assert np.array_equal(kept.params[k], v), k
    assert not list(out.glob(".tmp-*")), "a failed save leaves no temporary folder"


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.ENOENT])
def test_a_failed_checkpoint_save_ends_with_one_line_and_keeps_the_last_one(tmp_path, capsys, monkeypatch,
                                                                          ten_steps, code_):
    real = ckpt._write_bytes

    def write(path, data):
        if "step-00000020" in str(path):
            raise os_error(code_, path)
        return real(path, data)

    monkeypatch.setattr(ckpt, "_write_bytes", write)
    out = tmp_path / "run"
    code, err = train(out, "--max-steps", "40", "--eval-every", "10", capsys=capsys)
    assert code == 2
    line = one_line(err)
    assert f"cannot write {out}/.tmp-step-00000020-" in line and f"({os.strerror(code_)})" in line
    assert f"the last complete checkpoint, {out}/checkpoints/step-00000010 (step 10), is intact" in line
    assert line.endswith(f"continue with python -m minis2s train --resume {out}")
    assert_step_10_intact(out, ten_steps)


def test_a_full_disk_while_writing_metrics_ends_with_one_line(tmp_path, capsys, monkeypatch, ten_steps):
    real_open = open

    def fake_open(path, mode="r", *args, **kwargs):
        if str(path).endswith("metrics.jsonl") and (Path(path).parent / "checkpoints" / "step-00000010").exists():
            raise os_error(errno.ENOSPC, path)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(runs, "open", fake_open, raising=False)
    out = tmp_path / "run"
    code, err = train(out, "--max-steps", "40", "--eval-every", "10", capsys=capsys)
    assert code == 2
    line = one_line(err)
    assert f"cannot write {out}/metrics.jsonl (No space left on device); " in line
    assert "free some space on that disk" in line and "step-00000010 (step 10), is intact" in line
    assert_step_10_intact(out, ten_steps)


def test_a_read_only_folder_before_the_first_checkpoint_says_nothing_was_saved(tmp_path, capsys, monkeypatch):
    def refuse(path, line):
        raise os_error(errno.EROFS, path)

    monkeypatch.setattr(runs, "append_line", refuse)
    out = tmp_path / "run"
    code, err = train(out, "--max-steps", "40", "--eval-every", "20", capsys=capsys)
    assert code == 2
    assert one_line(err) == (
        f"error: cannot write {out}/metrics.jsonl (Read-only file system); no checkpoint was saved: make "
        f"{out} writable, or choose another --out, and start again (add --overwrite to reuse {out})")


def test_a_failed_tensorboard_write_ends_with_one_line(tmp_path, capsys, monkeypatch, ten_steps):
    pytest.importorskip("tensorboardX")
    real = runs.TensorBoardEvents.add

    def add(self, record):
        if record["step"] > 10:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / "run" / "tensorboard"))
        return real(self, record)

    monkeypatch.setattr(runs.TensorBoardEvents, "add", add)
    out = tmp_path / "run"
    code, err = train(out, "--max-steps", "40", "--eval-every", "10", capsys=capsys)
    assert code == 2
    line = one_line(err)
    assert f"cannot write {out}/tensorboard (Permission denied)" in line and f"make {out} writable" in line
    assert_step_10_intact(out, ten_steps)
    assert list((out / "tensorboard").glob("events.out.tfevents.*")), "events up to step 10 were written"


def test_a_metrics_line_cut_short_by_a_full_disk_is_removed(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 10}\n')
    real_open = open

    class HalfWriter:
        """Writes half of what it is given, then finds the disk full."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def fileno(self):
            return self.f.fileno()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise os_error(errno.ENOSPC, path)

        def flush(self):
            self.f.flush()

    monkeypatch.setattr(runs, "open", lambda *a, **k: HalfWriter(real_open(*a, **k)), raising=False)
    with pytest.raises(OSError):
        runs.append_line(path, '{"step": 20, "loss": 1.5}')
    assert path.read_text() == '{"step": 10}\n'


def test_the_lock_is_released_and_the_sigint_handler_restored_after_a_write_error(tmp_path, capsys, monkeypatch):
    real = runs.append_line

    def full_after_step_10(path, line):
        if json.loads(line)["step"] > 10:
            raise os_error(errno.ENOSPC, path)
        return real(path, line)

    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(runs, "append_line", full_after_step_10)
    out = tmp_path / "run"
    assert train(out, "--max-steps", "40", "--eval-every", "10", capsys=capsys)[0] == 2
    assert signal.getsignal(signal.SIGINT) is handler
    monkeypatch.undo()
    code, err = train(out, "--max-steps", "5", "--overwrite", capsys=capsys)
    assert code == 0, err  # not "being written by another training"
