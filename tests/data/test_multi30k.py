"""Multi30k: finding, downloading (checksums) and loading -- no test touches the network."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from minis2s.data import multi30k
from minis2s.errors import DataError

MIRROR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "multi30k"


def test_missing_data_dir_gives_the_download_command_and_the_option(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIS2S_DATA", raising=False)
    with pytest.raises(DataError) as exc:
        multi30k.find_data_dir(tmp_path / "nowhere")
    msg = str(exc.value)
    assert "python -m minis2s data multi30k --data-dir" in msg and "--data-dir" in msg and "\n" not in msg


def _fake_copy(root, langs=("de", "en")):
    root.mkdir(parents=True, exist_ok=True)
    for s in multi30k.SPLITS:
        for l in langs:
            (root / multi30k.file_name(s, l)).write_text(f"{s} {l}\n\n{l} zwei\n")
    return root


def test_explicit_data_dir_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MINIS2S_DATA", str(_fake_copy(tmp_path / "env")))
    explicit = _fake_copy(tmp_path / "explicit")
    assert multi30k.find_data_dir(explicit) == explicit
    assert multi30k.find_data_dir() == tmp_path / "env"


def test_default_directory_is_used_without_arg_or_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIS2S_DATA", raising=False)
    monkeypatch.setattr(multi30k, "DEFAULT_DIR", tmp_path / "cache")
    with pytest.raises(DataError, match=str(tmp_path / "cache")):
        multi30k.find_data_dir()
    _fake_copy(tmp_path / "cache")
    assert multi30k.find_data_dir() == tmp_path / "cache"


def test_a_copy_without_the_requested_language_is_not_found(tmp_path):
    root = _fake_copy(tmp_path / "d", langs=("de", "en"))
    assert multi30k.find_data_dir(root, langs=("de", "en")) == root
    with pytest.raises(DataError, match=r"\.fr\b"):
        multi30k.find_data_dir(root, langs=("de", "fr"))


def test_unknown_split_or_language_says_what_exists():
    with pytest.raises(DataError, match="train, val, test2016"):
        multi30k.file_name("test", "de")
    with pytest.raises(DataError, match="de, en, fr"):
        multi30k.file_name("train", "cs")


def test_load_skips_and_counts_empty_pairs(tmp_path):
    root = _fake_copy(tmp_path / "d")
    data = multi30k.load_multi30k(root, "en", "de", "val")
    assert data.src == [["val", "en"], ["en", "zwei"]] and data.tgt == [["val", "de"], ["de", "zwei"]]
    assert data.n_skipped_empty == 1


def test_data_dir_from_environment_and_subfolder(tmp_path, monkeypatch):
    sub = tmp_path / "multi30k"
    sub.mkdir()
    for s in multi30k.SPLITS:
        for l in ("de", "en"):
            (sub / multi30k.file_name(s, l)).write_text("x\n")
    monkeypatch.setenv("MINIS2S_DATA", str(tmp_path))
    assert multi30k.find_data_dir() == sub


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "upstream"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _publish(root, monkeypatch, corrupt=None):
    sums = {}
    for s in multi30k.SPLITS:
        for l in ("de", "en"):
            name = multi30k.file_name(s, l)
            body = f"{s} {l}\n".encode()
            (root / name).write_bytes(body if name != corrupt else b"tampered\n")
            sums[name] = hashlib.sha256(body).hexdigest()
    monkeypatch.setattr(multi30k, "SHA256", sums)


def test_download_verifies_checksums_and_skips_good_files(server, tmp_path, monkeypatch):
    root, url = server
    _publish(root, monkeypatch)
    dest = tmp_path / "data"
    paths = multi30k.download(dest, base_url=url, langs=("de", "en"), progress=False)
    assert len(paths) == 6 and multi30k.find_data_dir(dest) == dest
    (root / multi30k.file_name("val", "de")).unlink()  # a second run must not need the server
    assert len(multi30k.download(dest, base_url=url, langs=("de", "en"), progress=False)) == 6


def test_download_from_file_urls(tmp_path, monkeypatch):
    root = tmp_path / "upstream"
    root.mkdir()
    _publish(root, monkeypatch)
    dest = tmp_path / "data"
    paths = multi30k.download(dest, base_url=root.as_uri() + "/", langs=("de", "en"), progress=False)
    assert sorted(p.name for p in paths) == sorted(multi30k.SHA256)
    assert all(multi30k.sha256(p) == multi30k.SHA256[p.name] for p in paths)


def test_download_replaces_a_present_but_wrong_file(server, tmp_path, monkeypatch):
    root, url = server
    _publish(root, monkeypatch)
    dest = tmp_path / "data"
    dest.mkdir()
    stale = dest / multi30k.file_name("train", "de")
    stale.write_text("half a download")
    multi30k.download(dest, base_url=url, langs=("de", "en"), progress=False)
    assert stale.read_text() == "train de\n"


def test_download_refuses_a_corrupted_file_and_leaves_nothing_behind(server, tmp_path, monkeypatch):
    root, url = server
    bad = multi30k.file_name("val", "en")
    _publish(root, monkeypatch, corrupt=bad)
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="checksum"):
        multi30k.download(dest, base_url=url, langs=("de", "en"), progress=False)
    assert not (dest / bad).exists()
    assert not list(dest.glob(".*.part"))


def test_unreachable_server_is_one_line_pointing_at_data_dir(tmp_path):
    with pytest.raises(DataError) as exc:
        multi30k.download(tmp_path, base_url="http://127.0.0.1:9/", langs=("de",), progress=False)
    msg = str(exc.value)
    assert "could not reach http://127.0.0.1:9/" in msg and "--data-dir" in msg and "\n" not in msg
    assert not list(tmp_path.iterdir())


def test_missing_file_upstream_is_reported(server, tmp_path, monkeypatch):
    root, url = server
    _publish(root, monkeypatch)
    (root / multi30k.file_name("test2016", "en")).unlink()
    with pytest.raises(DataError, match=r"test_2016_flickr\.lc\.norm\.tok\.en: the server answered HTTP 404.*--data-dir"):
        multi30k.download(tmp_path / "data", base_url=url, langs=("de", "en"), progress=False)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="Multi30k mirror not present")
def test_checksum_table_matches_the_mirror():
    assert len(multi30k.SHA256) == 9
    for name, digest in multi30k.SHA256.items():
        assert multi30k.sha256(MIRROR / name) == digest, name


@pytest.mark.skipif(not MIRROR.is_dir(), reason="Multi30k mirror not present")
def test_the_mirror_loads_with_the_published_split_sizes():
    assert multi30k.find_data_dir(MIRROR, langs=multi30k.LANGS) == MIRROR
    for split, n in {"train": 29000, "val": 1014, "test2016": 1000}.items():
        data = multi30k.load_multi30k(MIRROR, "de", "en", split)
        assert (len(data), data.n_skipped_empty) == (n, 0), split
        assert len(multi30k.load_multi30k(MIRROR, "fr", "en", split)) == n, split
