"""Learning-rate schedules (lesson 07): they set ``optimizer.lr`` between optimizer steps.

The training loop calls ``optimizer.step(grads)`` and then ``schedule.step()`` once per step;
:class:`ReduceOnPlateau` instead takes ``schedule.step(metric)`` once per validation. With
``t`` the number of ``step()`` calls so far and ``lr0`` the optimizer's lr when the schedule
was made, the lr used by the next update is::

    StepLR          lr0 * gamma ** (t // step_size)                          (eq. 7.7)
    CosineLR        min_lr + (lr0 - min_lr) * (1 + cos(pi * t / total)) / 2,
                    then min_lr once t >= total                              (eq. 7.8)
    LinearWarmup    lr0 * (t + 1) / warmup  while t < warmup, then the
                    ``after`` schedule at t - warmup (or lr0)                (eq. 7.9)
    ReduceOnPlateau lr * factor (not below min_lr) after ``patience`` + 1
                    validations in a row without relative improvement       (eq. 7.10)
    InverseSqrtWarmup lr0 * min(s / warmup, sqrt(warmup / s)),  s = t + 1     (eq. 13.7)

The warm-up ramp starts at lr0 / warmup rather than at 0, so no update is wasted at lr = 0 and
the ``warmup``-th update is the first at the full rate (``torch.optim.lr_scheduler.LinearLR``
with ``start_factor=1/warmup, total_iters=warmup-1``). The closed forms make a schedule's
state just its step count, so it resumes exactly and ``state_dict()`` is plain JSON.
"""

from __future__ import annotations

import math

from . import backend as B
from .errors import CheckpointError

__all__ = ["Schedule", "StepLR", "CosineLR", "LinearWarmup", "ReduceOnPlateau", "InverseSqrtWarmup"]


