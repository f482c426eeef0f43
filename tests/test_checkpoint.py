"""Checkpoints: exact round trips, atomic saves that survive SIGKILL, and loads that refuse
anything partial, foreign, corrupted or pickled with one clear line."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minis2s
from minis2s import backend as B
from minis2s.checkpoint import FORMAT, load_checkpoint, mark_best, prune, save_checkpoint
from minis2s.errors import CheckpointError
from minis2s.optim import Adam

REPO = Path(minis2s.__file__).resolve().parents[1]


def save(run_dir, name, step=0, params=None, optimizer=None, **extra):
    params = {"w": np.arange(6.0).reshape(2, 3) + step} if params is None else params
    return save_checkpoint(run_dir, name, config={"model": {"H": 4}, **extra}, vocab={"tokens": ["<pad>", "é"]},
                           params=params, optimizer=optimizer, state={"step": step})


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftovers(run_dir):
    return sorted(p.name for p in Path(run_dir).iterdir() if p.name.startswith(".tmp-"))


def rewrite_manifest(ckpt_dir: Path) -> None:
    """Recompute the manifest, as a forger (not a crash) would, so only content checks remain."""
    manifest = json.loads((ckpt_dir / "manifest.json").read_text())
    for fname in manifest["files"]:
        data = (ckpt_dir / fname).read_bytes()
        manifest["files"][fname] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (ckpt_dir / "manifest.json").write_text(json.dumps(manifest))


def load_error(path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


# --------------------------------------------------------------------------- round trips


def test_round_trip_is_bit_exact_and_keeps_dtypes(tmp_path):
    rng = np.random.default_rng(0)
    params = {
        "enc.W": rng.standard_normal((4, 3)).astype(np.float32),
        "dec.b": np.array([1.0, np.nan, -np.inf, -0.0]),
        "ids": np.arange(5, dtype=np.int64),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3)),
        "file": np.ones(2),  # a name np.savez could not take as a keyword
    }
    opt = Adam({"w": rng.standard_normal((2, 2))}, lr=0.01)
    opt.step({"w": rng.standard_normal((2, 2))})
    gen = np.random.default_rng(7)
    state = {"step": 12, "epoch": 1, "rng": gen.bit_generator.state, "best": None, "history": [{"loss": 2.5}]}
    path = save_checkpoint(tmp_path, "step-00000012", config={"model": {"H": 4}},
                           vocab={"tokens": ["<pad>", "Straße", "日本"]}, params=params,
                           optimizer=opt.state_dict(), state=state)
    assert path == tmp_path / "checkpoints" / "step-00000012"
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json", "manifest.json", "optimizer.npz", "params.npz", "state.json", "vocab.json"]

    c = load_checkpoint(tmp_path)
    assert c.path == path
    assert set(c.params) == set(params)
    for k, a in params.items():
        assert type(c.params[k]) is np.ndarray
        assert c.params[k].dtype == a.dtype and c.params[k].shape == a.shape
        assert c.params[k].tobytes() == a.tobytes(), k
    assert set(c.optimizer) == {"step", "lr", "m/w", "v/w"}
    np.testing.assert_array_equal(c.optimizer["m/w"], opt.m["w"])
    assert c.config == {"model": {"H": 4}}
    assert c.vocab["tokens"][1:] == ["Straße", "日本"]
    assert c.state == state
    gen.bit_generator.state = c.state["rng"]  # RNG state survives JSON
    assert gen.integers(1 << 30) == np.random.default_rng(7).integers(1 << 30)


def test_device_arrays_are_saved_as_host_arrays(tmp_path, backend):
    w = B.to_device(np.arange(4.0), np.float32)
    save(tmp_path, "a", params={"w": w})
    c = load_checkpoint(tmp_path / "checkpoints" / "a")
    assert type(c.params["w"]) is np.ndarray and c.params["w"].dtype == np.float32
    assert c.optimizer is None


def test_latest_and_best_pointers(tmp_path):
    save(tmp_path, "a", step=1)
    save(tmp_path, "b", step=2)
    assert load_checkpoint(tmp_path).state["step"] == 2
    assert load_checkpoint(tmp_path, prefer="best").state["step"] == 2  # no best yet: latest
    mark_best(tmp_path, "a")
    assert load_checkpoint(tmp_path, prefer="best").state["step"] == 1
    assert load_checkpoint(tmp_path).state["step"] == 2
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == "b"
    with pytest.raises(CheckpointError, match="cannot mark 'zz' best"):
        mark_best(tmp_path, "zz")


def test_ctrl_c_while_a_pointer_is_written_leaves_no_temporary_file(tmp_path, monkeypatch):
    save(tmp_path, "a", step=1)
    save(tmp_path, "b", step=2)

    def interrupted(src, dst):
        raise KeyboardInterrupt  # the second Ctrl-C, between writing the file and renaming it

    monkeypatch.setattr("minis2s.checkpoint.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mark_best(tmp_path, "a")
    assert list(tmp_path.glob(".tmp-*")) == []
    assert load_checkpoint(tmp_path, prefer="best").state["step"] == 2  # no best.json yet: latest


def test_saving_an_existing_name_replaces_it(tmp_path):
    save(tmp_path, "a", step=1)
    save(tmp_path, "a", step=2)
    assert load_checkpoint(tmp_path).state["step"] == 2
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["a"]
    assert leftovers(tmp_path) == []


def test_prune_keeps_the_newest_and_never_latest_or_best(tmp_path):
    for i in range(1, 6):
        save(tmp_path, f"c{i}", step=i)
    mark_best(tmp_path, "c1")
    assert prune(tmp_path, keep=2) == ["c2", "c3"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["c1", "c4", "c5"]
    assert prune(tmp_path, keep=0) == ["c4"]  # c5 is latest, c1 best
    assert load_checkpoint(tmp_path, prefer="best").state["step"] == 1
    assert load_checkpoint(tmp_path).state["step"] == 5


# --------------------------------------------------------------------------- crashes


def test_leftovers_of_a_crashed_save_are_ignored_then_cleaned(tmp_path):
    save(tmp_path, "a", step=1)
    pid = dead_pid()
    partial = tmp_path / f".tmp-b-{pid}-0badc0de"
    partial.mkdir()
    (partial / "params.npz").write_bytes(b"PK\x03\x04 half a zip")
    (tmp_path / f".tmp-latest.json-{pid}-0badc0de").write_text('{"checkpoint": "b"}')
    alive = tmp_path / f".tmp-c-{os.getppid()}-0000beef"  # another live process's save
    alive.mkdir()

    assert load_checkpoint(tmp_path).state["step"] == 1
    save(tmp_path, "b", step=2)
    assert leftovers(tmp_path) == [alive.name]
    assert load_checkpoint(tmp_path).state["step"] == 2


def test_crash_between_moving_old_aside_and_new_in_is_recovered(tmp_path):
    save(tmp_path, "a", step=1)
    ckpts = tmp_path / "checkpoints"
    aside = ckpts / f".replaced-a-{dead_pid()}-12345678"
    os.replace(ckpts / "a", aside)  # the state a kill during a re-save of "a" leaves
    assert load_checkpoint(tmp_path).state["step"] == 1
    save(tmp_path, "b", step=2)
    assert sorted(p.name for p in ckpts.iterdir()) == ["a", "b"]
    assert load_checkpoint(ckpts / "a").state["step"] == 1


def test_failed_save_leaves_nothing_behind(tmp_path):
    save(tmp_path, "a", step=1)
    with pytest.raises(TypeError, match="config.json: cannot be saved as JSON"):
        save(tmp_path, "b", step=2, bad=object())
    with pytest.raises(TypeError, match="object array"):
        save(tmp_path, "b", params={"w": np.array([{}, 1], dtype=object)})
    with pytest.raises(ValueError, match="checkpoint name"):
        save(tmp_path, "../evil")
    assert leftovers(tmp_path) == []
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["a"]
    assert load_checkpoint(tmp_path).state["step"] == 1


CHILD = r"""
import sys, time
import numpy as np
from minis2s import backend as B, checkpoint as ck

