"""Hint texts and the comparisons behind them (host arrays only: this is grading, not math).

Each function looks at one wrong gradient ``g`` next to the right one ``r`` (from the reference
solution, on the same upstream gradient and cache) and says what kind of wrong it is, or
returns None: the wrong shape, a constant factor, a transposition, one batch row only.
"""

from __future__ import annotations

import math

from .. import backend as B
from ..gradcheck import rel_error

#: Two arrays "match" below this relative error (eq. 1.6): the same formula evaluated in
#: another order differs by ~1e-15, a different formula by far more.
MATCH = 1e-8

OVERFLOW_HINT = (
    "overflow: subtract the row max before exp, eq. 2.5 -- with logits near +-1000, exp "
    "overflows to inf (or underflows to 0) in float64 and p = e / sum(e) becomes nan"
)


def same(a, b, tol: float = MATCH) -> bool:
    """Same shape, finite, and equal up to ``tol`` relative error (eq. 1.6)."""
    if a is None or b is None or a.shape != b.shape:
        return False
    if not (B.host.isfinite(a).all() and B.host.isfinite(b).all()):
        return False
    return rel_error(a, b) <= tol


def is_zero(a) -> bool:
    return bool((a == 0).all())


def shape_hint(name: str, got: tuple, want: tuple, batch: int) -> str:
    """Why ``got`` is not ``want``: transposed, not summed over the batch, kept dims..."""
    fix = f"{name} has shape {got}, expected {want} (the shape of {name[1:]})"
    if len(got) == 2 and got == want[::-1]:
        return f"{fix}: it looks transposed -- weights are stored (out, in) like PyTorch's, " \
               f"and the gradient has the same layout as its argument"
    if got == (batch,) + tuple(want):
        return f"{fix}: it is not summed over the batch -- add up the rows' contributions (sum over axis 0)"
    if tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
        return f"{fix}: drop the size-1 axes (sum without keepdims, or reshape)"
    return f"{fix}"


def best_factor(g, r):
    """c with g = c r exactly (up to rounding), or None when g is not a multiple of r."""
    rr = float((r * r).sum())
    if rr == 0.0:
        return None
    c = float((g * r).sum()) / rr
    if not math.isfinite(c) or rel_error(g, c * r) > 1e-7:
        return None
    return c


def _name_factor(c: float, sizes: dict) -> str:
    for label, k in sizes.items():
        if k and abs(c - k) <= 1e-6 * k:
            return f" = {label}"
        if k and abs(c * k - 1) <= 1e-6:
            return f" = 1 / ({label})"
    return ""


def factor_hint(name: str, c: float, sizes: dict, formula: str) -> str:
    if abs(c + 1) <= 1e-6:
        return f"{name} has the wrong sign: it is exactly -1 times the right gradient. Check {formula}"
    named = _name_factor(c, sizes)
    return (f"{name} is off by a factor of {c:.4g}{named} -- did you average or sum twice, or "
            f"scale by a size the equation does not have? Check {formula}")


def row_hint(name: str, row: int, formula: str) -> str:
    return (f"{name} holds the contribution of batch row {row} alone: the rows' contributions must "
            f"be accumulated (+= in a loop, or one product / sum over the batch), not overwritten. "
            f"Check {formula}")


def transposed_hint(name: str, formula: str) -> str:
    return f"{name} is the transpose of the right gradient. Check {formula}"


def path_hint(name: str, wrong: list, right: list, paths: dict) -> str:
    where = "; ".join(paths[w] for w in wrong)
    if right:
        return (f"the part of {name} that comes from {' and '.join(wrong)} is wrong, the part from "
                f"{' and '.join(right)} is right: {where}")
    return f"{name} is wrong whichever upstream gradient it comes from: {where}"


def ignored_hint(names: list, part: str, paths: dict) -> str:
    verb = "ignores" if len(names) == 1 else "ignore"
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"{listed} {verb} the upstream gradient {part}: {paths[part]}"


def gate_hint(gate: str, long_name: str, rows: str, grads: list, formula: str) -> str:
    return (f"the {long_name} block ({rows}) of {', '.join(grads)} is wrong; "
            f"check {formula}")
