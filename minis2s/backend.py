"""The one module that knows which array library runs the math (lesson 00).

Math code never imports NumPy or CuPy. It asks for the array module of its arguments,
Chainer-style::

    xp = B.get_array_module(x)
    h = xp.tanh(a)

Three backends share one interface:

``numpy``
    The CPU reference.
``cupy``
    The GPU. Selected with ``MINIS2S_BACKEND=cupy`` or ``minis2s.set_backend("cupy")``.
``strict``
    NumPy wearing a device array's manners, so that a CPU-only machine (CI) still catches
    math code that would break or silently stall on CuPy: an implicit device->host
    conversion (``float(x)``, ``x.item()``, ``if x:``), mixing a host ``numpy.ndarray``
    into device math, ``ufunc.at`` (use :func:`scatter_add`) and ``xp.random`` (use the
    seeded helpers below). The README explains why we chose this over ``array_api_strict``.

Parameters are initialised on the host with ``numpy.random.default_rng(seed)`` and then
moved to the device, so one seed gives the same model on every backend.
"""

from __future__ import annotations

import contextlib
import math
import os
import types

import numpy as np

from .errors import UserError

BACKENDS = ("numpy", "cupy", "strict")

#: NumPy for host-side bookkeeping -- batching token ids, fixtures, reading checkpoints.
#: Math on model arrays never uses it: it takes ``get_array_module(x)``.
host = np


class BackendError(UserError):
    """The requested backend cannot run here (e.g. CuPy asked for without a GPU)."""


# --------------------------------------------------------------------------- strict stand-in


class StrictArray(np.ndarray):
    """A NumPy array that refuses what a CuPy array would refuse or silently synchronise on."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if method == "at":
            raise TypeError(
                f"{ufunc.__name__}.at is not portable to CuPy; use minis2s.backend.scatter_add"
            )
        args = [_unwrap(a) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap_all(args), **_unwrap_all(kwargs)))

    def __getitem__(self, key):
        return _wrap(super().__getitem__(_unwrap_all(key)))

    def __setitem__(self, key, value):
        super().__setitem__(_unwrap_all(key), _unwrap(value))

    def _refuse(self, *_args, **_kwargs):
        raise TypeError(
            "implicit device->host transfer (float(), int(), bool(), .item(), .tolist()) "
            "would synchronise the GPU; use minis2s.backend.to_host where a host value is meant"
        )

    __float__ = __int__ = __bool__ = __index__ = __complex__ = _refuse
    item = tolist = _refuse

    # printing is the learner looking, not the math syncing: show the values
    def __repr__(self):
        return "strict_" + repr(self.view(np.ndarray))

    def __str__(self):
        return str(self.view(np.ndarray))


def _unwrap(a):
    if isinstance(a, StrictArray):
        return a.view(np.ndarray)
    if isinstance(a, np.ndarray):
        raise TypeError(
            "a host numpy.ndarray was mixed into device math; "
            "move it with minis2s.backend.to_device first"
        )
    return a


def _unwrap_all(obj):
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap_all(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap_all(v) for k, v in obj.items()}
    return _unwrap(obj)


def _wrap(result):
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, list):
        return [_wrap(r) for r in result]
    if isinstance(result, np.ndarray):
        return result.view(StrictArray)
    if isinstance(result, np.generic):  # CuPy reductions return 0-d arrays, never host scalars
        return np.asarray(result).view(StrictArray)
    return result


class _StrictModule(types.ModuleType):
    """``numpy`` as a device library would look: results are StrictArrays."""

    _refused = {
        "random": "xp.random differs between NumPy and CuPy; use minis2s.backend.rng / uniform",
        "asnumpy": "use minis2s.backend.to_host",
    }

    def __getattr__(self, name):
        if name in self._refused:
            raise AttributeError(self._refused[name])
        attr = getattr(np, name)
        if isinstance(attr, (type, np.ufunc, types.ModuleType)) or not callable(attr):
            return attr

        def call(*args, **kwargs):
            return _wrap(attr(*args, **kwargs))

        call.__name__ = name
        return call


strict = _StrictModule("minis2s.backend.strict")


# --------------------------------------------------------------------------- selection

_state = {"name": None, "xp": None, "float": np.dtype(np.float32)}


def _import_cupy():
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "backend 'cupy' needs CuPy: pip install 'minis2s[gpu]' (cupy-cuda12x, for CUDA 12) "
            "or 'minis2s[gpu13]' (cupy-cuda13x, for CUDA 13)"
        ) from exc
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise BackendError("backend 'cupy' needs an NVIDIA GPU, and none is visible")
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        raise BackendError(
            f"backend 'cupy' needs a working NVIDIA GPU and driver: {exc}"
        ) from exc
    return cupy


def set_backend(name: str):
    """Select ``numpy``, ``cupy`` or ``strict``; returns the array module."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    module = {"numpy": lambda: np, "cupy": _import_cupy, "strict": lambda: strict}[name]()
    _state["name"], _state["xp"] = name, module
    return module


