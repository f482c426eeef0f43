"""Parallel text: aligned files, with one-line errors that name the file and line."""

from pathlib import Path

import pytest

from minis2s.data.parallel import ParallelData, read_parallel
from minis2s.errors import DataError, UserError

FIXTURES = Path(__file__).resolve().parents[2] / "datasets" / "fixtures"


def test_line_count_mismatch_names_both_files_and_counts(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_text("eins\nzwei\ndrei\n")
    b.write_text("one\ntwo\n")
    with pytest.raises(DataError) as exc:
        read_parallel(a, b)
    msg = str(exc.value)
    assert str(a) in msg and str(b) in msg and "3 lines" in msg and "has 2" in msg and "\n" not in msg


def test_non_utf8_bytes_are_reported_with_file_and_line(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_bytes("eins\nzwei\ndr\xe9i\n".encode("latin-1"))
    b.write_text("one\ntwo\nthree\n")
    with pytest.raises(DataError, match=r"a\.de, line 3: not UTF-8.*UTF-8"):
        read_parallel(a, b)


def test_non_utf8_in_the_target_names_the_target(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_text("eins\nzwei\n")
    b.write_bytes(b"one\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"b\.en, line 2"):
        read_parallel(a, b)


def test_missing_file_is_named(tmp_path):
    a = tmp_path / "a.de"
    a.write_text("eins\n")
    with pytest.raises(DataError, match="b.en does not exist"):
        read_parallel(a, tmp_path / "b.en")


def test_data_error_is_a_user_error():
    assert issubclass(DataError, UserError)


def test_empty_pairs_are_skipped_and_counted(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_text("eins\n\ndrei\nvier\n")
    b.write_text("one\ntwo\nthree\n  \n")
    data = read_parallel(a, b)
    assert isinstance(data, ParallelData)
    assert data.src == [["eins"], ["drei"]] and data.tgt == [["one"], ["three"]]
    assert data.n_skipped_empty == 2 and len(data) == 2
    assert data.paths == (str(a), str(b))


def test_custom_tokenizer_and_crlf_line_endings(tmp_path):
    a, b = tmp_path / "a.de", tmp_path / "b.en"
    a.write_bytes(b"ab\r\ncd\r\n")
    b.write_bytes(b"xy\r\nz\r\n")
    data = read_parallel(a, b, tokenize=list)
    assert data.src == [["a", "b"], ["c", "d"]] and data.tgt == [["x", "y"], ["z"]]


def test_fixtures_read_as_parallel_text():
    a = read_parallel(FIXTURES / "tiny.de", FIXTURES / "tiny.en")
    assert len(a) == 64 and a.n_skipped_empty == 0
