"""Multi30k task 1: find it, download it (with checksums), load a split (lesson 10).

The tokenized, lower-cased files of the dataset's public repository (``data/task1/tok/``):
``{train,val,test_2016_flickr}.lc.norm.tok.{de,en,fr}`` -- 29,000 / 1,014 / 1,000 lines.
Where the data lives, in order: ``--data-dir``, ``$MINIS2S_DATA``, ``~/.cache/minis2s/multi30k``.
A directory may hold the files directly or in a ``multi30k/`` subfolder.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError
from .parallel import ParallelData, read_parallel

UPSTREAM = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/tok/"
SPLITS = {"train": "train", "val": "val", "test2016": "test_2016_flickr"}
LANGS = ("de", "en", "fr")
DEFAULT_DIR = Path.home() / ".cache" / "minis2s" / "multi30k"

SHA256 = {
    "train.lc.norm.tok.de": "cb5a23529b65ec2061f1dc446192a9c37382b63cc75f81a0be59d34894b3a505",
    "train.lc.norm.tok.en": "08925f8e0572bcd5a006702fc5fe20e2d77c6917d4eebd576fc20de6693c2119",
    "train.lc.norm.tok.fr": "8fa41bb718412bcb7c5dfa58603842810a01543eae86a51279f9886b901266e1",
    "val.lc.norm.tok.de": "97232bd273eceb7207f689527386a97e4be2616b18ada47576bdaf96c8ae1f00",
    "val.lc.norm.tok.en": "46573ce391ae227f1c72f873392436a20ef18e0a6d518098cfbd70b77c8572ec",
    "val.lc.norm.tok.fr": "b303e301aa21fe7822a846b2b3fb2d5a1121ec807cd5b1d006fb7b2b5507168a",
    "test_2016_flickr.lc.norm.tok.de": "c6a33d39d48f9f510de147651316cd9d918e09ad0219df734a2f16b6baccacc4",
    "test_2016_flickr.lc.norm.tok.en": "5b7f32627cf99eced828311b955dae9800bb52bc8b91cf8b6526829e605b29d2",
    "test_2016_flickr.lc.norm.tok.fr": "1463bd5960f9bfe098ec3cd752d3df0c49c84dc646fb518964a29232658cd836",
}


def file_name(split: str, lang: str) -> str:
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    if lang not in LANGS:
        raise DataError(f"unknown language {lang!r}: Multi30k task 1 has {', '.join(LANGS)}")
    return f"{SPLITS[split]}.lc.norm.tok.{lang}"


def find_data_dir(data_dir=None, langs=("de", "en")) -> Path:
    """The directory holding the Multi30k files for ``langs``, or one clear DataError."""
    given = data_dir or os.environ.get("MINIS2S_DATA")
    root = Path(given).expanduser() if given else DEFAULT_DIR
    needed = [file_name(s, l) for s in SPLITS for l in langs]
    for candidate in (root, root / "multi30k"):
        if all((candidate / n).is_file() for n in needed):
            return candidate
    missing = next(n for n in needed if not (root / n).is_file())
    raise DataError(
        f"Multi30k not found in {root} (no {missing}): run 'python -m minis2s data multi30k "
        f"--data-dir {root}' to download it, or pass --data-dir / set MINIS2S_DATA to an existing copy")


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(data_dir, base_url: str = UPSTREAM, langs=LANGS, progress: bool = True) -> list[Path]:
    """Fetch every split for ``langs`` into ``data_dir``; each file is checked against SHA256
    before it is moved into place, and files already present and correct are kept."""
    from tqdm import tqdm

    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    names = [file_name(s, l) for s in SPLITS for l in langs]
    paths = []
    for name in tqdm(names, desc="multi30k", unit="file", disable=not progress or None):
        target = data_dir / name
        if target.is_file() and sha256(target) == SHA256[name]:
            paths.append(target)
            continue
        url = base_url.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    with urllib.request.urlopen(url, timeout=60) as response:
                        for chunk in iter(lambda: response.read(1 << 16), b""):
                            out.write(chunk)
                except urllib.error.HTTPError as exc:
                    raise DataError(f"could not download {url}: the server answered HTTP {exc.code} "
                                    f"{exc.reason}; pass --data-dir / set MINIS2S_DATA to an existing "
                                    "copy") from None
                except (urllib.error.URLError, OSError) as exc:
                    reason = " ".join(str(getattr(exc, "reason", exc)).split())  # one line, always
                    raise DataError(f"could not reach {url} ({reason}): check the network, or pass "
                                    "--data-dir / set MINIS2S_DATA to an existing copy") from None
            got = sha256(tmp)
            if got != SHA256[name]:
                raise DataError(f"{url} does not match its checksum (sha256 {got[:12]}..., expected "
                                f"{SHA256[name][:12]}...): the file was not kept; try again later")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        paths.append(target)
    return paths


def load_multi30k(data_dir, src: str = "de", tgt: str = "en", split: str = "train") -> ParallelData:
    """One split as token lists (the files are already tokenized: whitespace split)."""
    root = Path(data_dir)
    return read_parallel(root / file_name(split, src), root / file_name(split, tgt))
