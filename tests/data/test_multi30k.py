"""Parallel text errors and the Multi30k loader/downloader -- no test touches the network."""

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from minis2s.data import multi30k
from minis2s.data.parallel import read_parallel, read_tsv
from minis2s.errors import DataError

MIRROR = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "multi30k"


def test_line_count_mismatch_names_both_files_and_counts(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_text("eins\nzwei\ndrei\n")
    b.write_text("one\ntwo\n")
    with pytest.raises(DataError) as exc:
        read_parallel(a, b)
    msg = str(exc.value)
    assert str(a) in msg and str(b) in msg and "3 lines" in msg and "has 2" in msg


def test_non_utf8_bytes_are_reported_with_file_and_line(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_bytes("eins\nzwei\ndr\xe9i\n".encode("latin-1"))
    b.write_text("one\ntwo\nthree\n")
    with pytest.raises(DataError, match=r"a\.de, line 3: not UTF-8"):
        read_parallel(a, b)


def test_empty_pairs_are_skipped_and_counted(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_text("eins\n\ndrei\nvier\n")
    b.write_text("one\ntwo\nthree\n  \n")
    data = read_parallel(a, b)
    assert data.src == [["eins"], ["drei"]] and data.tgt == [["one"], ["three"]]
    assert data.n_skipped_empty == 2


def test_tsv_needs_exactly_one_tab(tmp_path):
    p = tmp_path / "pairs.tsv"
    p.write_text("ein haus\ta house\nkaputt\n")
    with pytest.raises(DataError, match="line 2"):
        read_tsv(p)
    p.write_text("ein haus\ta house\n")
    assert read_tsv(p).tgt == [["a", "house"]]


def test_missing_data_dir_gives_the_download_command_and_the_option(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIS2S_DATA", raising=False)
    with pytest.raises(DataError) as exc:
        multi30k.find_data_dir(tmp_path / "nowhere")
    msg = str(exc.value)
    assert "python -m minis2s data multi30k --data-dir" in msg and "--data-dir" in msg and "\n" not in msg


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
    with pytest.raises(DataError, match="--data-dir"):
        multi30k.download(tmp_path, base_url="http://127.0.0.1:9/", langs=("de",), progress=False)


@pytest.mark.skipif(not MIRROR.is_dir(), reason="Multi30k mirror not present")
def test_checksum_table_matches_the_mirror_and_splits_load():
    for name, digest in multi30k.SHA256.items():
        assert multi30k.sha256(MIRROR / name) == digest, name
    sizes = {s: len(multi30k.load_multi30k(MIRROR, "de", "en", s)) for s in multi30k.SPLITS}
    assert sizes == {"train": 29000, "val": 1014, "test2016": 1000}


def test_fixtures_read_as_parallel_text_and_as_tsv():
    fixtures = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"
    a = read_parallel(fixtures / "tiny.de", fixtures / "tiny.en")
    b = read_tsv(fixtures / "tiny.tsv")
    assert len(a) == 64 and a.src == b.src and a.tgt == b.tgt
