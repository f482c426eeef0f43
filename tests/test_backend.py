"""The backend: selection, the strict stand-in's refusals, host/device moves, seeded init."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minis2s import backend as B
from minis2s.models.seq2seq import Seq2Seq, Seq2SeqConfig

PACKAGE = Path(__file__).resolve().parents[1] / "minis2s"


def test_only_backend_module_imports_numpy_or_cupy():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "backend.py" or "torch_export" in path.name:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in ("numpy", "cupy", "cupyx") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


@pytest.mark.parametrize("sync", [float, int, bool, lambda a: a.item(), lambda a: a.tolist()])
def test_strict_refuses_implicit_device_to_host_transfer(sync):
    with B.use("strict"):
        a = B.to_device(np.ones(3)).sum()
        with pytest.raises(TypeError, match="host"):
            sync(a)


def test_strict_refuses_host_arrays_mixed_into_device_math():
    with B.use("strict") as xp:
        a = B.to_device(np.ones(3))
        with pytest.raises(TypeError, match="to_device"):
            a + np.ones(3)
        with pytest.raises(TypeError, match="to_device"):
            xp.concatenate([a, np.ones(3)])


def test_strict_refuses_ufunc_at_and_xp_random():
    with B.use("strict") as xp:
        a = B.to_device(np.zeros(3))
        with pytest.raises(TypeError, match="scatter_add"):
            xp.add.at(a, B.to_device(np.array([0, 0])), 1.0)
        with pytest.raises(AttributeError, match="rng"):
            xp.random.rand(3)


def test_strict_reductions_stay_on_the_device_as_zero_d_arrays():
    with B.use("strict"):
        total = B.to_device(np.arange(4.0)).sum()
        assert isinstance(total, B.StrictArray) and total.shape == ()
        assert B.to_float(total) == 6.0  # the explicit way is allowed


def test_scatter_add_sums_repeated_indices(backend):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 5, size=40)
    vals = rng.standard_normal((40, 3))
    expected = np.zeros((5, 3))
    np.add.at(expected, ids, vals)
    target = B.to_device(np.zeros((5, 3)))
    B.scatter_add(target, B.to_device(ids), B.to_device(vals))
    np.testing.assert_allclose(B.to_host(target), expected, atol=1e-12)


def test_one_seed_gives_the_same_model_on_every_backend(backend):
    cfg = Seq2SeqConfig(src_vocab=11, tgt_vocab=9, emb=4, hidden=5, bidirectional=True)
    here = {k: B.to_host(v) for k, v in Seq2Seq(cfg, seed=3).params.items()}
    with B.use("numpy"):
        reference = {k: v.copy() for k, v in Seq2Seq(cfg, seed=3).params.items()}
    assert here.keys() == reference.keys()
    for k in here:
        assert np.array_equal(here[k], reference[k]), k


def test_device_rng_state_round_trip(backend):
    rng = B.DeviceRNG(7)
    rng.uniform((3,))
    state = rng.get_state()
    a = B.to_host(rng.uniform((4,)))
    rng.set_state(state)
    assert np.array_equal(a, B.to_host(rng.uniform((4,))))


def test_counter_bits_are_uniform_and_independent_across_draws():
    """The CuPy generator's bits (``counter_bits`` runs on any array module; here NumPy)."""
    n = 1 << 16
    a, b = B.counter_bits(np, 5, 0, n), B.counter_bits(np, 5, 1, n)
    assert a.dtype == np.uint64 and np.array_equal(a, B.counter_bits(np, 5, 0, n))
    assert not np.array_equal(a[:8], B.counter_bits(np, 6, 0, 8))  # another seed, another stream
    for bits in (a, b):
        counts = np.bincount((bits >> 60).astype(np.int64), minlength=16)  # top 4 bits
        chi2 = ((counts - n / 16) ** 2 / (n / 16)).sum()
        assert chi2 < 45, chi2  # 15 degrees of freedom: P(chi2 > 45) < 1e-4
    for bit in (0, 31, 63):  # every bit position is a fair coin
        ones = ((a >> np.uint64(bit)) & np.uint64(1)).sum()
        assert abs(ones - n / 2) < 5 * (n / 4) ** 0.5, bit
    x, y = (a >> 11) * 2.0 ** -53, (b >> 11) * 2.0 ** -53
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / n ** 0.5  # draw 0 against draw 1
    assert abs(np.corrcoef(x[:-1], x[1:])[0, 1]) < 5 / n ** 0.5  # neighbours within a draw


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_keep_mask_keeps_with_the_asked_probability(backend, keep):
    n = 1 << 20
    mask = B.to_host(B.DeviceRNG(3).keep_mask((n,), keep))
    assert mask.dtype == bool
    # a binomial count: within 5 standard deviations of n * keep
    assert abs(mask.sum() - n * keep) < 5 * (n * keep * (1 - keep)) ** 0.5
    assert np.array_equal(mask, B.to_host(B.DeviceRNG(3).keep_mask((n,), keep)))
    m = mask.astype(float)
    for lag in (1, 2, 3, 4):  # NumPy cuts each 64-bit word in four: neighbours stay independent
        assert abs(np.corrcoef(m[:-lag], m[lag:])[0, 1]) < 5 / n ** 0.5, lag


def test_keep_mask_has_the_asked_shape_whatever_its_size(backend):
    for shape in ((3, 5, 7), (1,), (2, 1, 3)):  # sizes that four do not divide
        mask = B.to_host(B.DeviceRNG(0).keep_mask(shape, 0.5))
        assert mask.shape == shape and mask.dtype == bool


def test_precision_context_switches_the_default_float():
    assert B.float_dtype() == np.float32
    with B.precision("float64"):
        assert B.float_dtype() == np.float64
    assert B.float_dtype() == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        B.set_float_dtype("float16")


def test_unknown_backend_is_one_clear_error():
    with pytest.raises(B.BackendError, match="choose one of numpy, cupy, strict"):
        B.set_backend("jax")


@pytest.mark.skipif(B.gpu_available(), reason="checks the message shown where CuPy cannot run")
def test_cupy_without_gpu_says_what_to_install():
    with pytest.raises(B.BackendError, match="cupy"):
        B.set_backend("cupy")
    r = subprocess.run([sys.executable, "-m", "minis2s", "gradcheck", "--only", "affine"],
                       env={"MINIS2S_BACKEND": "cupy", "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "cupy" in r.stderr.lower()


def test_strict_arrays_print_their_values():
    with B.use("strict"):
        a = B.to_device(np.array([1.5, 2.5]))
        assert "1.5" in repr(a) and "2.5" in str(a)
