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


def join(names) -> str:
    """'dx', 'dx and dW', 'dx, dW and db'."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verb(names, singular: str, plural: str) -> str:
    """The verb form that agrees with a list of gradient names as its subject."""
    return singular if len(list(names)) == 1 else plural


def factor_hint(names: list, c: float, sizes: dict, formula: str) -> str:
    """``formula``: what to check, the text after "Check", or a sentence of its own after "-- "."""
    name = join(names)
    check = formula[3:] if formula.startswith("-- ") else f"Check {formula}"
    if abs(c + 1) <= 1e-6:
        return (f"{name} {verb(names, 'has', 'have')} the wrong sign: "
                f"{verb(names, 'it is', 'they are')} exactly -1 times the right gradient. {check}")
    named = _name_factor(c, sizes)
    return (f"{name} {verb(names, 'is', 'are')} off by a factor of {c:.4g}{named} -- did you "
            f"average or sum twice, or scale by a size the equation does not have? {check}")


def row_hint(names: list, row: int, formula: str) -> str:
    return (f"{join(names)} {verb(names, 'holds', 'hold')} the contribution of batch row {row} "
            f"alone: the rows' contributions must be accumulated (+= in a loop, or one product / "
            f"sum over the batch), not overwritten. Check {formula}")


def transposed_hint(name: str, formula: str) -> str:
    return f"{name} is the transpose of the right gradient. Check {formula}"


def path_hint(names: list, wrong: list, right: list, paths: dict) -> str:
    where = "; ".join(paths[w] for w in wrong)
    if right:
        return (f"the part of {join(names)} that comes from {join(wrong)} is wrong, the part from "
                f"{join(right)} is right: {where}")
    return (f"{join(names)} {verb(names, 'is', 'are')} wrong whichever upstream gradient "
            f"{verb(names, 'it comes', 'they come')} from: {where}")


def ignored_hint(names: list, part: str, paths: dict) -> str:
    return f"{join(names)} {verb(names, 'ignores', 'ignore')} the upstream gradient {part}: {paths[part]}"


def gate_hint(gate: str, long_name: str, rows: str, grads: list, formula: str) -> str:
    return (f"the {long_name} block ({rows}) of {', '.join(grads)} is wrong; "
            f"check {formula}")
