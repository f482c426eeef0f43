"""Writing an output file whole or not at all, with one line to say why not.

Plots, exports and hypothesis files are written to a temporary file beside the target and
renamed onto it with ``os.replace``, which is atomic on one file system: a full disk or a
Ctrl-C leaves the old file or none, never half a PNG. A failure becomes a
:class:`~minis2s.errors.UserError` naming the path and what to do, instead of a traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import UserError


def check_folder(path, flag: str) -> Path:
    """Refuse early (before any work) an output path whose folder does not exist."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(f"cannot write {path}: the folder {folder} {what}; create it (mkdir -p {folder}) "
                        f"or give {flag} a path in an existing folder")
    if path.is_dir():
        raise UserError(f"cannot write {path}: it is a folder; give {flag} a file name, e.g. {path / 'out'}")
    return path


def write_file(path, write, flag: str) -> Path:
    """Call ``write(f)`` on a binary file open for writing, then move it onto ``path``.

    ``flag`` is the option that named the path (``--out``), for the message on failure.
    """
    path = check_folder(path, flag)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(why_not_written(exc, path, flag)) from None
    finally:
        if tmp.exists():  # the write or the rename failed: leave nothing behind
            try:
                tmp.unlink()
            except OSError:
                pass
    return path


def why_not_written(exc: OSError, path, flag: str) -> str:
    """One line: what went wrong writing ``path``, and what to do about it."""
    folder = Path(path).parent
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return (f"cannot write {path}: the folder {folder} does not exist; create it (mkdir -p {folder}) "
                f"or give {flag} a path in an existing folder")
    if exc.errno == errno.EROFS:
        return f"cannot write {path}: {folder} is on a read-only file system; give {flag} a path in a writable folder"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: permission denied; give {flag} a path in a folder you may write to"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"cannot write {path}: no space left on the device; free some space or give {flag} a path "
                "on another disk")
    return f"cannot write {path}: {exc.strerror or exc}; give {flag} another path"
