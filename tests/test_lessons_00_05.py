"""Lessons 00-05 stay in step with the library they teach.

Running the notebooks is CI's ``pytest --nbmake lessons`` (and ``test_lessons.py`` checks that
they are what their scripts ``lessons/NN_name.py`` hold); these tests read the scripts and check,
in a second, what a run cannot:
that every equation the covered modules cite is derived under the same number, and that every
backward function of those modules appears in a lesson.
"""

import importlib
import pathlib
import re

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
SCRIPTS = sorted(LESSONS.glob("0[0-5]_*.py"))
# modules whose equations (chapters 1-5) and backward functions lessons 00-05 cover
COVERED = ["gradcheck", "functional.linear", "functional.activations", "functional.losses",
           "functional.rnn", "functional.lstm", "functional.gru", "functional.clip"]
TAG = re.compile(r"\\tag\{(\d+\.\d+)\}")
CITED = re.compile(r"eq\. ([1-5]\.\d+)")


def _cells():
    return {script.name: jupytext.read(script).cells for script in SCRIPTS}


def test_every_cited_equation_is_derived_once_under_its_number():
    tags = {}
    for name, cells in _cells().items():
        for cell in cells:
            if cell.cell_type == "markdown":
                for number in TAG.findall(cell.source):
                    tags.setdefault(number, []).append(name)
    duplicated = {n: where for n, where in tags.items() if len(where) > 1}
    assert not duplicated, f"equation numbers tagged more than once: {duplicated}"
    cited = set()
    for module in COVERED:
        source = (ROOT / "minis2s" / (module.replace(".", "/") + ".py")).read_text()
        cited |= set(CITED.findall(source))
    missing = sorted(cited - set(tags), key=lambda n: tuple(map(int, n.split("."))))
    assert not missing, f"equations the library cites but no lesson derives: {missing}"
    for number, (name,) in tags.items():
        assert name.startswith(number.split(".")[0].zfill(2)), f"eq. {number} is derived in {name}"


def test_every_backward_of_the_covered_modules_appears_in_a_lesson():
    text = "\n".join(cell.source for cells in _cells().values() for cell in cells)
    for module in COVERED[1:]:
        mod = importlib.import_module(f"minis2s.{module}")
        for fn in (n for n in vars(mod) if n.endswith("_backward") and not n.startswith("_")):
            if getattr(mod, fn).__module__ == mod.__name__:
                assert fn in text, f"{module}.{fn} is not shown in lessons 00-05"


EXERCISES = ("affine_backward", "softmax_cross_entropy_backward", "rnn_step_backward", "rnn_backward",
             "lstm_step_backward", "gru_step_backward")


def test_exercise_cells_hold_the_stubs_then_grade_the_solutions():
    sources = "\n".join(c.source for cells in _cells().values() for c in cells if c.cell_type == "code")
    for name in EXERCISES:
        assert f"def {name}(" in sources and f"\nreport = check({name})" in sources
        assert f"report = check(solutions.{name})" in sources


@pytest.mark.parametrize("name", EXERCISES)
def test_grading_a_stub_reports_instead_of_raising_and_the_solution_passes(name):
    from minis2s.exercises import check, solutions, stubs

    stub_report = check(getattr(stubs, name), verbose=False)
    assert not stub_report.passed and "not implemented yet" in stub_report.error
    assert check(getattr(solutions, name), verbose=False).passed
