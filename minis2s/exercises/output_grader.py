"""Grading by output: ``check(my_greedy_decode)`` runs it and the library on the same cases.

1. **The verdict**: on every case (seeded inputs, :mod:`.outputs`) every field of the
   learner's output equals the library's -- exactly for integer and text fields (token ids,
   slots, BPE symbols), within the exercise's ``rtol``/``atol`` for floats. An exercise marked
   ``strict`` is also run on the strict backend, where any host synchronisation fails (lesson
   00, 11).
2. **The hints**: every catalogued mistake (:mod:`.output_mistakes`) runs on the same cases;
   when the learner's output equals a mistake's everywhere (and the mistake's is wrong), its
   hint is given. Otherwise the report says where the output first differs: which case, which
   field, which position, the two values, and the shapes, a constant factor or nan when that is
   what differs.

As in :mod:`.grader`, a broken function never raises out of :func:`grade`.
"""

from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass

from .. import backend as B
from . import output_mistakes as OM
from .grader import Report, _copy, _describe


@dataclass
class OutputResult:
    """One field of the output over all cases: equal to the library's (``passed``) or not."""

    name: str
    passed: bool
    note: str = ""
    rel_error: None = None  # the report's table prints a relative error only for gradients


class OutputReport(Report):
    """:class:`minis2s.exercises.grader.Report` for an output exercise: same fields and printout."""

    cases: int = 0

    def summary(self) -> str:
        if self.error is not None:
            return "NOT GRADED"
        if self.passed:
            return (f"PASSED: all {len(self.results)} checks equal the library's on "
                    f"{self.cases} inputs")
        failed = sum(not r.passed for r in self.results)
        return f"FAILED: {failed} of {len(self.results)} checks wrong"


class _Raised:
    """What a function raised on a case, comparable to what a mistake raised."""

    def __init__(self, exc, fn):
        self.type, self.message = type(exc).__name__, str(exc)
        frames = traceback.extract_tb(exc.__traceback__)
        code = getattr(fn, "__code__", None)
        mine = [f for f in frames if code is not None and f.filename == code.co_filename]
        self.frame = mine[-1] if mine else None

    def same(self, other) -> bool:
        return isinstance(other, _Raised) and (self.type, self.message) == (other.type, other.message)

    def where(self) -> str:
        f = self.frame
        return f" -- line {f.lineno}: `{f.line.strip()}`" if f is not None and f.line else ""


def _call(fn, ex, case):
    """{field: value} of ``fn`` on a copy of ``case``, or a :class:`_Raised`."""
    with B.host.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ex.run(fn, _copy(case))
        except Exception as exc:  # NotImplementedError included: the caller tells them apart
            raised = _Raised(exc, fn)
            raised.exc = exc
            return raised


def _array(value):
    """A field as a host array (float64, int64, bool, or str for text such as BPE symbols),
    or None if it is neither numbers nor text."""
    try:
        if isinstance(value, (list, tuple)) and any(B.is_array(v) for v in value):
            value = [B.to_host(v) for v in value]
        a = B.host.asarray(B.to_host(value) if B.is_array(value) else value)
    except Exception:
        return None
    if a.dtype.kind in "bU":
        return a
    if a.dtype.kind in "iu":
        return a.astype("int64")
    if a.dtype.kind == "f":
        return a.astype("float64")
    return None


def _text(a) -> bool:
    return a.dtype.kind == "U"


def _equal(ex, a, b) -> bool:
    return (a is not None and b is not None and _text(a) == _text(b) and a.shape == b.shape
            and not _differs(ex, a, b).any())


def _differs(ex, a, b):
    """Boolean array: where a and b (same shape) are not equal for the exercise."""
    np = B.host
    if (a.dtype.kind in "biu" and b.dtype.kind in "biu") or _text(a):  # integers and text: exactly
        return a != b
    a, b = a.astype("float64"), b.astype("float64")
    with np.errstate(all="ignore"):
        close = np.isclose(a, b, rtol=ex.rtol, atol=ex.atol, equal_nan=True)
    return ~(close | (a == b))  # a == b: the same infinity