class Schedule:
    """A closed-form schedule ``lr_at(t)``; making one sets the optimizer's lr for t = 0."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.t = 0

    def _start(self) -> None:
        self.optimizer.lr = self.lr_at(0)

    def lr_at(self, t: int) -> float:
        raise NotImplementedError

    @property
    def lr(self) -> float:
        return self.lr_at(self.t)

    def step(self) -> None:
        """Advance one training step and set the optimizer's lr for the next update."""
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)

    def state_dict(self) -> dict:
        return {"kind": type(self).__name__, "step": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        _check_kind(self, state)
        self.t = int(state["step"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.lr


def _check_kind(schedule, state: dict) -> None:
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind != type(schedule).__name__:
        raise CheckpointError(
            f"schedule state is for {kind!r}, not {type(schedule).__name__}; "
            "resume with the schedule settings the run was started with"
        )


def _positive_int(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class StepLR(Schedule):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (eq. 7.7)."""

    def __init__(self, optimizer, step_size: int, gamma: float):
        super().__init__(optimizer)
        self.step_size = _positive_int("step_size", step_size)
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0, got {gamma!r}")
        self.gamma = float(gamma)
        self._start()

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineLR(Schedule):
    """Half a cosine from the base lr down to ``min_lr`` over ``total_steps``, then flat (eq. 7.8).

    Unlike ``CosineAnnealingLR``, which climbs back up after ``T_max``, the lr stays at
    ``min_lr`` if training runs past ``total_steps``.
    """

    def __init__(self, optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        self.total_steps = _positive_int("total_steps", total_steps)
        if not 0 <= min_lr:
            raise ValueError(f"min_lr must be >= 0, got {min_lr!r}")
        self.min_lr = float(min_lr)
        self._start()

    def lr_at(self, t: int) -> float:
        if t >= self.total_steps:
            return self.min_lr
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * t / self.total_steps)) / 2


class InverseSqrtWarmup(Schedule):
    """The Transformer's schedule (Vaswani et al., 2017, eq. 3): a linear ramp over ``warmup``
    steps to the peak lr0, then decay as 1 / sqrt(step)                     (eq. 13.7)

        lr(s) = lr0 * min(s / warmup, sqrt(warmup / s)),   s = t + 1 (the paper counts from 1)

    The paper writes it d^-1/2 min(s^-1/2, s warmup^-3/2); that is this formula with
    lr0 = (d warmup)^-1/2 (7.0e-4 for d = 512, warmup = 4000), so here the peak is a flag of
    its own rather than a consequence of the model's width.
    """

    def __init__(self, optimizer, warmup_steps: int):
        super().__init__(optimizer)
        self.warmup_steps = _positive_int("warmup_steps", warmup_steps)
        self._start()

    def lr_at(self, t: int) -> float:
        s = t + 1
        return self.base_lr * min(s / self.warmup_steps, math.sqrt(self.warmup_steps / s))  # eq. 13.7


class LinearWarmup(Schedule):
    """Ramp the lr linearly up to the base lr over ``warmup_steps``, then hand over (eq. 7.9).

    ``after`` (made first, on the same optimizer) runs from its own step 0 once warm-up ends.
    A :class:`ReduceOnPlateau` ``after`` keeps taking ``after.step(metric)`` from the caller;
    past the warm-up this schedule's ``step()`` leaves the lr to it.
    """

    def __init__(self, optimizer, warmup_steps: int, after: Schedule | None = None):
        super().__init__(optimizer)
        if not isinstance(warmup_steps, int) or isinstance(warmup_steps, bool) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {warmup_steps!r}")
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("after must be a schedule of the same optimizer")
        self.warmup_steps = warmup_steps
        self.after = after
        if isinstance(after, ReduceOnPlateau):
            after._leader = self  # its step(metric) must not cut the ramp short
        self._start()

    def lr_at(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.base_lr * (t + 1) / self.warmup_steps
        if self.after is None:
            return self.base_lr
        if isinstance(self.after, ReduceOnPlateau):
            return self.after.lr
        return self.after.lr_at(t - self.warmup_steps)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        _check_kind(self, state)
        if (state.get("after") is None) != (self.after is None):
            raise CheckpointError(
                "schedule state and this LinearWarmup disagree on whether a schedule follows the "
                "warm-up; resume with the schedule settings the run was started with"
            )
        if self.after is not None:
            self.after.load_state_dict(state["after"])
        super().load_state_dict(state)


class ReduceOnPlateau(Schedule):
    """Cut the lr by ``factor`` when the validation metric stops improving (eq. 7.10).

    ``step(metric)`` once per validation. An improvement means ``metric < best * (1 -
    threshold)`` in ``"min"`` mode (``> best * (1 + threshold)`` in ``"max"``); after more
    than ``patience`` validations without one, ``lr <- max(lr * factor, min_lr)``. Matches
    ``torch.optim.lr_scheduler.ReduceLROnPlateau`` (relative threshold, no cooldown). The lr
    it keeps is its own ``lr`` attribute, so a warm-up in front of it is neither mistaken for
    a reduction nor overridden by one.
    """

    _EPS = 1e-8  # smaller cuts are skipped, as in torch

    def __init__(self, optimizer, factor: float = 0.5, patience: int = 2, mode: str = "min",
                 threshold: float = 1e-4, min_lr: float = 0.0):
        super().__init__(optimizer)
        if not 0 < factor < 1:
            raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an integer >= 0, got {patience!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if not threshold >= 0 or not min_lr >= 0:
            raise ValueError(f"threshold and min_lr must be >= 0, got {threshold!r}, {min_lr!r}")
        self.factor, self.patience, self.mode = float(factor), patience, mode
        self.threshold, self.min_lr = float(threshold), float(min_lr)
        self._lr = self.base_lr
        self.best = None  # no validation yet: anything finite improves on it
        self.bad_steps = 0
        self._leader = None  # a LinearWarmup in front of this schedule

    @property
    def lr(self) -> float:
        return self._lr

    def lr_at(self, t: int) -> float:
        return self._lr

    def _improves(self, metric: float) -> bool:
        if self.mode == "min":
            best = math.inf if self.best is None else self.best
            return metric < best * (1.0 - self.threshold)
        best = -math.inf if self.best is None else self.best
        return metric > best * (1.0 + self.threshold)

    def step(self, metric) -> None:
        """Record one validation ``metric`` (a number; a 0-d array is read back explicitly)."""
        metric = B.to_float(metric)
        self.t += 1
        if self._improves(metric):
            self.best, self.bad_steps = metric, 0
        else:
            self.bad_steps += 1
        if self.bad_steps > self.patience:
            new_lr = max(self._lr * self.factor, self.min_lr)
            if self._lr - new_lr > self._EPS:
                self._lr = new_lr
            self.bad_steps = 0
        self.optimizer.lr = self._lr if self._leader is None else self._leader.lr

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.update(lr=self._lr, best=self.best, bad_steps=self.bad_steps)
        return state

    def load_state_dict(self, state: dict) -> None:
        _check_kind(self, state)
        self._lr = float(state["lr"])
        self.best = None if state["best"] is None else float(state["best"])
        self.bad_steps = int(state["bad_steps"])
        super().load_state_dict(state)