run_dir, marker = sys.argv[1], sys.argv[2]
ck.save_checkpoint(run_dir, "first", config={"n": 1}, vocab={}, params={"w": np.arange(10.0)},
                   optimizer=None, state={"step": 1})
open(marker, "w").close()

to_host = B.to_host
def slow_to_host(a):  # widen the window, so the kill lands mid-save however fast the disk
    time.sleep(0.01)
    return to_host(a)
B.to_host = slow_to_host
big = {f"p{i}": np.full(1 << 17, float(i)) for i in range(64)}  # 64 MiB
ck.save_checkpoint(run_dir, "second", config={"n": 2}, vocab={}, params=big, optimizer=big,
                   state={"step": 2})
open(marker + ".done", "w").close()
"""


def partial_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_during_a_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    run_dir, marker = tmp_path / "run", tmp_path / "first-saved"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(run_dir), str(marker)], env=env,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while True:  # wait until the second save has written 8 MiB of its arrays
            if marker.exists() and any(partial_size(p / "params.npz") > 8 << 20
                                       for p in run_dir.glob(".tmp-second-*")):
                break
            assert proc.poll() is None, f"child exited early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "the child never started its second save"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not Path(str(marker) + ".done").exists(), "the save finished before the kill"
    assert leftovers(run_dir), "the killed save leaves its temporary directory"

    c = load_checkpoint(run_dir)
    assert c.path.name == "first" and c.state == {"step": 1} and c.config == {"n": 1}
    np.testing.assert_array_equal(c.params["w"], np.arange(10.0))

    save(run_dir, "third", step=3)
    assert leftovers(run_dir) == []
    assert load_checkpoint(run_dir).state["step"] == 3


# --------------------------------------------------------------------------- refusals


def test_missing_path(tmp_path):
    assert "does not exist" in load_error(tmp_path / "nope")


def test_a_file_is_not_a_checkpoint(tmp_path):
    path = save(tmp_path, "a")
    assert "is a file" in load_error(path / "params.npz")


def test_directory_without_manifest_is_partial_or_not_a_checkpoint(tmp_path):
    path = save(tmp_path, "a")
    (path / "manifest.json").unlink()
    message = load_error(path)
    assert "no manifest.json" in message and "partially written" in message
    assert "no manifest.json" in load_error(tmp_path / "checkpoints")


def test_foreign_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "someone-else", "files": {}}))
    message = load_error(tmp_path)
    assert "not a minis2s checkpoint" in message and "'someone-else'" in message
    (tmp_path / "manifest.json").write_text("[1, 2")
    assert "not valid JSON" in load_error(tmp_path)


def test_newer_version_asks_for_an_upgrade(tmp_path):
    path = save(tmp_path, "a")
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps({**manifest, "version": 99}))
    assert "upgrade minis2s" in load_error(path)


def test_checksum_mismatch_is_corruption(tmp_path):
    path = save(tmp_path, "a")
    data = bytearray((path / "params.npz").read_bytes())
    data[-30] ^= 0xFF
    (path / "params.npz").write_bytes(bytes(data))
    message = load_error(tmp_path)
    assert "params.npz fails its sha256 check" in message and "corrupted" in message


def test_truncated_file_is_corruption(tmp_path):
    path = save(tmp_path, "a")
    (path / "state.json").write_text("{")
    assert "state.json has 1 bytes, its manifest says" in load_error(path)
    (path / "state.json").unlink()
    assert "state.json is missing" in load_error(path)


def test_npz_with_pickled_object_array_is_refused(tmp_path):
    path = save(tmp_path, "a")
    np.savez(path / "params.npz", w=np.arange(3.0), tokens=np.array([{"x": 1}, None], dtype=object))
    rewrite_manifest(path)
    message = load_error(path)
    assert "object array ('tokens')" in message and "refusing" in message


def test_pointer_to_a_missing_checkpoint(tmp_path):
    save(tmp_path, "a")
    (tmp_path / "latest.json").write_text(json.dumps({"format": FORMAT + "-pointer", "checkpoint": "gone"}))
    assert "points to checkpoints/gone, which is missing" in load_error(tmp_path)
    (tmp_path / "latest.json").write_text(json.dumps({"checkpoint": "../../etc"}))
    assert "does not name a checkpoint" in load_error(tmp_path)


def test_run_directory_without_checkpoints(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    assert "holds no complete checkpoint" in load_error(tmp_path)
