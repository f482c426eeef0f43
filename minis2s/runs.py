"""A run folder holds one run, written by one training at a time.

``train --out DIR`` writes into DIR::

    checkpoints/    latest.json    best.json    metrics.jsonl    tensorboard/    .lock

:func:`open_run` guards the folder for the whole training: it checks that DIR can be written
before any work starts, refuses a folder that already holds a run (unless the run is being
resumed, or ``--overwrite`` asks to start again), and holds an exclusive lock on ``.lock`` so
that a second training cannot write into the same folder at the same time.

While training, a failed write (disk full, read-only disk, no permission) ends with one line
from :func:`write_error`: what could not be written, why, which checkpoint is still intact,
and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as ckpt
from .errors import UserError

try:
    import fcntl
except ImportError:  # not POSIX: no lock, everything else works
    fcntl = None

LOCK = ".lock"
# what a training writes; --overwrite removes these (and the temporary leftovers of saves)
WRITTEN = ("latest.json", "best.json", "checkpoints", "metrics.jsonl", "tensorboard")
# any of these says the folder holds a run
MARKERS = ("checkpoints", "latest.json", "metrics.jsonl")
RESUME = "python -m minis2s train --resume"


class RunWriteError(UserError):
    """Writing into the run folder failed (disk full, read-only, no permission...)."""


@dataclass
class Run:
    path: Path
    replaced: str | None = None  # what --overwrite removed, described; None if nothing


@contextlib.contextmanager
def open_run(out, *, overwrite: bool = False, resume: bool = False):
    """Hold the run folder ``out`` for one training; yields a :class:`Run`.

    resume: ``out`` must hold a run, which is continued. Otherwise a run already there is
    refused, or removed first with ``overwrite``. The lock is released when the block ends.
    """
    out = Path(out)
    flag = "--resume" if resume else "--out"
    if resume and not out.is_dir():
        raise UserError(f"--resume {out}: no such folder; pass the folder a training wrote with --out "
                        "(it holds checkpoints/ and latest.json)")
    if resume and describe(out) is None:  # checked before the lock file is made in a stranger's folder
        raise UserError(f"--resume {out}: it holds no run (no checkpoints/, latest.json or "
                        "metrics.jsonl); pass the folder a training wrote with --out")
    check_writable(out, flag)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out} ({_reason(exc)}); choose another {flag}") from None
    try:
        with _locked(out):
            run = Run(out)
            held = describe(out)
            if held is not None and not resume:
                if not overwrite:
                    raise UserError(
                        f"{out} already holds {held}; continue it with --resume {out}, start it again "
                        "with --overwrite, or choose another --out")
                clear(out)
                run.replaced = held
            yield run
    except BaseException:
        if created:  # a run refused before it wrote anything leaves no folder behind
            with contextlib.suppress(OSError):
                if [p.name for p in out.iterdir()] == [LOCK]:
                    (out / LOCK).unlink()
                    out.rmdir()
        raise


# --------------------------------------------------------------------------- before any work


def check_writable(out: Path, flag: str = "--out") -> None:
    """One clear line if ``out`` is a file or cannot be written (checked by writing a file)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{flag} {out} is a file, not a folder; choose another {flag}")
    probe = out
    while not probe.exists():  # the nearest existing parent is where the folder would be made
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{flag} {out} cannot be made: {probe} is a file; choose another {flag}")
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".minis2s-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UserError(f"cannot write in {probe} ({_reason(exc)}); choose another {flag} "
                        "on a disk you can write to") from None


@contextlib.contextmanager
def _locked(out: Path):
    """An exclusive lock on ``out/.lock`` while the block runs; our pid inside, for the message
    a second training gets. The file stays (deleting it would let two writers lock two files)."""
    if fcntl is None:
        yield
        return
    path = out / LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"cannot create {path} ({_reason(exc)}); choose another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            raise UserError(f"{out} is being written by another training (pid {pid}); wait for it to "
                            "finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# --------------------------------------------------------------------------- what a folder holds


def describe(out: Path) -> str | None:
    """What run ``out`` holds, in words ("a dates run at step 40"); None if it holds none."""
    found = [m + ("/" if m == "checkpoints" else "") for m in MARKERS if (out / m).exists()]
    if not found:
        return None
    last = last_checkpoint(out)
    if last is None:
        return f"a run with no complete checkpoint ({', '.join(found)})"
    _, step, task = last
    return f"a {task} run at step {step}" if task else f"a run at step {step}"


def last_checkpoint(out: Path):
    """(path, step, task name) of the complete checkpoint ``latest.json`` leads to, else None."""
    try:
        path = ckpt.locate_checkpoint(out, prefer="latest")
        step = json.loads((path / "state.json").read_text())["trainer"]["step"]
        task = json.loads((path / "config.json").read_text()).get("task", {}).get("name")
    except (ckpt.CheckpointError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return path, step, task


def intact(out: Path) -> str:
    """Which complete checkpoint the run still has, in words."""
    last = last_checkpoint(out)
    if last is None:
        return "no checkpoint was saved"
    return f"the last complete checkpoint, {last[0]} (step {last[1]}), is intact"


def clear(out: Path) -> None:
    """Remove what a training wrote into ``out``; every other file stays."""
    doomed = [out / name for name in WRITTEN] + sorted(out.glob(".tmp-*"))
    try:
        for path in doomed:  # the pointers first: never one left pointing at a removed checkpoint
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    except OSError as exc:
        raise UserError(f"--overwrite could not remove {exc.filename or out} ({_reason(exc)}); "
                        "remove it yourself or choose another --out") from None


# --------------------------------------------------------------------------- while training


def write_error(out: Path, exc: OSError, what: Path) -> RunWriteError:
    """The one line for a write into ``out`` that failed with ``exc`` (``what``: the file meant)."""
    path = exc.filename or what
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some space on that disk"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = f"make {out} writable"
    elif exc.errno == errno.ENOENT:
        fix = f"leave {out} in place while it trains"
    else:
        fix = f"fix what stops writing into {out}"
    saved = last_checkpoint(out)
    if saved is None:
        todo = (f"no checkpoint was saved: {fix}, or choose another --out, and start again "
                f"(add --overwrite to reuse {out})")
    else:
        todo = (f"{intact(out)}: {fix} (or copy {out} to another disk) and continue with "
                f"{RESUME} {out}")
    return RunWriteError(f"cannot write {path} ({_reason(exc)}); {todo}")


def append_line(path: Path, line: str) -> None:
    """Append one line; if the write fails (or Ctrl-C cuts it), cut the file back, so that no
    half line stays."""
    with open(path, "a", encoding="utf-8") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            f.write(line + "\n")
            f.flush()
        except BaseException:
            with contextlib.suppress(OSError):
                os.truncate(path, size)
            raise


class TensorBoardEvents:
    """Scalars for TensorBoard, written in this thread (tensorboardX's SummaryWriter writes in a
    thread of its own, where a full disk would be a traceback we cannot turn into one line)."""

    def __init__(self, folder: Path):
        from tensorboardX.event_file_writer import EventsWriter

        folder.mkdir(parents=True, exist_ok=True)
        self._writer = EventsWriter(str(folder / "events"))

    def add(self, record: dict) -> None:
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar

        for k, v in record.items():
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool):
                self._writer.write_event(Event(wall_time=time.time(), step=record["step"], summary=scalar(k, v)))
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
