"""Numerical gradient checking: the one truth that tests, the CLI and the exercises share (lesson 01).

For an op ``out, cache = forward(**inputs)`` with ``grads = backward(dout, cache)`` we pick a
random upstream gradient ``dout`` and check the scalar

    L = sum_k <dout_k, out_k>                                           (eq. 1.4)

whose gradient with respect to an input is exactly what ``backward(dout, cache)`` claims to
return. The numerical gradient uses centered differences

    dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)               (eq. 1.5)

whose error is O(eps^2), against O(eps) for one-sided differences. Everything runs in float64,
where the rounding error of (eq. 1.5) is about 1e-16 |L| / eps.

The relative error of an input's gradient is

    |a - n| / max(|a| + |n|, tiny)                                      (eq. 1.6)

with |.| the Euclidean norm over the coordinates checked: a norm, not a per-coordinate maximum,
so a coordinate whose true gradient is ~0 cannot turn harmless rounding into a false alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from . import backend as B

TOLERANCE = 1e-7
TINY = 1e-300


@dataclass
class Result:
    """One checked gradient: op, the input it is taken with respect to, and its errors."""

    op: str
    wrt: str
    rel_error: float
    abs_error: float
    n_coords: int
    analytic: object = field(default=None, repr=False)  # host arrays at the checked coords
    numeric: object = field(default=None, repr=False)

    def passed(self, tol: float = TOLERANCE) -> bool:
        return self.rel_error <= tol

    def as_dict(self) -> dict:
        return {"op": self.op, "wrt": self.wrt, "rel_error": self.rel_error}


def rel_error(analytic, numeric, tiny: float = TINY) -> float:
    """(eq. 1.6) on host arrays or numbers."""
    a = B.to_host(analytic).astype("float64").ravel()
    n = B.to_host(numeric).astype("float64").ravel()
    diff = math.sqrt(float(((a - n) ** 2).sum()))
    scale = math.sqrt(float((a**2).sum())) + math.sqrt(float((n**2).sum()))
    return diff / max(scale, tiny)


def _as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _loss(out, douts) -> float:
    """(eq. 1.4), read back to the host on purpose: this is a check, not a training step."""
    total = 0.0
    for o, d in zip(_as_list(out), douts):
        if d is not None:
            total += B.to_float((o * d).sum())
    return total


def sample_coords(shape, max_coords: int | None, generator) -> list[tuple]:
    """All coordinates of ``shape``, or ``max_coords`` of them drawn without replacement."""
    size = math.prod(shape)
    flat = range(size)
    if max_coords is not None and size > max_coords:
        flat = sorted(generator.choice(size, size=max_coords, replace=False).tolist())
    coords = []
    for i in flat:
        idx = []
        for dim in reversed(shape):
            idx.append(i % dim)
            i //= dim
        coords.append(tuple(reversed(idx)))
    return coords


def numerical_gradient(f: Callable[[], float], x, coords, eps: float = 1e-6) -> list[float]:
    """Centered differences (eq. 1.5) of the scalar ``f()`` at ``coords`` of ``x``, perturbed in place."""
    grads = []
    for idx in coords:
        old = B.to_float(x[idx])
        x[idx] = old + eps
        plus = f()
        x[idx] = old - eps
        minus = f()
        x[idx] = old
        grads.append((plus - minus) / (2 * eps))
    return grads


def gradcheck(
    forward: Callable,
    backward: Callable,
    inputs: dict,
    wrt: Sequence[str],
    *,
    static: dict | None = None,
    op: str = "",
    eps: float = 1e-6,
    max_coords: int | None = 150,
    seed: int = 0,
) -> list[Result]:
    """Check ``backward`` against centered differences of ``forward``, input by input.

    forward(**inputs, **static) -> (out, cache), out an array or a tuple of arrays.
    backward(dout, cache) -> one gradient per name in ``wrt``, in that order (a tuple, or a
    single array when ``wrt`` has one name).
    inputs: float64 arrays (any backend); those named in ``wrt`` are perturbed in place and
    restored. static: arguments that are not differentiated (ids, masks, flags).
    Returns one :class:`Result` per name in ``wrt``.
    """
    static = static or {}
    generator = B.rng(seed)
    for name in wrt:
        if inputs[name].dtype.name != "float64":
            raise TypeError(f"gradcheck needs float64 inputs; {name} is {inputs[name].dtype}")

    out, cache = forward(**inputs, **static)
    outs = _as_list(out)
    douts = [None if o is None else B.to_device_like(generator.standard_normal(o.shape), o) for o in outs]
    dout = douts[0] if not isinstance(out, (tuple, list)) else tuple(douts)
    grads = backward(dout, cache)
    if len(wrt) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != len(wrt):
        raise ValueError(f"{op}: backward returned {len(grads)} gradients for {len(wrt)} inputs {list(wrt)}")

    def f():
        return _loss(forward(**inputs, **static)[0], douts)

    results = []
    for name, grad in zip(wrt, grads):
        x = inputs[name]
        if grad is None or tuple(grad.shape) != tuple(x.shape):
            got = None if grad is None else tuple(grad.shape)
            raise ValueError(f"{op}: gradient for {name} has shape {got}, expected {tuple(x.shape)}")
        coords = sample_coords(tuple(x.shape), max_coords, generator)
        numeric = numerical_gradient(f, x, coords, eps)
        host_grad = B.to_host(grad)
        analytic = [float(host_grad[idx]) for idx in coords]
        err = rel_error(analytic, numeric)
        abs_err = max((abs(a - n) for a, n in zip(analytic, numeric)), default=0.0)
        results.append(Result(op, name, err, abs_err, len(coords), analytic, numeric))
    return results


def format_table(results: Sequence[Result], tol: float = TOLERANCE) -> str:
    """A fixed-width table: op, wrt, relative error, pass/fail; then the worst figure."""
    width = max([len(r.op) for r in results] + [2])
    wrt_width = max([len(r.wrt) for r in results] + [10])
    lines = [f"{'op':<{width}}  {'wrt':<{wrt_width}}  {'rel_error':>10}  result"]
    for r in results:
        lines.append(
            f"{r.op:<{width}}  {r.wrt:<{wrt_width}}  {r.rel_error:10.2e}  {'pass' if r.passed(tol) else 'FAIL'}"
        )
    worst = max(results, key=lambda r: r.rel_error)
    failed = sum(not r.passed(tol) for r in results)
    lines.append(
        f"{len(results)} checks, {failed} failed; worst relative error {worst.rel_error:.2e} "
        f"({worst.op} wrt {worst.wrt}); tolerance {tol:.0e}"
    )
    return "\n".join(lines)
