"""Argument checks that name what is wrong: the argument, the shape it got, the shape expected.

A spec is a tuple of dimensions, each an int or a symbol such as ``"B"`` or ``"4H"``
(a multiple of a symbol). Symbols bind on first sight, so later arguments must agree::

    dims = {}
    expect("x", x, ("B", "D"), dims)
    expect("Wx", Wx, ("4H", "D"), dims)   # D must match x; H is bound here

The checks read only ``.shape`` and ``.dtype``: they never touch array data, so they cost no
device synchronisation.
"""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"^(\d*)([A-Za-z_]\w*)$")


class ShapeError(ValueError):
    """An argument has the wrong shape or dtype."""


def _fmt(spec) -> str:
    return "(" + ", ".join(str(s) for s in spec) + ("," if len(spec) == 1 else "") + ")"


def expect(name: str, x, spec, dims: dict | None = None, kind: str = "float"):
    """Check ``x`` against ``spec`` (binding symbols in ``dims``) and its dtype ``kind``.

    kind: ``"float"`` (float32/float64), ``"int"`` (any integer), ``"mask"`` (bool or
    numeric 0/1), or ``None`` to skip the dtype check.
    """
    dims = {} if dims is None else dims
    shape = getattr(x, "shape", None)
    if shape is None:
        raise ShapeError(f"{name}: expected an array of shape {_fmt(spec)}, got {type(x).__name__}")
    if len(shape) != len(spec):
        raise ShapeError(
            f"{name}: expected {len(spec)}-D shape {_fmt(spec)}, got {len(shape)}-D shape {tuple(shape)}"
        )
    for axis, (got, want) in enumerate(zip(shape, spec)):
        if isinstance(want, int):
            if got != want:
                raise ShapeError(f"{name}: expected shape {_fmt(spec)}, got {tuple(shape)} (axis {axis})")
            continue
        mult, sym = _SYMBOL.match(want).groups()
        mult = int(mult or 1)
        if got % mult:
            raise ShapeError(f"{name}: expected shape {_fmt(spec)}, got {tuple(shape)} (axis {axis} not a multiple of {mult})")
        size = got // mult
        if sym in dims and dims[sym] != size:
            expected = tuple(_resolve(s, dims) for s in spec)
            raise ShapeError(
                f"{name}: expected shape {_fmt(spec)} = {expected}, got {tuple(shape)} "
                f"({sym}={dims[sym]} from earlier arguments)"
            )
        dims[sym] = size
    _check_kind(name, x, kind)
    return dims


def _resolve(s, dims):
    if isinstance(s, int):
        return s
    mult, sym = _SYMBOL.match(s).groups()
    return int(mult or 1) * dims[sym] if sym in dims else s


def _check_kind(name, x, kind):
    if kind is None:
        return
    k = x.dtype.kind
    ok = {
        "float": k == "f" and x.dtype.itemsize in (4, 8),
        "int": k in "iu",
        "mask": k in "biuf",
    }[kind]
    if not ok:
        want = {"float": "float32 or float64", "int": "an integer dtype", "mask": "bool or 0/1 numbers"}[kind]
        raise ShapeError(f"{name}: expected dtype {want}, got {x.dtype}")


def same_dtype(**arrays) -> None:
    """All float arguments share one dtype (mixing float32 and float64 silently upcasts)."""
    dtypes = {n: a.dtype for n, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n}={d}" for n, d in dtypes.items())
        raise ShapeError(f"float arguments must share one dtype, got {listed}; cast them to one")
