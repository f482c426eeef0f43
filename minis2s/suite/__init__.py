"""The catalogue of gradient checks behind ``python -m minis2s gradcheck`` and the tests.

Each :class:`Case` builds float64 inputs for one op in one situation (a padded batch, B=1,
T=1, ...) and names the inputs its backward differentiates. Tests parametrize over
:data:`CASES`; the command line prints them as a table. One module per functional module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import backend as B
from ..gradcheck import Result, gradcheck


@dataclass(frozen=True)
class Case:
    """forward/backward: the pair under test. make(rng) -> (inputs, static), host float64
    arrays for ``inputs`` (moved to the device by :func:`run`) and anything for ``static``
    (host arrays there are moved too). wrt: names of ``inputs`` that backward returns
    gradients for, in its return order."""

    name: str
    forward: Callable
    backward: Callable
    make: Callable
    wrt: tuple
    max_coords: int = 120


CASES: list[Case] = []


def case(name, forward, backward, wrt, max_coords=120):
    """Decorator: register ``make`` as a gradient-check case."""

    def register(make):
        CASES.append(Case(name, forward, backward, make, tuple(wrt), max_coords))
        return make

    return register


def _to_device(v):
    if B.is_array(v):
        return B.to_device(v, "float64" if v.dtype.kind == "f" else None)
    return v


def run(c: Case, seed: int = 0) -> list[Result]:
    """Run one case on the current backend in float64."""
    with B.precision("float64"):
        inputs, static = c.make(B.rng(seed))
        inputs = {k: _to_device(v) for k, v in inputs.items()}
        static = {k: _to_device(v) for k, v in static.items()}
        return gradcheck(c.forward, c.backward, inputs, c.wrt, static=static, op=c.name,
                         max_coords=c.max_coords, seed=seed)


def run_all(seed: int = 0) -> list[Result]:
    return [r for c in CASES for r in run(c, seed)]


def lengths_mask(lengths, T):
    """Host helper for cases: (B,) lengths -> (B, T) float mask, 1 on real tokens."""
    np = B.host
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


def _register_all():
    """Import every module of this package: each registers its cases on import."""
    import importlib
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        importlib.import_module(f"{__name__}.{info.name}")


_register_all()
