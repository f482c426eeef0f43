"""Parallel text: two aligned files, line i of one the translation of line i of the other.

Every problem is reported as a :class:`~minis2s.errors.DataError` that names the file (and the
line, where there is one) and says what to do; empty pairs are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DataError


@dataclass
class ParallelData:
    src: list = field(default_factory=list)  # token lists
    tgt: list = field(default_factory=list)
    n_skipped_empty: int = 0
    paths: tuple = ()

    def __len__(self) -> int:
        return len(self.src)


def read_lines(path) -> list[str]:
    """UTF-8 lines without their newline; a bad byte is reported with its 1-based line number."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist: check the path (or --data-dir)")
    lines = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                lines.append(raw.decode("utf-8").rstrip("\r\n"))
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path}, line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "re-encode the file as UTF-8") from None
    return lines


def read_parallel(src_path, tgt_path, tokenize: Callable[[str], list] = str.split) -> ParallelData:
    """Aligned source and target files -> token lists; empty pairs are skipped and counted."""
    src_lines, tgt_lines = read_lines(src_path), read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise DataError(
            f"{src_path} has {len(src_lines)} lines but {tgt_path} has {len(tgt_lines)}: "
            "parallel files must align line by line")
    data = ParallelData(paths=(str(src_path), str(tgt_path)))
    for s, t in zip(src_lines, tgt_lines):
        s_tok, t_tok = tokenize(s), tokenize(t)
        if not s_tok or not t_tok:
            data.n_skipped_empty += 1
            continue
        data.src.append(s_tok)
        data.tgt.append(t_tok)
    return data