def get_backend() -> str:
    if _state["name"] is None:
        set_backend(os.environ.get("MINIS2S_BACKEND", "numpy"))
    return _state["name"]


def xp():
    """The current backend's array module."""
    get_backend()
    return _state["xp"]


def gpu_available() -> bool:
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def _cupy_if_loaded():
    import sys

    return sys.modules.get("cupy")


def get_array_module(*arrays):
    """The array module that owns ``arrays`` (CuPy's ``get_array_module`` idiom)."""
    for a in arrays:
        if isinstance(a, StrictArray):
            return strict
        cp = _cupy_if_loaded()
        if cp is not None and isinstance(a, cp.ndarray):
            return cp
    return np


def free_device_bytes() -> int | None:
    """Bytes free on the GPU (the driver's count plus what CuPy's pool holds unused); None
    on the host backends, which use the machine's memory (:mod:`minis2s.memory`)."""
    if get_backend() != "cupy":
        return None
    cp = _state["xp"]
    free, _total = cp.cuda.runtime.memGetInfo()
    return int(free) + int(cp.get_default_memory_pool().free_bytes())


def is_array(a) -> bool:
    cp = _cupy_if_loaded()
    return isinstance(a, np.ndarray) or (cp is not None and isinstance(a, cp.ndarray))


@contextlib.contextmanager
def use(name: str):
    """Run a block on another backend: ``with B.use("strict"): ...``."""
    previous = get_backend()
    set_backend(name)
    try:
        yield _state["xp"]
    finally:
        set_backend(previous)


# --------------------------------------------------------------------------- dtypes


def float_dtype():
    """Default float dtype: float32 for training, float64 inside :func:`precision`."""
    return _state["float"]


def set_float_dtype(dtype) -> None:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"float dtype must be float32 or float64, got {dtype}")
    _state["float"] = dtype


@contextlib.contextmanager
def precision(dtype):
    """``with B.precision("float64"):`` -- gradient checks run in float64."""
    previous = _state["float"]
    set_float_dtype(dtype)
    try:
        yield
    finally:
        _state["float"] = previous


# --------------------------------------------------------------------------- moves


def to_device(a, dtype=None):
    """Host (or device) data -> an array of the current backend."""
    module = xp()
    if module is strict:
        host = np.array(_host_view(a), dtype=dtype, copy=True)
        return host.view(StrictArray)
    if module is np:
        return np.asarray(_host_view(a), dtype=dtype)
    return module.asarray(a, dtype=dtype)


def to_device_like(a, like):
    """Host data -> an array on the same backend and with the same dtype as ``like``."""
    module = get_array_module(like)
    if module is strict:
        return np.array(_host_view(a), dtype=like.dtype).view(StrictArray)
    return module.asarray(a, dtype=like.dtype)


def _host_view(a):
    cp = _cupy_if_loaded()
    if cp is not None and isinstance(a, cp.ndarray):
        return cp.asnumpy(a)
    if isinstance(a, StrictArray):
        return a.view(np.ndarray)
    return a


def to_host(a) -> np.ndarray:
    """Any array -> ``numpy.ndarray`` (an explicit, visible synchronisation on the GPU)."""
    return np.asarray(_host_view(a))


def to_float(a) -> float:
    """A 0-d device array -> Python float, synchronising on purpose."""
    return float(to_host(a))


# --------------------------------------------------------------------------- random numbers


def rng(seed) -> np.random.Generator:
    """Host random generator: parameters are drawn here so every backend gets the same model."""
    return np.random.default_rng(seed)


def uniform_init(generator: np.random.Generator, shape, bound, dtype=None):
    """Uniform(-bound, bound) drawn on the host, returned on the device."""
    return to_device(generator.uniform(-bound, bound, size=shape), dtype or float_dtype())


_U64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: SplitMix64's counter increment