def _outputs_equal(ex, mine, theirs) -> bool:
    if isinstance(mine, _Raised) or isinstance(theirs, _Raised):
        return isinstance(mine, _Raised) and mine.same(theirs)
    return mine.keys() == theirs.keys() and all(
        _equal(ex, _array(mine[f]), _array(theirs[f])) for f in mine)


def _value(a, index) -> str:
    v = a[index]
    return f"{v:.6g}" if a.dtype.kind == "f" else repr(str(v)) if _text(a) else str(v)


def _short(a) -> str:
    """A small array as a list, floats to 6 significant digits."""
    if a.dtype.kind != "f":
        return str(a.tolist())
    return "[" + ", ".join(f"{x:.6g}" for x in a.ravel()) + "]"


def _difference(ex, field, case, mine, right) -> str:
    """Where a field first differs from the library's, in one sentence a learner can act on."""
    np = B.host
    a, r = _array(mine), _array(right)
    what = ex.fields.get(field, "")
    if a is None or _text(a) != _text(r):
        return f"{field} is {_describe(mine)}, not {'text' if _text(r) else 'numbers'}; expected {what}"
    if a.shape != r.shape:
        hint = f"{field} has shape {a.shape}, expected {r.shape} ({what})"
        if a.ndim == r.ndim and a.ndim and sum(x != y for x, y in zip(a.shape, r.shape)) == 1:
            axis = next(k for k, (x, y) in enumerate(zip(a.shape, r.shape)) if x != y)
            hint += f": axis {axis} has {a.shape[axis] - r.shape[axis]:+d} entries -- a loop bound off by that?"
        return hint
    bad = _differs(ex, a, r)
    index = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
    where = f" at {list(index)}" if index else ""
    text = (f"{field} first differs in case {case + 1}{where}: yours {_value(a, index)}, "
            f"the library's {_value(r, index)} ({what})")
    if a.dtype.kind == "f" and r.dtype.kind == "f":
        finite = np.isfinite(r)
        if not np.isfinite(a[finite]).all():
            return text + "; yours has nan or inf where the library's is finite"
        big = finite & (np.abs(r) > 1e-12)
        if big.any():
            ratio = a[big] / r[big]
            if np.allclose(ratio, ratio[0], rtol=1e-6) and not np.isclose(ratio[0], 1.0):
                return text + f"; yours is {ratio[0]:.4g} x the library's everywhere: a constant factor"
    if a.ndim >= 2 and a.shape[-1] <= 16 and a.size <= 400:
        row = index[:-1]
        text += f"; row {list(row)}: yours {_short(a[row])}, the library's {_short(r[row])}"
    elif 0 < a.ndim and a.size <= 16:
        text += f"; yours {_short(a)}, the library's {_short(r)}"
    share = int(bad.sum())
    if a.size > 1:
        text += f" ({share} of {a.size} entries differ)"
    return text


