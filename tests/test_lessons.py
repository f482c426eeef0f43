"""Every lesson notebook is exactly what ``lessons/_build`` generates, and is committed clean.

The generator check means the exercise stubs in a notebook are those of
``minis2s.exercises.stubs``; no outputs means a learner runs every cell themselves and a diff
shows only what changed in the lesson.
"""

import pathlib
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


def test_lessons_are_numbered_00_to_10_without_gaps():
    assert [nb.name[:2] for nb in NOTEBOOKS] == [f"{i:02d}" for i in range(11)]


def test_notebooks_match_their_sources():
    run = subprocess.run([sys.executable, str(LESSONS / "_build" / "make_lessons.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_committed_without_outputs(notebook):
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, notebook.name
