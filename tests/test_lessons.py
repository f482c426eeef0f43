"""Every lesson notebook is its percent-format script converted by jupytext, and is committed clean.

A lesson's source is ``lessons/NN_name.py`` (``# %%`` cells); ``NN_name.ipynb`` beside it is
generated from it (``jupytext --update --to ipynb lessons/NN_name.py``). The sync check means a
notebook shows exactly what its script holds; no outputs means a learner runs every cell
themselves and a diff shows only what changed in the lesson. The exercise stub cells are
written out in the scripts, so a test compares them with ``minis2s.exercises.stubs``.
"""

import inspect
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
REGENERATE = "jupytext --update --to ipynb lessons/{}"


def _code(script):
    return [c.source for c in jupytext.read(script).cells if c.cell_type == "code"]


def test_lessons_are_numbered_00_to_10_without_gaps():
    assert [nb.name[:2] for nb in NOTEBOOKS] == [f"{i:02d}" for i in range(11)]


def test_every_notebook_has_a_script_and_every_script_a_notebook():
    assert [p.stem for p in SCRIPTS] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_notebook_matches_its_script(notebook):
    script = notebook.with_suffix(".py")
    expected = [(c.cell_type, c.source) for c in jupytext.read(script).cells]
    committed = [(c.cell_type, c.source) for c in nbformat.read(notebook, as_version=4).cells]
    for i, (want, got) in enumerate(zip(expected, committed)):
        assert got == want, f"{notebook.name} cell {i} differs from {script.name}: run {REGENERATE.format(script.name)}"
    assert len(committed) == len(expected), f"{notebook.name}: run {REGENERATE.format(script.name)}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_committed_without_outputs(notebook):
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)  # among others: cell ids present and unique
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, notebook.name


def _exercises():
    from minis2s.exercises.specs import EXERCISES

    return list(EXERCISES.values())


@pytest.mark.parametrize("exercise", _exercises(), ids=lambda ex: ex.backward_name)
def test_exercise_cells_show_the_cache_then_hold_the_stub_as_in_the_package(exercise):
    """The cells that ``exercise(name, task)`` in the former generator wrote: the forward's
    named cache shown, the stub exactly as ``minis2s.exercises.stubs`` has it, then its check
    and the reference solution's."""
    from minis2s import backend as B

    (script,) = LESSONS.glob(f"{exercise.lesson}_*.py")
    code = _code(script)
    name = exercise.backward_name
    module = exercise.forward.__module__.rsplit(".", 1)[1]  # "lstm" for minis2s.functional.lstm
    inputs, static = exercise.make(B.rng(0))
    cache = type(exercise.forward(**inputs, **static)[1]).__name__
    stub = inspect.getsource(exercise.stub).rstrip("\n")

    show_cache = f"from minis2s.functional import {module}\n\nshow({module}.{cache})"
    stub_cell = f"{stub}\n\n\nreport = check({name})"
    assert show_cache in code, f"{script.name}: no cell `{show_cache}`"
    assert stub_cell in code, f"{script.name}: the stub cell of {name} differs from minis2s.exercises.stubs"
    assert code.index(show_cache) < code.index(stub_cell) < code.index(f"report = check(solutions.{name})")
    text = script.read_text()
    assert f"`{module}.{exercise.forward.__name__}`" in text and f"`{cache}`" in text, script.name
