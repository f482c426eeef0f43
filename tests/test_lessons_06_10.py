"""Lessons 06-10 stay in step with the library they teach.

Running the notebooks is CI's ``pytest --nbmake lessons`` (and ``test_lessons.py`` checks that
they are what their scripts ``lessons/NN_name.py`` hold); these tests read the scripts and check
what a run cannot: that the
lessons that train limit BLAS threads before NumPy loads, that every equation the covered
modules cite (chapters 6-10, ranges included) is derived once under its number in its own
lesson, that every backward function of the covered modules is shown, that the
additive-attention exercise is in place and grades as it should, and that lesson 09 runs to the
end without the Multi30k data.
"""

import importlib
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
NUMBERS = ("06", "07", "08", "09", "10")
SCRIPTS = sorted(p for p in LESSONS.glob("[01][0-9]_*.py") if p.name[:2] in NUMBERS)
ALL_SCRIPTS = sorted(LESSONS.glob("[01][0-9]_*.py"))
ALL_NOTEBOOKS = sorted(LESSONS.glob("[01][0-9]_*.ipynb"))
# modules whose equations (chapters 6-10) lessons 06-10 derive
COVERED = ["optim", "schedules", "functional.dropout", "functional.attention", "functional.bidirectional",
           "nn.attention", "nn.decoder", "nn.encoder", "models.seq2seq", "train", "decode", "metrics",
           "exercises.stubs", "exercises.solutions.additive_attention"]
# modules whose public backward functions must be shown, with the name the lessons import them as
BACKWARDS = {"functional.dropout": "dropout", "functional.attention": "Fatt", "functional.bidirectional": "bi",
             "nn.attention": "attn", "nn.decoder": "decoder", "nn.encoder": "encoder"}
TAG = re.compile(r"\\tag\{(\d+\.\d+)\}")
CITED = re.compile(r"eq\. (\d+)\.(\d+)(?:\s*-\s*(\d+)\.(\d+))?")


def _cells(scripts=SCRIPTS):
    return {script.name: jupytext.read(script).cells for script in scripts}


def _code(name):
    return [c.source for c in _cells()[name] if c.cell_type == "code"]


def _cited(text):
    """Equation numbers cited as ``eq. 7.6`` or ``eq. 7.6-7.8`` (ranges expanded), chapters 6-10."""
    numbers = set()
    for chapter, first, chapter2, last in CITED.findall(text):
        if not 6 <= int(chapter) <= 10:
            continue
        end = int(last) if chapter2 == chapter else int(first)
        numbers |= {f"{chapter}.{n}" for n in range(int(first), end + 1)}
    return numbers


@pytest.mark.parametrize("name", [script.name for script in SCRIPTS])
def test_one_blas_thread_is_set_before_numpy_is_imported(name):
    first, second = _code(name)[:2]
    assert 'os.environ.setdefault(variable, "1")' in first and "OPENBLAS_NUM_THREADS" in first
    assert "import numpy" not in first and "minis2s" not in first.replace("MINIS2S", "")
    assert "import numpy as np" in second and "from course import " in second  # the set-up cell


def test_equation_numbers_are_tagged_once_in_the_whole_course():
    tags = {}
    for name, cells in _cells(ALL_SCRIPTS).items():
        for cell in cells:
            if cell.cell_type == "markdown":
                for number in TAG.findall(cell.source):
                    tags.setdefault(number, []).append(name)
    duplicated = {n: where for n, where in tags.items() if len(where) > 1}
    assert not duplicated, f"equation numbers tagged more than once: {duplicated}"
    for number, (name,) in tags.items():
        assert name.startswith(number.split(".")[0].zfill(2)), f"eq. {number} is derived in {name}"


def test_every_cited_equation_is_derived_in_its_lesson():
    tags = {}
    for name, cells in _cells().items():
        for cell in cells:
            if cell.cell_type == "markdown":
                for number in TAG.findall(cell.source):
                    tags[number] = name
    cited = set()
    for module in COVERED:
        cited |= _cited((ROOT / "minis2s" / (module.replace(".", "/") + ".py")).read_text())
    assert {"6.1", "6.21", "7.7", "8.4", "9.8", "9.12"} <= cited  # the ranges were expanded
    missing = sorted(cited - set(tags), key=lambda n: tuple(map(int, n.split("."))))
    assert not missing, f"equations the library cites but no lesson derives: {missing}"


def test_every_backward_of_the_covered_modules_is_shown():
    text = "\n".join(source for script in SCRIPTS for source in _code(script.name))
    for module, alias in BACKWARDS.items():
        mod = importlib.import_module(f"minis2s.{module}")
        names = [n for n in vars(mod) if n.endswith("_backward") and not n.startswith("_")
                 and getattr(mod, n).__module__ == mod.__name__]
        assert names, module
        for fn in names:
            assert f"{alias}.{fn}" in text, f"{module}.{fn} is not shown in lessons 06-10"


def test_readme_lists_every_lesson():
    readme = (LESSONS / "README.md").read_text()
    for nb in ALL_NOTEBOOKS:
        assert f"]({nb.name})" in readme, nb.name


def test_links_between_lessons_resolve():
    for name, cells in _cells().items():
        for cell in cells:
            for target in re.findall(r"\]\(([0-9]{2}_[a-z0-9_]+\.ipynb)\)", cell.source):
                assert (LESSONS / target).is_file(), f"{name} links to missing {target}"


def test_additive_attention_exercise_cells_hold_the_stub_then_grade_the_solution():
    import inspect

    from minis2s.exercises import stubs

    sources = _code("07_attention.py")
    stub = inspect.getsource(stubs.additive_attention_backward).rstrip("\n")
    assert f"{stub}\n\n\nreport = check(additive_attention_backward)" in sources
    assert "report = check(solutions.additive_attention_backward)" in sources
    assert "from minis2s.functional import attention\n\nshow(attention.AdditiveAttentionCache)" in sources
    assert sources.index(f"{stub}\n\n\nreport = check(additive_attention_backward)") < sources.index(
        "report = check(solutions.additive_attention_backward)")


def test_additive_attention_stub_reports_not_implemented_and_the_solution_passes():
    from minis2s.exercises import check, solutions, stubs

    stub_report = check(stubs.additive_attention_backward, verbose=False)
    assert not stub_report.passed and "not implemented yet" in stub_report.error
    assert check(solutions.additive_attention_backward, verbose=False).passed


def test_translation_lesson_without_data_says_how_to_get_it_and_runs_to_the_end(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MINIS2S_DATA", str(tmp_path))  # an empty directory: no corpus
    monkeypatch.setenv("MINIS2S_FAST", "1")
    nb = nbformat.read(LESSONS / "09_translation.ipynb", as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(LESSONS)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "python -m minis2s data multi30k" in text
    assert "skipped: this cell needs Multi30k" in text
    assert "BLEU = " in text  # the cells that need no corpus still ran
