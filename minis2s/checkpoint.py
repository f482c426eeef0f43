"""Checkpoints that survive a crash at any instant and can never run code.

A checkpoint is a directory, ``<run_dir>/checkpoints/<name>/``::

    config.json     model and training configuration
    vocab.json      the vocabulary the model was trained with
    params.npz      parameters, one plain array per name (host NumPy, dtypes kept)
    optimizer.npz   optimizer state (optional)
    state.json      trainer state: step, epoch, RNG states, schedule, best metric, ...
    manifest.json   written last: format, version, size and sha256 of every file above

and the run directory points at two of them with ``latest.json`` and ``best.json``.

Nothing is lost on a crash. A save writes every file into a fresh temporary directory inside
the run directory, fsyncs it, and renames it into place in one ``os.replace``; only then is
``latest.json`` swapped (temporary file, fsync, ``os.replace``). A kill at any moment leaves
either the old pointer and old checkpoint, or the new ones -- never a half-written checkpoint
that a loader would take for complete. Leftover temporary directories are ignored by loading
and removed by the next save.

Nothing runs on load: arrays are read with ``allow_pickle=False`` (object arrays are
refused), everything else is JSON, and every file is checked against the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from . import backend as B
from .errors import CheckpointError

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint", "locate_checkpoint", "mark_best", "prune",
           "FORMAT", "VERSION"]

FORMAT = "minis2s-checkpoint"
VERSION = 1
REQUIRED_FILES = ("config.json", "vocab.json", "params.npz", "state.json")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# Temporary names carry the writer's pid: ".tmp-<what>-<pid>-<random>". ".replaced-<name>-..."
# is an old checkpoint moved aside while a new one of the same name moves in; ".pruned-..."
# one on its way out.
_TMP, _REPLACED, _PRUNED = ".tmp-", ".replaced-", ".pruned-"
_CHUNK = 1 << 20


@dataclass
class Checkpoint:
    """A loaded checkpoint: ``params`` and ``optimizer`` hold host NumPy arrays."""

    path: Path
    config: dict
    vocab: dict
    params: dict
    optimizer: dict | None
    state: dict
    state_arrays: dict | None = None


# =========================================================================== saving


def save_checkpoint(run_dir, name: str, *, config: dict, vocab: dict, params: dict,
                    optimizer: dict | None, state: dict, state_arrays: dict | None = None) -> Path:
    """Write ``<run_dir>/checkpoints/<name>`` atomically, then point ``latest.json`` at it.

    ``params``/``optimizer``: name -> array (device or host; saved as host arrays, dtypes
    kept). ``config``, ``vocab``, ``state``: anything JSON can hold. ``state_arrays``: training
    state that is arrays, not JSON (a language model's carried recurrent state), or None. Re-saving an existing
    name replaces it. Returns the checkpoint directory.
    """
    run_dir = Path(run_dir)
    _check_name(name)
    ckpts = run_dir / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(run_dir)

    tmp = run_dir / _temp_name(name)
    os.mkdir(tmp)
    target, aside = ckpts / name, None
    try:
        files = {
            "config.json": _write_json(tmp / "config.json", config),
            "vocab.json": _write_json(tmp / "vocab.json", vocab),
            "params.npz": _write_npz(tmp / "params.npz", params),
        }
        if optimizer is not None:
            files["optimizer.npz"] = _write_npz(tmp / "optimizer.npz", optimizer)
        files["state.json"] = _write_json(tmp / "state.json", state)
        if state_arrays:
            files["state_arrays.npz"] = _write_npz(tmp / "state_arrays.npz", state_arrays)
        # The manifest goes last: a directory holding one is complete by construction.
        _write_json(tmp / "manifest.json", {
            "format": FORMAT, "version": VERSION, "name": name, "created": time.time(),
            "minis2s": __version__, "files": files,
        })
        _fsync_dir(tmp)
        if target.exists():
            # A non-empty directory cannot be renamed over; move the old one aside first.
            # A crash between the two renames is repaired by the next save, and a loader
            # finds the aside copy meanwhile.
            aside = ckpts / (_REPLACED + _temp_name(name)[len(_TMP):])
            os.replace(target, aside)
        os.replace(tmp, target)
        _fsync_dir(ckpts)
        _fsync_dir(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if aside is not None and not target.exists():
            os.replace(aside, target)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    _write_pointer(run_dir, "latest.json", name)
    return target


def mark_best(run_dir, name: str) -> None:
    """Point ``<run_dir>/best.json`` at checkpoint ``name`` (atomically)."""
    run_dir = Path(run_dir)
    _check_name(name)
    if not (run_dir / "checkpoints" / name / "manifest.json").is_file():
        raise CheckpointError(
            f"cannot mark {name!r} best: {run_dir / 'checkpoints' / name} is not a complete "
            "checkpoint; save it first"
        )
    _write_pointer(run_dir, "best.json", name)


def prune(run_dir, keep: int = 3) -> list[str]:
    """Delete all but the ``keep`` newest checkpoints; the latest and best are always kept.

    Returns the names removed, oldest first. Entries of ``checkpoints/`` that are not complete
    checkpoints are left alone.
    """
    if not isinstance(keep, int) or keep < 0:
        raise ValueError(f"keep must be an integer >= 0, got {keep!r}")
    run_dir = Path(run_dir)
    ckpts = run_dir / "checkpoints"
    names = _complete_checkpoints(ckpts)
    protected = {_pointer_or_none(run_dir / f) for f in ("latest.json", "best.json")}
    doomed = [n for n in names[: max(0, len(names) - keep)] if n not in protected]
    for n in doomed:
        # Rename first so that a crash mid-delete never leaves a half-deleted checkpoint.
        gone = ckpts / (_PRUNED + _temp_name(n)[len(_TMP):])
        os.replace(ckpts / n, gone)
        shutil.rmtree(gone, ignore_errors=True)
    if doomed:
        _fsync_dir(ckpts)
    return doomed


# =========================================================================== loading


def load_checkpoint(path, prefer: str = "latest") -> Checkpoint:
    """Load a checkpoint directory, or the one a run directory's ``latest.json`` /
    ``best.json`` points to (``prefer`` picks which; the other is the fallback).

    Every file is checked against the manifest (size and sha256) before it is read.
    """
    return _read_checkpoint(locate_checkpoint(path, prefer))


def read_config(path, prefer: str = "latest") -> tuple[Path, dict]:
    """(the checkpoint directory, its config.json) without reading the parameters: enough to
    tell what kind of model a checkpoint holds."""
    where = locate_checkpoint(path, prefer)
    return where, _read_json(where / "config.json")


def locate_checkpoint(path, prefer: str = "latest") -> Path:
    """The checkpoint directory :func:`load_checkpoint` would read, found without reading it."""
    if prefer not in ("latest", "best"):
        raise ValueError(f"prefer must be 'latest' or 'best', got {prefer!r}")
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"{path} does not exist; pass a run directory (holding latest.json) or a checkpoint "
            "directory (holding manifest.json)"
        )
    if not path.is_dir():
        raise CheckpointError(
            f"{path} is a file; pass the run directory or the checkpoint directory that holds it"
        )
    if (path / "manifest.json").exists():
        return path
    if any((path / f).exists() for f in ("latest.json", "best.json", "checkpoints")):
        return _resolve_run_dir(path, prefer)
    raise CheckpointError(
        f"{path} has no manifest.json: it is a partially written checkpoint (its save was "
        "interrupted) or not a checkpoint; load the run directory or another checkpoint"
    )


def _resolve_run_dir(run_dir: Path, prefer: str) -> Path:
    ckpts = run_dir / "checkpoints"
    pointers = ("best.json", "latest.json") if prefer == "best" else ("latest.json", "best.json")
    for pointer in pointers:
        if not (run_dir / pointer).exists():
            continue
        name = _read_pointer(run_dir / pointer)
        if (ckpts / name / "manifest.json").exists():
            return ckpts / name
        # Crash between moving an old checkpoint of this name aside and the new one in.
        for aside in sorted(ckpts.iterdir()):
            if _aside_of(aside.name) == name and (aside / "manifest.json").exists():
                return aside
        raise CheckpointError(
            f"{run_dir / pointer} points to checkpoints/{name}, which is missing or incomplete; "
            f"load one of the checkpoint directories in {ckpts} directly"
        )
    names = _complete_checkpoints(ckpts)
    if names:  # a crash after the first checkpoint moved in, before latest.json was written
        return ckpts / names[-1]
    raise CheckpointError(
        f"{run_dir} holds no complete checkpoint (no latest.json, nothing usable in checkpoints/); "
        "train first or pass a checkpoint directory"
    )


def _read_checkpoint(d: Path) -> Checkpoint:
    manifest = _read_json(d / "manifest.json")
    fmt = manifest.get("format") if isinstance(manifest, dict) else None
    if fmt != FORMAT:
        raise CheckpointError(
            f"{d} is not a minis2s checkpoint: its manifest.json has format {fmt!r}, not "
            f"{FORMAT!r}; point to a directory written by minis2s"
        )
    version = manifest.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"{d} is a minis2s checkpoint of version {version!r}, newer than this minis2s reads "
            f"({VERSION}); upgrade minis2s"
        )
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(f in files for f in REQUIRED_FILES):
        raise CheckpointError(
            f"{d}/manifest.json does not list {', '.join(REQUIRED_FILES)}: the checkpoint is "
            "corrupted; load another checkpoint"
        )
    for fname, info in files.items():
        _verify_file(d, fname, info)
    return Checkpoint(
        path=d,
        config=_read_json(d / "config.json"),
        vocab=_read_json(d / "vocab.json"),
        params=_read_npz(d / "params.npz"),
        optimizer=_read_npz(d / "optimizer.npz") if "optimizer.npz" in files else None,
        state=_read_json(d / "state.json"),
        state_arrays=_read_npz(d / "state_arrays.npz") if "state_arrays.npz" in files else None,
    )


def _verify_file(d: Path, fname, info) -> None:
    if not (isinstance(fname, str) and _NAME.match(fname) and isinstance(info, dict)):
        raise CheckpointError(
            f"{d}/manifest.json has a malformed entry {fname!r}: the checkpoint is corrupted; "
            "load another checkpoint"
        )
    f = d / fname
    if not f.is_file():
        raise CheckpointError(
            f"{f} is missing though the manifest lists it: the checkpoint is damaged; "
            "load another checkpoint"
        )
    size = f.stat().st_size
    if size != info.get("size"):
        raise CheckpointError(
            f"{f} has {size} bytes, its manifest says {info.get('size')}: the checkpoint is "
            "corrupted (truncated or overwritten); load another checkpoint"
        )
    if _sha256_file(f) != info.get("sha256"):
        raise CheckpointError(
            f"{f} fails its sha256 check: the checkpoint is corrupted; load another checkpoint"
        )


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is unreadable or not valid JSON ({type(exc).__name__}); the checkpoint is "
            "corrupted, load another checkpoint"
        ) from None


def _read_npz(path: Path) -> dict:
    np = B.host
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not an .npz archive; load another checkpoint")
    arrays, key = {}, None
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                a = z[key]
                if not isinstance(a, np.ndarray):
                    raise CheckpointError(
                        f"{path} member {key!r} is not a .npy array; the file was not written by "
                        "minis2s, load another checkpoint"
                    )
                arrays[key] = a
    except CheckpointError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc) or "object" in str(exc).lower():
            raise CheckpointError(
                f"{path} holds an object array{f' ({key!r})' if key else ''}, which only pickle "
                "can load and which could run code; refusing it: save plain numeric arrays"
            ) from None
        raise CheckpointError(f"{path} is not a readable .npz ({exc}); load another checkpoint") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CheckpointError(
            f"{path} is not a readable .npz ({type(exc).__name__}); load another checkpoint"
        ) from None
    return arrays


# =========================================================================== pointers


def _write_pointer(run_dir: Path, filename: str, name: str) -> None:
    data = (json.dumps({"format": FORMAT + "-pointer", "checkpoint": name}) + "\n").encode()
    tmp = run_dir / _temp_name(filename)
    try:
        _write_bytes(tmp, data)
        os.replace(tmp, run_dir / filename)
    finally:  # a failed write, or a second Ctrl-C between the two lines, leaves no temporary file
        tmp.unlink(missing_ok=True)
    _fsync_dir(run_dir)


def _read_pointer(path: Path) -> str:
    data = _read_json(path)
    name = data.get("checkpoint") if isinstance(data, dict) else None
    if not (isinstance(name, str) and _NAME.match(name)):
        raise CheckpointError(
            f"{path} does not name a checkpoint; delete it and load a checkpoint directory directly"
        )
    return name


def _pointer_or_none(path: Path) -> str | None:
    try:
        return _read_pointer(path) if path.exists() else None
    except CheckpointError:
        return None


# =========================================================================== files


def _check_name(name) -> None:
    if not (isinstance(name, str) and _NAME.match(name)):
        raise ValueError(
            f"checkpoint name must be letters, digits, '.', '_' or '-' (not starting with '.' "
            f"or '-'), at most 128 characters; got {name!r}"
        )


def _temp_name(what: str) -> str:
    return f"{_TMP}{what}-{os.getpid()}-{secrets.token_hex(4)}"


def _writer_alive(entry: str) -> bool:
    """Whether the process that made a temporary entry might still be writing it."""
    try:
        pid = int(entry.rsplit("-", 2)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid() or os.name != "posix":
        return False  # our own leftovers come from saves that already failed
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _clean_leftovers(run_dir: Path) -> None:
    """Remove what crashed saves left behind; restore a checkpoint moved aside and not replaced."""
    for entry in run_dir.iterdir():
        if not entry.name.startswith(_TMP) or _writer_alive(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    ckpts = run_dir / "checkpoints"
    for entry in ckpts.iterdir():
        if not entry.name.startswith((_REPLACED, _PRUNED)) or _writer_alive(entry.name):
            continue
        name = _aside_of(entry.name)
        if name and not (ckpts / name).exists() and (entry / "manifest.json").exists():
            os.replace(entry, ckpts / name)
        else:
            shutil.rmtree(entry, ignore_errors=True)


def _aside_of(entry: str) -> str | None:
    """The checkpoint name a ``.replaced-<name>-<pid>-<random>`` entry holds, else None."""
    if not entry.startswith(_REPLACED):
        return None
    parts = entry[len(_REPLACED):].rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


def _complete_checkpoints(ckpts: Path) -> list[str]:
    """Names of the complete checkpoints in ``ckpts``, oldest first (by manifest time)."""
    if not ckpts.is_dir():
        return []
    found = []
    for d in ckpts.iterdir():
        if not _NAME.match(d.name) or not (d / "manifest.json").is_file():
            continue
        try:
            created = float(json.loads((d / "manifest.json").read_text(encoding="utf-8"))["created"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append((created, d.name))
    return [name for _, name in sorted(found)]


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_json(path: Path, obj) -> dict:
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{path.name}: cannot be saved as JSON: {exc}") from exc
    data = (text + "\n").encode("utf-8")
    _write_bytes(path, data)
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _write_npz(path: Path, arrays: dict) -> dict:
    """An .npz written member by member, so a device array is copied to the host one at a time.

    Same layout as ``numpy.savez`` (any key works, even one named ``file``); object arrays
    are refused, since only pickle could read them back.
    """
    np = B.host
    with open(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            for key, a in arrays.items():
                if not isinstance(key, str) or not key:
                    raise TypeError(f"{path.name}: array names must be non-empty strings, got {key!r}")
                host = B.to_host(a)
                if host.dtype.hasobject:
                    raise TypeError(f"{path.name}: {key!r} is an object array; save numeric arrays only")
                with zf.open(key + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, host, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return {"size": path.stat().st_size, "sha256": _sha256_file(path)}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    """Make a rename or new entry in ``path`` durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
