"""The grader: ``check(my_backward)`` runs the gradient check and says where a mistake is.

Grading has two parts that must not be confused:

1. **The verdict** comes from :func:`minis2s.gradcheck.gradcheck` alone -- centered
   differences of the library forward in float64, every coordinate, tolerance 1e-7 (eq. 1.6):
   the same check the tests and ``python -m minis2s gradcheck`` use.
2. **The hints** explain a failing gradient by comparing it, on one upstream gradient and
   cache, with the reference solution and with variants of it: the catalogued mistakes
   (:mod:`.mistakes`), gate row blocks, constant factors, single batch rows, the separate
   upstream gradients (dh vs dc), the pre-activation gradient that several gradients share.

A broken learner function never raises out of :func:`check`: an exception, a missing return,
a wrong shape each become a line of the report.
"""

from __future__ import annotations

import html
import math
import textwrap
import traceback
import warnings
from dataclasses import dataclass, field

from .. import backend as B
from ..gradcheck import TOLERANCE, gradcheck, rel_error
from . import hints as H
from . import mistakes as M
from . import specs


@dataclass
class GradResult:
    """One returned gradient: its relative error against centered differences (None when it
    could not be checked, e.g. a wrong shape) and whether it passed."""

    name: str
    rel_error: float | None
    passed: bool
    note: str = ""


@dataclass
class Report:
    """What :func:`check` found. ``passed``: every gradient within tolerance."""

    exercise: str
    function: str
    results: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    mistakes: list = field(default_factory=list)  # names of the recognised catalogued mistakes
    error: str | None = None  # not implemented, raised, returned the wrong number of values
    title: str = ""

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.results) and all(r.passed for r in self.results)

    def summary(self) -> str:
        if self.error is not None:
            return "NOT GRADED"
        if self.passed:
            worst = max(r.rel_error for r in self.results)
            return (f"PASSED: all {len(self.results)} checks within {TOLERANCE:.0e} "
                    f"(worst relative error {worst:.1e})")
        failed = sum(not r.passed for r in self.results)
        return f"FAILED: {failed} of {len(self.results)} checks wrong"

    def __str__(self) -> str:
        lines = [self.title or self.function]
        width = max([len(r.name) for r in self.results] + [4])
        for r in self.results:
            err = "" if r.rel_error is None else f"rel error {r.rel_error:8.1e}  "
            note = f"  {r.note}" if r.note else ""
            lines.append(f"  {r.name:<{width}}  {err}{'pass' if r.passed else 'FAIL'}{note}")
        messages = ([self.error] if self.error else []) + list(self.hints)
        if messages:
            lines.append("hints:" if self.error is None else "problem:")
            for m in messages:
                lines.append(textwrap.fill(m, 100, initial_indent="  * ", subsequent_indent="    "))
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Report {self.function} ({self.exercise}): {self.summary()}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


def check(fn, exercise: str | None = None, seed: int = 0, *, verbose: bool = True) -> Report:
    """Grade ``fn``, a learner's backward, and print the report (``verbose``); returns it.

    exercise: a name from :func:`minis2s.exercises.list_exercises` (or the backward's name);
    by default it is read from ``fn.__name__`` (``my_lstm_step_backward`` -> ``lstm_step``).
    seed: draws the inputs and upstream gradients.
    """
    name = getattr(fn, "__name__", type(fn).__name__)
    ex = specs.find(exercise) if exercise is not None else specs.infer(name)
    if ex is None:
        report = Report("?", name, error=(
            f"cannot tell which exercise {name!r} is for: name it after the stub (e.g. "
            f"lstm_step_backward) or call check({name}, exercise=...); the exercises are "
            f"{', '.join(specs.EXERCISES)}"))
    elif not callable(fn):
        report = Report(ex.name, name, title=ex.title,
                        error=f"check() needs your function itself, got {type(fn).__name__}")
    else:
        try:
            if ex.kind == "output":  # a forward or an algorithm, compared with the library's output
                from .output_grader import grade

                report = grade(fn, ex, seed)
            else:
                report = _Grading(fn, ex, seed).run()
        except Exception as exc:  # the grader's own bug must not cost a learner their notebook
            report = Report(ex.name, name, title=ex.title, error=(
                f"the grader itself failed ({type(exc).__name__}: {exc}); please report this "
                f"with your function:\n{traceback.format_exc()}"))
    if verbose:
        print(report)
    return report