def _mix64(z):
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): a bijection of 64-bit words that turns
    consecutive counters into independent-looking bits. Takes a uint64 array (wrapping
    arithmetic) or a Python int."""
    if isinstance(z, int):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _U64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _U64
        return z ^ (z >> 31)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    return z ^ (z >> 31)


def counter_bits(module, key: int, draw: int, size: int):
    """``size`` random 64-bit words (uint64, on ``module``'s device) for draw number ``draw``
    of the stream ``key``: SplitMix64 run from a start point that depends on (key, draw). The
    state of such a generator is two integers, so it saves and restores exactly."""
    start = _mix64((key + _mix64(draw)) & _U64)
    return _mix64(module.arange(size, dtype=module.uint64) * _GOLDEN + start)


class DeviceRNG:
    """A seeded generator that draws on the device (dropout masks in the training step).

    NumPy and strict draw from ``numpy.random.default_rng``. CuPy counts: draw n is
    :func:`counter_bits` of (seed, n), computed where the mask is used, so the state that a
    checkpoint saves is ``{"seed", "draws"}`` and a resumed run draws what an uninterrupted one
    would have (CuPy's own generators keep megabytes of per-thread state on the device). A
    mask is deterministic per backend and seed, not bit-equal across backends.
    """

    def __init__(self, seed: int):
        self.seed = seed
        module = xp()
        self._cupy = module if module not in (np, strict) else None
        self._gen = None if self._cupy else np.random.default_rng(seed)
        self.draws = 0

    def _bits(self, shape):
        n = int(np.prod(shape))
        bits = counter_bits(self._cupy, _mix64(self.seed & _U64), self.draws, n).reshape(shape)
        self.draws += 1
        return bits

    def uniform(self, shape, dtype=None):
        """Uniform [0, 1) of the float dtype: the top 24 (float32) or 53 (float64) bits."""
        dtype = np.dtype(dtype or float_dtype())
        if self._cupy:
            bits = 24 if dtype == np.float32 else 53
            return ((self._bits(shape) >> (64 - bits)).astype(dtype) * dtype.type(2.0 ** -bits))
        return to_device(self._gen.random(shape, dtype=dtype))

    def keep_mask(self, shape, keep: float):
        """A boolean mask, True with probability ``keep``: dropout's M (eq. 7.11).

        It compares 16 random bits with keep * 2^16 rather than a float32 with ``keep``:
        P(True) is ``keep`` rounded to a multiple of 2^-16 (off by at most 8e-6). On NumPy the
        bits are the generator's raw 64-bit words cut in four: a mask of 2^20 takes 0.63 ms,
        against 1.07 ms drawing 16-bit integers and 1.77 ms comparing float32s (medians of 50);
        the Multi30k Transformer draws about 10 million a step."""
        threshold = round(keep * (1 << 16))
        if self._cupy:
            return (self._bits(shape) >> 48) < threshold
        n = math.prod(shape)
        bits = self._gen.bit_generator.random_raw(-(-n // 4)).view(np.uint16)[:n]
        return to_device((bits < threshold).reshape(shape))

    def get_state(self) -> dict:
        """JSON-ready: NumPy's bit-generator state, or CuPy's ``{"seed", "draws"}``."""
        if self._cupy:
            return {"seed": self.seed, "draws": self.draws}
        return self._gen.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Continue from :meth:`get_state`'s dict. A state saved on the other kind of backend
        restarts the stream from the seed (masks are not shared across backends anyway)."""
        if self._cupy:
            self.seed, self.draws = state.get("seed", self.seed), state.get("draws", 0)
        elif "bit_generator" in state:
            self._gen.bit_generator.state = state
        else:
            self.__init__(state.get("seed", self.seed))


# --------------------------------------------------------------------------- ops that differ


def scatter_add(target, indices, values) -> None:
    """``target[indices[i]] += values[i]`` with repeated indices summed, in place.

    target: (V, D), indices: (N,) int, values: (N, D). NumPy's ``add.at`` is slow and CuPy
    spells this ``cupyx.scatter_add``; on the host we sort the indices and sum runs with
    ``add.reduceat``, which is one pass of contiguous memory.
    """
    module = get_array_module(target)
    if module not in (np, strict):
        import cupyx

        cupyx.scatter_add(target, indices, values)
        return
    t, i, v = (_host_view(a) for a in (target, indices, values))
    if i.size == 0:
        return
    order = np.argsort(i, kind="stable")
    sorted_ids = i[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    t[sorted_ids[starts]] += np.add.reduceat(v[order], starts, axis=0)


def check_token_ids(ids, vocab_size: int, name: str = "ids") -> None:
    """Refuse ids outside [0, vocab_size): CuPy would wrap them silently.

    On a device this is one small explicit synchronisation (min and max) -- bad ids must
    never train. The trainer checks each batch on the host instead, before it moves, and tells
    the model step so (``Seq2Seq.forward_backward(..., ids_checked=True)``).
    """
    if ids.size == 0:
        return
    module = get_array_module(ids)
    lo, hi = to_host(module.stack([ids.min(), ids.max()])).tolist()
    if lo < 0 or hi >= vocab_size:
        bad = lo if lo < 0 else hi
        raise IndexError(
            f"{name}: token id {bad} is outside the vocabulary [0, {vocab_size}); "
            "encode with the model's vocabulary or enlarge it"
        )
