"""The catalogue of gradient checks behind ``python -m minis2s gradcheck``, the tests and the lessons.

Each :class:`Case` builds float64 inputs for one op in one situation (a padded batch, B=1,
T=1, ...) and names the inputs its backward differentiates. :data:`CASES` lists them all,
one module per functional module, each module a plain list: searching for a case's name
finds the line that defines it. :mod:`minis2s.suite.model` checks whole models the same way
(:func:`~minis2s.suite.model.check_model`).
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


def lengths_mask(lengths, T):
    """Host helper for cases: (B,) lengths -> (B, T) float mask, 1 on real tokens."""
    np = B.host
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype("float64")


# The catalogue. The modules below use Case and lengths_mask from this one, so they are
# imported once those exist.
from . import activations, attention, linear, losses, recurrent, transformer  # noqa: E402

CASES: list[Case] = [*activations.CASES, *attention.CASES, *linear.CASES, *losses.CASES, *recurrent.CASES,
                     *transformer.CASES]
