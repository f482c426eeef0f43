"""Gradient-check exercises: write a backward pass, and the grader says where it is wrong.

In a lesson notebook::

    from minis2s.exercises import check, stub
    print(inspect.getsource(stub("lstm_step")))   # the stub to copy into a cell

    def lstm_step_backward(dout, cache):
        ...

    check(lstm_step_backward)                     # exercise read from the function's name

The verdict is the library's gradient check (:mod:`minis2s.gradcheck`) against the library's
own forward (``minis2s.functional``), whose cache is a ``NamedTuple`` with the lesson's symbols
as fields (``cache.x``, ``cache.f``, ``cache.c_prev``); each stub documents them. When a
gradient is wrong the report says which, and where: the gate block, the missing tanh', the
transposed weight, the unmasked padding -- see :mod:`.grader` and :mod:`.mistakes`.

Forward passes and algorithms (a numerical gradient, greedy decoding, an Adam step, beam
search, BLEU) are exercises of a second kind, **checked by their output**: ``check`` runs the
learner's function and the library's on the same seeded inputs and compares what they return
-- see :mod:`.outputs`, :mod:`.output_grader` and :mod:`.output_mistakes`. ``check`` tells the
kinds apart by the function's name, as before.
"""

from __future__ import annotations

from typing import Callable

from . import stubs
from .grader import GradResult, Report, check
from .specs import EXERCISES, find

__all__ = ["check", "list_exercises", "stub", "solution", "forward", "Report", "GradResult", "stubs"]


def list_exercises() -> list[str]:
    """The exercise names, in lesson order: affine, softmax_cross_entropy, rnn_step, ..."""
    return list(EXERCISES)


def stub(name: str) -> Callable:
    """The stub a learner starts from, e.g. ``stub("lstm_step")`` is ``stubs.lstm_step_backward``."""
    return find(name).stub


def solution(name: str) -> Callable:
    """The reference solution of an exercise (for instructors, or after the exercise)."""
    return find(name).solution


def forward(name: str) -> Callable:
    """The library forward the exercise grades against; it returns the named cache the backward
    receives (``forward("lstm_step")`` is ``minis2s.functional.lstm.lstm_step_forward``)."""
    return find(name).forward