class _Grading:
    def __init__(self, fn, ex, seed):
        self.fn, self.ex, self.seed = fn, ex, seed
        self.name = getattr(fn, "__name__", "your function")
        self.cases = ex.cases(B.rng(seed))
        self.report = OutputReport(ex.name, self.name, title=ex.title)
        self.report.cases = len(self.cases)

    def run(self) -> OutputReport:
        ex, rep = self.ex, self.report
        right = [_call(ex.solution, ex, c) for c in self.cases]
        for r in right:
            if isinstance(r, _Raised):
                raise r.exc  # the library failed on its own inputs: the grader's bug
        mine = [_call(self.fn, ex, c) for c in self.cases]
        stopped = next((m for m in mine if isinstance(m, _Raised)), None)
        if stopped is not None and isinstance(stopped.exc, NotImplementedError):
            message = stopped.message.strip()
            extra = f" ({message})" if message and message != ex.first_step else ""
            rep.error = f"not implemented yet{extra}: {ex.first_step}"
            return rep
        if stopped is not None:
            rep.error = (f"{self.name} raised {stopped.type}: {stopped.message}{stopped.where()} "
                         f"(exercise {ex.name!r}, {ex.equations})")
        else:
            self._compare(mine, right)
        if not rep.passed:
            self._mistakes(mine, right)
        if not rep.mistakes and stopped is None and not rep.passed:
            self._differences(mine, right)
        if ex.strict and rep.error is None:
            self._strict()
        return rep

    def _compare(self, mine, right):
        ex, rep = self.ex, self.report
        for field in ex.fields:
            wrong = []
            for k, (m, r) in enumerate(zip(mine, right)):
                if field not in m:
                    wrong.append((k, "missing"))
                elif not _equal(ex, _array(m[field]), _array(r[field])):
                    wrong.append((k, "differs"))
            note = (f"differs in case {', '.join(str(k + 1) for k, _ in wrong)} of {len(right)}"
                    if wrong else "")
            rep.results.append(OutputResult(field, not wrong, note))

    def _mistakes(self, mine, right):
        for m in OM.for_exercise(self.ex.name):
            theirs = [_call(m.fn, self.ex, c) for c in self.cases]
            wrong = any(not _outputs_equal(self.ex, t, r) for t, r in zip(theirs, right))
            if wrong and all(_outputs_equal(self.ex, a, t) for a, t in zip(mine, theirs)):
                self.report.hints.append(m.hint)
                self.report.mistakes.append(m.name)

    def _differences(self, mine, right):
        ex = self.ex
        for field in ex.fields:
            for k, (m, r) in enumerate(zip(mine, right)):
                if field not in m:
                    self.report.hints.append(f"{self.name} returned no {field} ({ex.fields[field]})")
                    break
                if not _equal(ex, _array(m[field]), _array(r[field])):
                    self.report.hints.append(_difference(ex, field, k, m[field], r[field]))
                    break
        self.report.hints.append(f"the library's version, to compare with once you have tried: {ex.library}")

    def _strict(self):
        """Run every case with device arrays of the strict backend: a hidden host
        synchronisation raises there, and an explicit one (B.to_host, B.to_float) is caught
        by watching those functions."""
        ex, rep = self.ex, self.report
        problem = None
        syncs = []
        watched = {name: getattr(B, name) for name in ("to_host", "to_float")}

        depth = [0]  # B.to_float calls B.to_host: name only the learner's own call

        def watch(name):
            def call(*args, **kwargs):
                if depth[0] == 0:
                    syncs.append(name)
                depth[0] += 1
                try:
                    return watched[name](*args, **kwargs)
                finally:
                    depth[0] -= 1
            return call

        for case in self.cases:
            with B.use("strict"):
                device = {k: B.to_device(v) for k, v in case.items()}
                for name in watched:
                    setattr(B, name, watch(name))
                try:
                    out = _call(self.fn, ex, device)
                finally:
                    for name, f in watched.items():
                        setattr(B, name, f)
            if syncs:  # first: what it read back may be what then failed
                problem = (f"{self.name} calls B.{syncs[0]}: that reads the value back to the host "
                           f"and waits for the GPU; return the 0-d device array instead")
                break
            if isinstance(out, _Raised):
                if "device->host" in out.message:
                    problem = (f"on the strict backend {self.name} synchronises with the host"
                               f"{out.where()}: float(), int(), bool(), .item(), .tolist() and `if` "
                               f"on an array each wait for the GPU to finish; keep the value a "
                               f"device array to the end")
                elif "host numpy.ndarray" in out.message:
                    problem = (f"on the strict backend {self.name} mixes a host numpy array into "
                               f"device math{out.where()}: that array was read back to the host "
                               f"(numpy.asarray? np.* on a device array?); use xp = "
                               f"B.get_array_module(logits) for every array function")
                else:
                    problem = f"on the strict backend {self.name} raised {out.type}: {out.message}{out.where()}"
                break
            values = list(out.values())
            if not all(isinstance(v, B.StrictArray) for v in values):
                kinds = ", ".join(type(v).__name__ for v in values)
                problem = (f"on the strict backend {self.name} returned {kinds}, not a device array: "
                           f"a host value means a synchronisation (numpy.asarray, float(), .item()); "
                           f"compute with xp = B.get_array_module(logits) and return its 0-d array")
                break
        rep.results.append(OutputResult("no host sync (strict backend)", problem is None))
        if problem is not None:
            rep.hints.append(problem)


def grade(fn, ex, seed: int = 0) -> OutputReport:
    """The report of ``fn`` on output exercise ``ex`` (see the module docstring)."""
    return _Grading(fn, ex, seed).run()