# --------------------------------------------------------------------------- helpers


def _copy(obj):
    """A deep copy of arrays in (named) tuples, lists and dicts: a learner's in-place edit of
    dout or the cache must not leak into the next call."""
    if B.is_array(obj):
        return obj.copy()
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(_copy(o) for o in obj))
    if isinstance(obj, (tuple, list)):
        return type(obj)(_copy(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    return obj


def _random_like(out, generator):
    if isinstance(out, (tuple, list)):
        return tuple(_random_like(o, generator) for o in out)
    return B.host.asarray(generator.standard_normal(out.shape), dtype="float64")


def _only(dout, keep):
    """dout with every part except those ``keep`` selects set to zero (same structure)."""
    if isinstance(dout, tuple):
        return tuple(keep(k, d) for k, d in enumerate(dout))
    return keep(0, dout)


def _host64(g):
    """A learner's returned value as a float64 host array, or None if it is not numeric."""
    if g is None:
        return None
    try:
        a = B.to_host(g)
        if a.dtype.kind not in "biuf":
            return None
        return a.astype("float64")
    except Exception:
        return None


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    shape = getattr(value, "shape", None)
    return f"an array of shape {tuple(shape)}" if shape is not None else type(value).__name__


def _is(names) -> str:
    return H.verb(names, "is", "are")


_join = H.join


class _LearnerFailed(Exception):
    pass


_ROWS = ("0", "H", "2H", "3H", "4H")  # gate block boundaries, as the lessons write them


# --------------------------------------------------------------------------- grading


class _Grading:
    """One grading of one function; every step reads the same inputs, dout and cache."""

    def __init__(self, fn, ex, seed):
        self.fn, self.ex, self.seed = fn, ex, seed
        self.name = getattr(fn, "__name__", "your function")
        self.inputs, self.static = ex.make(B.rng(seed))
        self.expected = {g: tuple(self.inputs[w].shape) for g, w in zip(ex.grads, ex.wrt)}
        out, self.cache = ex.forward(**self.inputs, **self.static)
        self.dout = _random_like(out, B.rng(seed + 1))
        self.report = Report(ex.name, self.name, title=ex.title)
        self.covered = set()  # gradients some hint already talks about

    # ---------------------------------------------------------------- calling the learner

    def call(self, dout, cache):
        """(list of the returned values, None) or (None, the problem in one line)."""
        with B.host.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out = self.fn(_copy(dout), _copy(cache))
            except NotImplementedError as exc:
                return None, self._not_implemented(exc)
            except Exception as exc:
                return None, self._raised(exc)
        n, names = len(self.ex.grads), _join(self.ex.grads)
        if n == 1 and isinstance(out, (tuple, list)) and len(out) == 1:
            out = out[0]
        if n == 1:
            if isinstance(out, (tuple, list)):
                return None, f"{self.name} returned {_describe(out)}, expected one array, {names}"
            return [out], None
        if not isinstance(out, (tuple, list)):
            return None, (f"{self.name} returned {_describe(out)}, expected a tuple of {n} "
                          f"gradients: {names}, in this order")
        if len(out) != n:
            return None, (f"{self.name} returned {len(out)} values, expected {n}: {names}, in "
                          f"this order (one per argument of the forward)")
        return list(out), None

    def _not_implemented(self, exc):
        message = str(exc).strip()
        extra = f" ({message})" if message and message != self.ex.first_step else ""
        return f"not implemented yet{extra}: {self.ex.first_step}"

    def _raised(self, exc):
        frames = traceback.extract_tb(exc.__traceback__)
        code = getattr(self.fn, "__code__", None)
        mine = [f for f in frames if code is not None and f.filename == code.co_filename]
        frame = mine[-1] if mine else None  # none: the call itself failed (a wrong signature)
        where = f" -- line {frame.lineno}: `{frame.line.strip()}`" if frame is not None and frame.line else ""
        return (f"{self.name} raised {type(exc).__name__}: {exc}{where} "
                f"(exercise {self.ex.name!r}, {self.ex.equations})")

    def ref(self, dout=None, cache=None):
        """The reference solution's gradients (float64 host arrays) on dout and the cache."""
        dout = self.dout if dout is None else dout
        grads = self.ex.solution(_copy(dout), _copy(self.cache if cache is None else cache))
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        return [B.to_host(g).astype("float64") for g in grads]

    # ---------------------------------------------------------------- the steps

    def run(self) -> Report:
        ex, rep = self.ex, self.report
        raw, problem = self.call(self.dout, self.cache)
        if problem is not None:
            rep.error = problem
            return rep
        self.learner = {g: _host64(v) for g, v in zip(ex.grads, raw)}
        self.dtypes = {g: str(getattr(v, "dtype", "")) for g, v in zip(ex.grads, raw)}
        self.problems = {}
        for g, v in zip(ex.grads, raw):
            a = self.learner[g]
            if v is None:
                self.problems[g] = "None"
            elif a is None:
                self.problems[g] = f"{_describe(v)}, not an array of numbers"
            elif a.shape != self.expected[g]:
                self.problems[g] = f"shape {a.shape}, expected {self.expected[g]}"
        self._gradcheck()
        if rep.error is not None:
            return rep
        self.passed = {r.name: r.passed for r in rep.results}
        if not all(self.passed.values()):
            self._diagnose()
        if ex.stress is not None:
            self._stress()
        return rep

    def _gradcheck(self):
        ex, rep = self.ex, self.report
        valid = [k for k, g in enumerate(ex.grads) if g not in self.problems]
        errors = {}
        if valid:
            def backward(dout, cache):
                raw, problem = self.call(dout, cache)
                if problem is not None:
                    raise _LearnerFailed(problem)
                return tuple(B.to_host(raw[k]) for k in valid)

            inputs = {k: v.copy() for k, v in self.inputs.items()}
            try:
                results = gradcheck(ex.forward, backward, inputs, [ex.wrt[k] for k in valid],
                                    static=self.static, op=ex.backward_name, max_coords=None,
                                    seed=self.seed)
                errors = {"d" + r.wrt: r.rel_error for r in results}
            except _LearnerFailed as exc:
                rep.error = f"on the gradient check's upstream gradient: {exc}"
            except Exception as exc:
                rep.error = f"the gradient check stopped: {type(exc).__name__}: {exc}"
        for g in ex.grads:
            if g in self.problems:
                rep.results.append(GradResult(g, None, False, self.problems[g]))
            elif g in errors:
                e = errors[g]
                ok = math.isfinite(e) and e <= TOLERANCE
                note = "" if math.isfinite(e) else "nan or inf"
                rep.results.append(GradResult(g, e, ok, note))

    def _stress(self):
        """Grade once more on inputs a careless backward fails on (logits of +-1000)."""
        ex, rep = self.ex, self.report
        inputs, static = ex.stress(B.rng(self.seed))
        out, cache = ex.forward(**inputs, **static)
        dout = _random_like(out, B.rng(self.seed + 2))
        raw, problem = self.call(dout, cache)
        if problem is not None:
            rep.hints.append(f"at {ex.stress_label}: {problem}")
            rep.results.append(GradResult(f"{ex.grads[0]} at {ex.stress_label}", None, False, "raised"))
            return
        ref = self.ref(dout, cache)
        for k, g in enumerate(ex.grads):
            a = _host64(raw[k])
            if a is None or a.shape != ref[k].shape:
                continue
            finite = bool(B.host.isfinite(a).all())
            e = rel_error(a, ref[k]) if finite else math.inf
            ok = e <= TOLERANCE
            rep.results.append(GradResult(f"{g} at {ex.stress_label}", e if finite else None, ok,
                                          "vs the reference solution" if finite else "nan or inf"))
            if not finite:
                rep.hints.append(ex.stress_hint)
                rep.mistakes.extend(m.name for m in M.for_exercise(ex.name) if m.stress)
            elif not ok and self.passed.get(g, False):
                rep.hints.append(f"{g} is right on ordinary inputs but wrong at {ex.stress_label} "
                                 f"(relative error {e:.1e}): {ex.formulas[g]}")

    # ---------------------------------------------------------------- diagnosis

    def units(self, g, a):
        """{gate: row block} for a gated gradient of the right shape, else {None: a}."""
        ex = self.ex
        if g in ex.gated and a.shape == self.expected[g]:
            h = a.shape[0] // len(ex.gates)
            return {gate: a[k * h : (k + 1) * h] for k, gate in enumerate(ex.gates)}
        return {None: a}

    def hint(self, text, grads=()):
        if text not in self.report.hints:
            self.report.hints.append(text)
        self.covered.update(grads)

    def _diagnose(self):
        ex = self.ex
        ref = dict(zip(ex.grads, self.ref()))
        failing = [g for g in ex.grads if not self.passed.get(g, True)]
        missing = [g for g in failing if self.learner[g] is None]
        nones = [g for g in missing if self.problems[g] == "None"]
        if nones:
            self.hint(f"{_join(nones)} {_is(nones)} None: return an array for every gradient "
                      f"(of zeros, if it really is zero)", nones)
        kinds = {}
        for g in missing:
            if g not in nones:
                kinds.setdefault(self.problems[g], []).append(g)
        for kind, group in kinds.items():
            self.hint(f"{_join(group)} {_is(group)} {kind}", group)
        nonfinite = [g for g in failing if g not in missing
                     and not B.host.isfinite(self.learner[g]).all()]
        if nonfinite:
            self.hint(f"{_join(nonfinite)} {'contains' if len(nonfinite) == 1 else 'contain'} nan "
                      f"or inf: look for a division by zero, a log of 0 or an exp that overflows",
                      nonfinite)
        failing = [g for g in failing if g not in missing and g not in nonfinite]
        wrong = {}  # (gradient, gate) -> the learner's block, where it differs from the reference
        for g in failing:
            mine, right = self.units(g, self.learner[g]), self.units(g, ref[g])
            for key, a in mine.items():
                r = right.get(key)
                if r is None or a.shape != r.shape or not (rel_error(a, r) <= TOLERANCE):
                    wrong[(g, key)] = a
        unexplained = self._match_mistakes(wrong, ref)
        todo = [g for g in failing if any(u[0] == g for u in unexplained)]
        unexplained -= self._zero_blocks(unexplained, todo, ref)
        self._zero_steps(todo, ref)
        todo = [g for g in todo if g not in self.covered]
        self._whole_gradients(todo, ref)
        todo = [g for g in todo if g not in self.covered]
        self._upstream_paths(todo, ref)
        self._padding(todo)
        self._gates(unexplained, todo)
        self._preacts(todo)
        for g in todo:
            if g not in self.covered:
                e = rel_error(self.learner[g], ref[g])
                self.hint(f"{g} is wrong (relative error {e:.1e}); check {ex.formulas[g]}", [g])

    def _match_mistakes(self, wrong, ref):
        """Name the catalogued mistakes the wrong blocks equal; returns the blocks none explains."""
        ex = self.ex
        candidates = []
        for m in M.for_exercise(ex.name):
            if m.stress:
                continue
            try:
                with B.host.errstate(all="ignore"):
                    out = m.backward(_copy(self.dout), _copy(self.cache))
            except Exception:
                continue
            out = out if isinstance(out, (tuple, list)) else (out,)
            out = dict(zip(ex.grads, (B.to_host(o).astype("float64") for o in out)))
            explains = set()
            for (g, key), a in wrong.items():
                theirs = self.units(g, out[g]).get(key)
                right = self.units(g, ref[g]).get(key)
                if theirs is not None and H.same(a, theirs) and not H.same(theirs, right, 1e-6):
                    explains.add((g, key))
            affected = {g for g in ex.grads if not H.same(out[g], ref[g], 1e-6)}
            candidates.append((m, explains, affected))
        unexplained = set(wrong)
        while candidates:
            m, explains, affected = max(candidates, key=lambda c: len(c[1] & unexplained))
            if not explains & unexplained:
                break
            seen = sorted({g for g, _ in explains}, key=ex.grads.index)
            where = f" (seen in {_join(seen)})" if set(seen) < affected else ""
            self.hint(m.hint + where, seen)
            self.report.mistakes.append(m.name)
            unexplained -= explains
            candidates = [c for c in candidates if c[0] is not m]
        return unexplained

    def _whole_gradients(self, todo, ref):
        """Kinds of wrong that a whole gradient shows: shape, nan, zero, factor, transpose, a row."""
        ex = self.ex
        sizes = ex.sizes(self.inputs, self.static)
        batch = self.inputs[ex.wrt[0]].shape[0]
        factors, zeros, rows = [], [], {}
        for g in todo:
            a, r = self.learner[g], ref[g]
            if a.shape != r.shape:
                if a.ndim == 2 and a.shape == r.shape[::-1] and H.same(a.T, r):
                    self.hint(H.transposed_hint(g, ex.formulas[g]), [g])
                else:
                    self.hint(H.shape_hint(g, a.shape, r.shape, batch) + f"; {ex.formulas[g]}", [g])
                continue
            if H.is_zero(a) and not H.is_zero(r):
                zeros.append(g)
                continue
            e = rel_error(a, r)
            if e < 1e-4:
                if self.dtypes[g] == "float32":
                    self.hint(f"{g} is float32 and so misses the tolerance: keep the precision "
                              f"of the float64 inputs", [g])
                else:
                    self.hint(f"{g} is close (relative error {e:.1e}) but not within "
                              f"{TOLERANCE:.0e}: a small term is missing or a constant is slightly "
                              f"off; check {ex.formulas[g]}", [g])
                continue
            c = H.best_factor(a, r)
            if c is not None:
                factors.append((g, c))
                continue
            if a.ndim == 2 and a.shape[0] == a.shape[1] and H.same(a, r.T):
                self.hint(H.transposed_hint(g, ex.formulas[g]), [g])
                continue
            row = self._single_row(g, a, ref)
            if row is not None:
                rows.setdefault(row, []).append(g)
        if zeros:
            self.hint(f"{_join(zeros)} {_is(zeros)} all zeros: "
                      + "; ".join(ex.formulas[g] for g in zeros), zeros)
        while factors:
            c = factors[0][1]
            group = [g for g, c2 in factors if abs(c2 - c) <= 1e-6 * abs(c)]
            factors = [(g, c2) for g, c2 in factors if g not in group]
            self.hint(H.factor_hint(group, c, sizes, self._factor_where(group)), group)
        for row, group in rows.items():
            self.hint(H.row_hint(group, row, "; ".join(ex.formulas[g] for g in group)), group)

    def _factor_where(self, group):
        """Where a factor common to ``group`` can come from, as the text after "Check" (or a
        sentence starting "--"): the term the gradients share only if it is not known to be right."""
        ex = self.ex
        formulas = self._formulas(group)
        if len(group) == 1:
            return formulas
        for p in ex.preacts:
            if not set(group) <= set(p.products):
                continue
            right = [w for w in p.witnesses if w not in group and self.passed.get(w, False)]
            if right:  # the shared term is right: the factor enters after it
                after = f": {p.after}" if p.after else ""
                return (f"-- {_join(right)} {_is(right)} right, so your {p.name} is right and the "
                        f"factor comes after it{after}. Check {formulas}")
            return f"where these gradients share a term, {p.name}; and {formulas}"
        return formulas

    def _formulas(self, group):
        """The formulas of ``group``, joined; "dbx and dbh are each X" where they read the same."""
        ex = self.ex
        rests = {ex.formulas[g].partition(" = ")[2] if ex.formulas[g].startswith(g + " = ") else None
                 for g in group}
        if len(group) > 1 and len(rests) == 1 and None not in rests:
            return f"{_join(group)}: each is {rests.pop()}"
        return "; ".join(ex.formulas[g] for g in group)

    def _single_row(self, g, a, ref):
        """The batch row b whose contribution alone ``a`` equals, if any (overwritten, not summed)."""
        k = self.ex.grads.index(g)
        n = self.inputs[self.ex.wrt[0]].shape[0]
        arrays = self.dout if isinstance(self.dout, tuple) else (self.dout,)
        if any(d.ndim == 0 for d in arrays):
            return None
        for b in range(n):
            dout = _only(self.dout, lambda _, d, b=b: B.host.where(
                (B.host.arange(d.shape[0]) == b).reshape((-1,) + (1,) * (d.ndim - 1)), d, 0.0))
            part = self.ref(dout)[k]
            if H.same(a, part) and not H.same(part, ref[g], 1e-6):
                return b
        return None

    def _upstream_paths(self, todo, ref):
        """For a forward with several outputs: which upstream gradient's part of a gradient is wrong."""
        ex = self.ex
        if not ex.upstream or not todo:
            return
        parts_ref, parts_mine = [], []
        for k in range(len(ex.upstream)):
            dout = _only(self.dout, lambda j, d, k=k: d if j == k else B.host.zeros_like(d))
            raw, problem = self.call(dout, self.cache)
            if problem is not None:
                return
            parts_ref.append(dict(zip(ex.grads, self.ref(dout))))
            parts_mine.append({g: _host64(v) for g, v in zip(ex.grads, raw)})
        ignored, mixed = {}, {}
        for g in todo:
            mine = [p[g] for p in parts_mine]
            if any(m is None or m.shape != ref[g].shape for m in mine):
                continue
            if not H.same(sum(mine), self.learner[g], 1e-8):
                continue  # not linear in dout: the split below would mean nothing
            zero = [u for u, m, r in zip(ex.upstream, mine, parts_ref)
                    if H.is_zero(m) and not H.is_zero(r[g])]
            if zero:
                ignored.setdefault(tuple(zero), []).append(g)
                continue
            right = [u for u, m, r in zip(ex.upstream, mine, parts_ref)
                     if rel_error(m, r[g]) <= TOLERANCE]
            if right:
                bad = tuple(u for u in ex.upstream if u not in right)
                mixed.setdefault((bad, tuple(right)), []).append(g)
        for parts, group in ignored.items():
            for part in parts:
                self.hint(H.ignored_hint(group, part, ex.paths), group)
        for (bad, right), group in mixed.items():
            self.hint(H.path_hint(group, list(bad), list(right), ex.paths), group)

    def _padding(self, todo):
        ex = self.ex
        if ex.padded is None:
            return
        masks = ex.padded(self.inputs, self.static)
        bad = [g for g in todo if g in masks and (self.learner[g][masks[g]] != 0).any()]
        if bad:
            self.hint(f"{_join(bad)} {_is(bad)} nonzero at padded "
                      f"positions: {ex.padded_note}", bad)

    def _gates(self, unexplained, todo):
        """Name the gate row blocks that are wrong, where the pre-activation gradient is to blame."""
        ex = self.ex
        if not ex.gates:
            return
        per_gate = {}
        for g, gate in sorted(unexplained, key=lambda u: (self.ex.grads.index(u[0]), str(u[1]))):
            if gate is None or self._witnessed(g):
                continue
            per_gate.setdefault(gate, []).append(g)
        if not per_gate:
            return
        grads = sorted({g for gs in per_gate.values() for g in gs}, key=ex.grads.index)
        pattern = ex.gate_patterns.get(frozenset(per_gate))
        if pattern is not None:
            self.hint(f"{pattern} (wrong in {_join(grads)})", grads)
        else:
            h = self.expected[grads[0]][0] // len(ex.gates)
            for k, gate in enumerate(ex.gates):
                if gate in per_gate:
                    rows = f"rows {_ROWS[k]}:{_ROWS[k + 1]} = {k * h}:{(k + 1) * h}"
                    self.hint(H.gate_hint(gate, ex.gate_names[gate], rows, per_gate[gate],
                                          ex.gate_formulas[gate]), per_gate[gate])
        self._made_from(grads, todo)

    def _made_from(self, grads, todo):
        """The other gradients made from the same pre-activation gradient follow from its blocks."""
        for p in self.ex.preacts:
            if any(g in p.products for g in grads):
                rest = [g for g in p.products if g in todo and g not in self.covered]
                if rest:
                    self.hint(f"{_join(rest)} {_is(rest)} made from "
                              f"{p.name}, so {'it is' if len(rest) == 1 else 'they are'} wrong "
                              f"for the same reason", rest)

    def _zero_blocks(self, unexplained, todo, ref):
        """Gate blocks that are exactly zero where the right ones are not: a block of the stacked
        pre-activation gradient never filled in. Returns the (gradient, gate) blocks explained."""
        ex = self.ex
        per_gate = {}
        for g, gate in unexplained:
            if gate is None or g not in todo:
                continue
            if H.is_zero(self.learner[g]):
                continue  # all zeros: the whole-gradient hint says so
            a, r = self.units(g, self.learner[g])[gate], self.units(g, ref[g])[gate]
            if H.is_zero(a) and not H.is_zero(r):
                per_gate.setdefault(gate, []).append(g)
        if not per_gate:
            return set()
        h = self.expected[ex.gated[0]][0] // len(ex.gates)
        grads = set()
        for k, gate in enumerate(ex.gates):
            if gate not in per_gate:
                continue
            names = sorted(per_gate[gate], key=ex.grads.index)
            grads.update(names)
            rows = f"rows {_ROWS[k]}:{_ROWS[k + 1]} = {k * h}:{(k + 1) * h}"
            # the stacked pre-activation gradients these are made from: da, or dax and dah
            preact = _join([p.name.split()[0].rstrip(",") for p in ex.preacts
                            if any(g in p.products for g in names)])
            self.hint(f"the {gate} block of {preact} is zero: the {ex.gate_names[gate]} "
                      f"block ({rows}) of {_join(names)} is exactly 0 -- is that block of "
                      f"{preact} ever computed and stacked in (left at np.zeros, or "
                      f"multiplied by a 0)? Check {ex.gate_formulas[gate]}", names)
        self._made_from(sorted(grads, key=ex.grads.index), todo)
        return {(g, gate) for gate, gs in per_gate.items() for g in gs}

    def _zero_steps(self, todo, ref):
        """Whole time slices (axis 1 of a (B, T, ...) gradient) that are exactly zero where the
        right ones are not: steps the loop never reaches."""
        ex = self.ex
        for g in todo:
            index = ex.steps.get(g)
            a, r = self.learner[g], ref[g]
            if index is None or g in self.covered or a.shape != r.shape or a.ndim < 3:
                continue
            T = a.shape[1]
            zero = [t for t in range(T) if H.is_zero(a[:, t]) and not H.is_zero(r[:, t])]
            if not zero or len(zero) == T:
                continue  # all zeros: the whole-gradient hint says so
            where = (f"{g}[:, {zero[0]}] is zero where the right gradient is not" if len(zero) == 1
                     else f"{g}[:, {index}] is zero for {index} = {', '.join(map(str, zero))}")
            others = [o for o in todo if o != g and o not in self.covered]
            also = (f"; {_join(others)} then miss{'es' if len(others) == 1 else ''} "
                    f"{'that step' if len(zero) == 1 else 'those steps'} too") if others else ""
            if zero == [0] and "first" in ex.step_notes:
                self.hint(f"{g}[:, 0] is zero: {ex.step_notes['first']}{also}", [g] + others)
            elif zero == [T - 1] and "last" in ex.step_notes:
                self.hint(f"{g}[:, {T - 1}] is zero: {ex.step_notes['last']}{also}", [g] + others)
            else:
                self.hint(f"{where}: check that your loop visits every {index} = 0 .. {T - 1}; "
                          f"{ex.formulas[g]}", [g])

    def _witnessed(self, g):
        """True if a gradient that reveals g's pre-activation gradient is right (the error is
        then in g's own product, not in a gate)."""
        return any(g in p.products and any(self.passed.get(w, False) for w in p.witnesses if w != g)
                   for p in self.ex.preacts)

    def _preacts(self, todo):
        ex = self.ex
        for p in ex.preacts:
            right = [w for w in p.witnesses if self.passed.get(w, False)]
            bad = [g for g in p.products if g in todo and g not in right and g not in self.covered]
            if right and bad:
                self.hint(f"{_join(right)} {_is(right)} right, so your "
                          f"{p.name} is right: the mistake comes after it, in "
                          f"{'; '.join(ex.formulas[g] for g in bad)}", bad)
            elif not right and len(bad) > 1 and all(w in todo for w in p.witnesses):
                self.hint(f"{_join(bad)} are all wrong, and they are all made from {p.name}: "
                          f"look there first", bad)
