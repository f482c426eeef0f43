"""Cell builders shared by the lesson sources in this folder.

A lesson source is a Python module defining ``FILENAME`` (the notebook's name in ``lessons/``)
and ``CELLS``, a list of cells made with :func:`md` and :func:`code`. Write Markdown and code
flush left inside triple-quoted strings; the common indentation is removed.
"""

from __future__ import annotations

import textwrap


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> dict:
    """A Markdown cell. Display equations: ``$$ ... \\tag{4.3} $$`` with the library's numbers."""
    return {"cell_type": "markdown", "source": _clean(text)}


def code(text: str) -> dict:
    """A code cell (written without outputs)."""
    return {"cell_type": "code", "source": _clean(text)}


SETUP = code(
    '''
    import inspect
    import os
    import sys

    try:
        import minis2s
    except ImportError:  # a checkout without `pip install -e .`: use the package beside lessons/
        sys.path.insert(0, os.path.abspath(".."))
        import minis2s

    import matplotlib.pyplot as plt
    import numpy as np
    from IPython.display import Markdown, display

    FAST = os.environ.get("MINIS2S_FAST", "") not in ("", "0")  # smaller sizes, same lessons


    def show(*objects):
        """Display the library's own source: what you read here is exactly what runs."""
        for obj in objects:
            display(Markdown(f"```python\\n{inspect.getsource(obj)}```"))
    '''
)
"""The first code cell of every lesson: imports, ``FAST`` and ``show``."""


EXERCISE_IMPORTS = code(
    """
    from minis2s.exercises import check, solutions, stubs
    """
)
"""Imports for a lesson with exercises: ``check``, the ``stubs`` you fill in, the reference
``solutions``."""


def exercise(name: str, task: str) -> list[dict]:
    """The cells of one graded exercise on ``minis2s.exercises.stubs.<name>``.

    The first cell shows the cache the library's forward hands the backward (a ``NamedTuple``
    of ``minis2s.functional``). The stub cell holds the stub's source as it is in the package
    when the notebooks are built (``make_lessons.py --check`` notices when the package changes
    it), followed by ``check``, which reports "not implemented yet" without raising until the
    learner fills it in. The last cell grades the reference solution, so the notebook runs top
    to bottom.
    """
    import inspect

    from minis2s import backend as B
    from minis2s.exercises import stubs
    from minis2s.exercises.specs import find

    ex = find(name)
    stub = inspect.getsource(getattr(stubs, name)).rstrip("\n")
    module = ex.forward.__module__.rsplit(".", 1)[1]  # "lstm" for minis2s.functional.lstm
    inputs, static = ex.make(B.rng(0))
    cache = type(ex.forward(**inputs, **static)[1]).__name__
    intro = (
        f"### Exercise: `{name}`\n\n{inspect.cleandoc(task)}\n\n"
        f"The grader runs the library's own forward, `{module}.{ex.forward.__name__}`. Its cache "
        f"is a `NamedTuple` whose fields are the lesson's symbols, so you read `cache.x` rather "
        f"than unpacking a tuple. Here is `{cache}`; the stub below lists its fields with their shapes:"
    )
    how = (
        "The cell below holds the stub from `minis2s.exercises.stubs`. Replace the "
        "`raise NotImplementedError(...)` with your code and run the cell: `check` grades your "
        "function with the gradient checker of lesson 01 and, if a gradient is wrong, says which "
        "one and why. Until you fill it in, it reports that the exercise is not implemented yet. "
        "(`check` prints its report and returns it: `report.passed` is True once you are done.)"
    )
    return [
        md(intro),
        code(f"from minis2s.functional import {module}\n\nshow({module}.{cache})"),
        md(how),
        code(f"{stub}\n\n\nreport = check({name})"),
        md("The reference solution, graded the same way — this is what a pass looks like:"),
        code(f"report = check(solutions.{name})"),
    ]


ONE_BLAS_THREAD = code(
    """
    import os

    # Lessons 06-10 train models on the CPU. Their matrices are small, so BLAS worker threads
    # barely speed them up; on a busy machine (other jobs, `pytest -n 2`) threads that wait for
    # a core slow every product down many times over -- lesson 10 measures it. This must run
    # before NumPy is imported; export OPENBLAS_NUM_THREADS yourself to choose another number.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    """
)
"""The first code cell of the lessons that train (06-10), before ``SETUP``: one BLAS thread."""
