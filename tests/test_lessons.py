"""The lessons stay in step with the library they teach.

A lesson's source is the percent-format script ``lessons/NN_name.py``; the notebook beside it is
generated from it (``jupytext --update --to ipynb lessons/NN_name.py``). Running the notebooks is
CI's ``pytest --nbmake lessons``; these tests check, in a few seconds, what a run cannot: that
every notebook is what its script holds and is committed without outputs, that every equation
the library cites is derived once under its number in its own lesson, that each lesson numbers
its equations N.1, N.2, ... in order, that every numbered equation is cited by the library or
marked as not implemented, that every backward function is shown, that each exercise's cells
hold the stub and then grade the solution (the grader itself is tested in ``tests/exercises/``), that the lessons
that train limit BLAS threads before NumPy loads, that lesson 10 runs to the end without
the Multi30k data, and that every lesson asks numbered written questions (``**Q6.2.**``) just
before its summary, each answered in its lesson's section of ``lessons/answers.md``, linked.
"""

import importlib
import inspect
import pathlib
import re

import pytest

nbformat = pytest.importorskip("nbformat")
jupytext = pytest.importorskip("jupytext")

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
SCRIPTS = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
REGENERATE = "jupytext --update --to ipynb lessons/{}"
# modules whose public backward functions a lesson must show, and the name it imports them as
# (None: the lesson calls them by their bare name)
BACKWARDS = {"functional.linear": None, "functional.activations": None, "functional.losses": None,
             "functional.rnn": None, "functional.lstm": None, "functional.gru": None,
             "functional.dropout": "dropout", "functional.attention": "Fatt", "functional.bidirectional": "bi",
             "functional.bridge": "bridge",
             "nn.attention": "attn", "nn.decoder": "decoder", "nn.encoder": "encoder",
             "functional.multihead": "multihead", "functional.layernorm": "layernorm",
             "functional.transformer": "transformer", "functional.positional": "positional"}

# the lessons that train, and so set one BLAS thread before NumPy loads
TRAINING = ("06", "07", "08", "09", "10", "11", "13", "14", "15")
TAG = re.compile(r"\\tag\{(\d+\.\d+)\}")
CITED = re.compile(r"eq\. (\d+)\.(\d+)(?:\s*-\s*(\d+)\.(\d+))?")
DISPLAY = re.compile(r"\$\$(.*?)\$\$", re.DOTALL)
# what a displayed equation that no library code implements says beside its tag
NOT_IMPLEMENTED = r"\text{(not implemented in code)}"


def _cells():
    return {nb.name: nbformat.read(nb, as_version=4).cells for nb in NOTEBOOKS}


def _code(cells):
    return [c.source for c in cells if c.cell_type == "code"]


def _cited(text):
    """Equation numbers cited as ``eq. 8.6`` or ``eq. 8.6-8.8`` (ranges expanded)."""
    numbers = set()
    for chapter, first, chapter2, last in CITED.findall(text):
        end = int(last) if chapter2 == chapter else int(first)
        numbers |= {f"{chapter}.{n}" for n in range(int(first), end + 1)}
    return numbers


# --------------------------------------------------------------------------- the notebooks


def test_lessons_are_numbered_00_to_15_without_gaps():
    assert [nb.name[:2] for nb in NOTEBOOKS] == [f"{i:02d}" for i in range(16)]


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


def test_readme_lists_every_lesson():
    readme = (LESSONS / "README.md").read_text()
    for nb in NOTEBOOKS:
        assert f"]({nb.name})" in readme, nb.name


def test_links_between_lessons_resolve():
    for name, cells in _cells().items():
        for cell in cells:
            for target in re.findall(r"\]\(([0-9]{2}_[a-z0-9_]+\.ipynb)\)", cell.source):
                assert (LESSONS / target).is_file(), f"{name} links to missing {target}"


@pytest.mark.parametrize("name", [nb.name for nb in NOTEBOOKS if nb.name[:2] in TRAINING])
def test_one_blas_thread_is_set_before_numpy_is_imported(name):
    first, second = _code(_cells()[name])[:2]
    assert 'os.environ.setdefault(variable, "1")' in first and "OPENBLAS_NUM_THREADS" in first
    assert "import numpy" not in first and "minis2s" not in first.replace("MINIS2S", "")
    assert "import numpy as np" in second and "from course import " in second  # the set-up cell


# --------------------------------------------------------------------------- equations and code


def test_equation_numbers_are_tagged_once_in_the_whole_course_in_their_own_lesson():
    tags = {}
    for name, cells in _cells().items():
        for cell in cells:
            if cell.cell_type == "markdown":
                for number in TAG.findall(cell.source):
                    tags.setdefault(number, []).append(name)
    duplicated = {n: where for n, where in tags.items() if len(where) > 1}
    assert not duplicated, f"equation numbers tagged more than once: {duplicated}"
    for number, (name,) in tags.items():
        assert name.startswith(number.split(".")[0].zfill(2)), f"eq. {number} is derived in {name}"


def _library_citations():
    """Every equation number some module of the package cites (``eq. N.M``, ranges expanded)."""
    return set().union(*(_cited(path.read_text()) for path in sorted((ROOT / "minis2s").rglob("*.py"))))


def _displays():
    """{notebook: [(numbers tagged in one $$ display, whether it says it is not implemented)]}, in order."""
    displays = {}
    for name, cells in _cells().items():
        for cell in cells:
            if cell.cell_type == "markdown":
                found = [(TAG.findall(d), NOT_IMPLEMENTED in d) for d in DISPLAY.findall(cell.source)]
                assert sum(len(numbers) for numbers, _ in found) == len(TAG.findall(cell.source)), \
                    f"{name}: a \\tag outside a $$ display"
                displays.setdefault(name, []).extend(d for d in found if d[0])
    return displays


def test_every_equation_the_library_cites_is_derived():
    tags = {number for cells in _cells().values() for cell in cells if cell.cell_type == "markdown"
            for number in TAG.findall(cell.source)}
    cited = _library_citations()
    assert _cited("eq. 4.7-4.9 and eq. 6.10") == {"4.7", "4.8", "4.9", "6.10"}  # ranges are expanded
    assert {"1.4", "4.1", "7.12", "8.7", "9.4", "10.8", "10.12"} <= cited
    missing = sorted(cited - tags, key=lambda n: tuple(map(int, n.split("."))))
    assert not missing, f"equations the library cites but no lesson derives: {missing}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_equations_are_numbered_in_order_without_gaps(notebook):
    numbers = [n for numbers, _ in _displays().get(notebook.name, []) for n in numbers]
    lesson = int(notebook.name[:2])
    expected = [f"{lesson}.{i}" for i in range(1, len(numbers) + 1)]
    assert numbers == expected, f"{notebook.name} tags {numbers}, in this order; number them {expected}"


def test_every_equation_is_cited_by_the_library_or_marked_not_implemented():
    cited = _library_citations()
    uncited, marked_but_cited = [], []
    for displays in _displays().values():
        for numbers, not_implemented in displays:
            for number in numbers:
                if not_implemented and number in cited:
                    marked_but_cited.append(number)
                elif not not_implemented and number not in cited:
                    uncited.append(number)
    assert not uncited, (f"equations no module cites (add '# eq. N.M' where the code implements them, "
                         f"or {NOT_IMPLEMENTED} to the display): {uncited}")
    assert not marked_but_cited, f"equations marked not implemented that the library cites: {marked_but_cited}"


def test_every_backward_of_the_covered_modules_is_shown():
    text = "\n".join(cell.source for cells in _cells().values() for cell in cells)
    for module, alias in BACKWARDS.items():
        mod = importlib.import_module(f"minis2s.{module}")
        names = [n for n in vars(mod) if n.endswith("_backward") and not n.startswith("_")
                 and getattr(mod, n).__module__ == mod.__name__]
        assert names, module
        for fn in names:
            assert (f"{alias}.{fn}" if alias else fn) in text, f"{module}.{fn} is not shown in a lesson"


# --------------------------------------------------------------------------- exercises


def _exercises(kind="gradient"):
    from minis2s.exercises import list_exercises
    from minis2s.exercises.specs import EXERCISES

    return [n for n in list_exercises() if EXERCISES[n].kind == kind]


@pytest.mark.parametrize("exercise", _exercises())
def test_exercise_cells_show_the_cache_hold_the_stub_then_grade_the_solution(exercise):
    from minis2s import backend as B
    from minis2s.exercises import stubs
    from minis2s.exercises.specs import EXERCISES

    ex = EXERCISES[exercise]
    name = ex.backward_name
    code = [source for cells in _cells().values() for source in _code(cells)]
    stub = inspect.getsource(getattr(stubs, name)).rstrip("\n")
    learner = f"{stub}\n\n\nreport = check({name})"
    assert learner in code, f"no cell holds the stub of {name} and grades it"
    assert code.index(learner) < code.index(_grades_the_solution(ex))
    inputs, static = ex.make(B.host.random.default_rng(0))
    cache = type(ex.forward(**inputs, **static)[1])
    module = cache.__module__.rsplit(".", 1)[-1]
    shown = [i for i, source in enumerate(code) if f"show({module}.{cache.__name__}" in source]
    assert shown and shown[0] < code.index(learner), f"{module}.{cache.__name__} is not shown before the exercise"
    (script,) = LESSONS.glob(f"{ex.lesson}_*.py")  # the exercise's text names its forward and cache
    text = script.read_text()
    assert f"`{module}.{ex.forward.__name__}`" in text and f"`{cache.__name__}`" in text, script.name


def _grades_the_solution(ex):
    """The cell that grades the reference solution: by its name, or with ``exercise=`` where the
    solution answers another exercise too (the label-smoothed cross-entropy's)."""
    solved = ex.solution.__name__
    if solved == ex.backward_name:
        return f"report = check(solutions.{solved})"
    return f'report = check(solutions.{solved}, exercise="{ex.name}")'


# a library function, besides an exercise's backward, whose source holds that exercise's answer
# although the backward does not call it: the sequence backward that runs the step's body inline
HOLDS_THE_ANSWER = {"rnn_step_backward": ("rnn_backward",), "lstm_step_backward": ("lstm_backward",),
                    "gru_step_backward": ("gru_backward",)}
SHOW = re.compile(r"\bshow\(([^)]*)\)")


def _answers(function):
    """Names of the functions whose source gives the answer to the exercise on ``function``: the
    backward itself, the backwards of its own module that it calls (the gates' backward of a
    gated step, the softmax and context backwards of attention) and theirs, and the functions
    of :data:`HOLDS_THE_ANSWER`."""
    module = inspect.getmodule(function)
    helpers = {n for n, f in vars(module).items() if n.endswith("_backward") and inspect.isfunction(f)
               and f.__module__ == module.__name__}
    names, todo = set(), [function.__name__]
    while todo:
        name = todo.pop()
        if name not in names:
            names.add(name)
            source = inspect.getsource(getattr(module, name))
            todo += [h for h in helpers if re.search(rf"(?<![\w.]){h}\(", source)]
    return names | set(HOLDS_THE_ANSWER.get(function.__name__, ()))


def _shown(source):
    """The names of the functions a code cell passes to ``show``, without their module."""
    return {arg.strip().rsplit(".", 1)[-1] for args in SHOW.findall(source) for arg in args.split(",")}


def test_answers_cover_the_helpers_that_hold_them():
    from minis2s.exercises.specs import EXERCISES

    answers = {name: _answers(ex.solution) for name, ex in EXERCISES.items() if ex.kind == "gradient"}
    assert {"lstm_step_backward", "lstm_gates_backward", "lstm_backward"} <= answers["lstm_step"]
    assert {"gru_step_backward", "gru_gates_backward", "gru_backward"} <= answers["gru_step"]
    assert {"additive_attention_backward", "masked_softmax_backward", "_context_backward"} <= answers["additive_attention"]
    assert answers["affine"] == {"affine_backward"}
    assert _shown("show(Fatt.masked_softmax_backward, Fatt._context_backward)") == {"masked_softmax_backward",
                                                                                     "_context_backward"}


@pytest.mark.parametrize("exercise", _exercises())
def test_exercise_comes_before_its_answer_and_the_answer_after(exercise):
    """A learner attempts each exercise before the lesson shows the library source that answers
    it, and can compare with the library's backward afterwards."""
    from minis2s.exercises import stubs
    from minis2s.exercises.specs import EXERCISES

    ex = EXERCISES[exercise]
    name = ex.backward_name
    (notebook,) = LESSONS.glob(f"{ex.lesson}_*.ipynb")
    code = _code(nbformat.read(notebook, as_version=4).cells)
    learner = f"{inspect.getsource(getattr(stubs, name)).rstrip(chr(10))}\n\n\nreport = check({name})"
    assert learner in code, f"{notebook.name} holds no stub cell of {name}"
    stub = code.index(learner)
    answers = _answers(ex.solution)
    early = {i: sorted(_shown(source) & answers) for i, source in enumerate(code[:stub]) if _shown(source) & answers}
    assert not early, f"{notebook.name} shows {early} (code cell: functions) before the exercise on {name}, cell {stub}"
    solved = ex.solution.__name__  # the library backward, which may answer several exercises
    assert any(solved in _shown(source) for source in code[stub + 1:]), \
        f"{notebook.name} never shows the library's {solved} after the exercise"


# exercises checked by their output: the show(...) arguments, as the lessons write them, that
# give the answer away (the library code the reference runs)
OUTPUT_ANSWERS = {
    "stable_softmax": ("activations.softmax",),
    "numerical_gradient": ("G.numerical_gradient",),
    "greedy_decode": ("decode.greedy", "decode._one_token_at_a_time"),
    "adam_step": ("optim.Adam._update",),
    "decoder_step_forward": ("decoder.step_forward",),
    "beam_search_step": ("decode.beam_search", "decode._expand", "decode._Beams", "decode.best_n"),
    "corpus_bleu": ("metrics.corpus_bleu", "metrics._bleu_from_stats", "metrics._ngrams"),
    "token_accuracy": ("references.token_accuracy",),
    "bpe_merge_step": ("bpe.merge_step", "bpe.merge_pair", "bpe.learn_bpe"),
    "top_p_filter": ("decode.filtered_probs", "decode.sample"),
    "masked_perplexity": ("metrics.perplexity",),
    "distinct_n": ("metrics.distinct_n",),
    "rouge_l": ("metrics.rouge_l", "metrics._lcs_length"),
}
ALIASES = {"activations": "minis2s.functional.activations", "G": "minis2s.gradcheck", "decode": "minis2s.decode", "optim": "minis2s.optim",
           "decoder": "minis2s.nn.decoder", "metrics": "minis2s.metrics", "references": "minis2s.exercises.references",
           "bpe": "minis2s.data.bpe"}


def _shown_as_written(source):
    return {arg.strip() for args in SHOW.findall(source) for arg in args.split(",")}


def test_output_answers_name_every_output_exercise_and_resolve():
    assert set(OUTPUT_ANSWERS) == set(_exercises("output"))
    for names in OUTPUT_ANSWERS.values():
        for name in names:
            alias, *attrs = name.split(".")
            obj = importlib.import_module(ALIASES[alias])
            for attr in attrs:
                obj = getattr(obj, attr)
            assert callable(obj), name


@pytest.mark.parametrize("exercise", _exercises("output"))
def test_output_exercise_cells_hold_the_stub_then_grade_the_reference(exercise):
    from minis2s.exercises import stubs
    from minis2s.exercises.specs import EXERCISES

    ex = EXERCISES[exercise]
    (notebook,) = LESSONS.glob(f"{ex.lesson}_*.ipynb")
    code = _code(nbformat.read(notebook, as_version=4).cells)
    learner = f"{inspect.getsource(getattr(stubs, exercise)).rstrip(chr(10))}\n\n\nreport = check({exercise})"
    assert learner in code, f"{notebook.name} holds no stub cell of {exercise}"
    assert code.index(learner) < code.index(f"report = check(references.{exercise})")
    (script,) = LESSONS.glob(f"{ex.lesson}_*.py")
    assert f"### Exercise: `{exercise}`" in script.read_text(), script.name


@pytest.mark.parametrize("exercise", _exercises("output"))
def test_output_exercise_comes_before_its_answer_and_the_answer_after(exercise):
    """As for the gradient exercises: the library code the reference runs is shown only after
    the learner has tried."""
    from minis2s.exercises import stubs
    from minis2s.exercises.specs import EXERCISES

    (notebook,) = LESSONS.glob(f"{EXERCISES[exercise].lesson}_*.ipynb")
    code = _code(nbformat.read(notebook, as_version=4).cells)
    learner = f"{inspect.getsource(getattr(stubs, exercise)).rstrip(chr(10))}\n\n\nreport = check({exercise})"
    stub = code.index(learner)
    answers = set(OUTPUT_ANSWERS[exercise])
    early = {i: sorted(_shown_as_written(s) & answers) for i, s in enumerate(code[:stub]) if _shown_as_written(s) & answers}
    assert not early, f"{notebook.name} shows {early} (code cell: functions) before the exercise on {exercise}"
    assert any(_shown_as_written(s) & answers for s in code[stub + 1:]), \
        f"{notebook.name} never shows the library's {sorted(answers)} after the exercise"


def test_translation_lesson_without_data_says_how_to_get_it_and_runs_to_the_end(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("MINIS2S_DATA", str(tmp_path))  # an empty directory: no corpus
    monkeypatch.setenv("MINIS2S_FAST", "1")
    nb = nbformat.read(LESSONS / "10_translation.ipynb", as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                            resources={"metadata": {"path": str(LESSONS)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "python -m minis2s data multi30k" in text
    assert "skipped: this cell needs Multi30k" in text
    assert "BLEU = " in text  # the cells that need no corpus still ran


# --------------------------------------------------------------------------- written questions

ANSWERS = LESSONS / "answers.md"
QUESTION = re.compile(r"\*\*Q(\d+)\.(\d+)\.\*\*")  # **Q6.2.**
ANSWER_LINK = re.compile(r"\]\(answers\.md#([a-z0-9-]+)\)")


def _slug(heading):
    """The anchor GitHub and Jupyter give a markdown heading: lower case, spaces to hyphens."""
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def _answer_sections():
    """{"06": the text of answers.md under its heading "## Lesson 06"}, in file order."""
    parts = re.split(r"^## Lesson (\d{2})$", ANSWERS.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def _questions_cell(notebook):
    cells = nbformat.read(notebook, as_version=4).cells
    asked = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Questions")]
    summary = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Summary")]
    assert len(asked) == 1 and len(summary) == 1, f"{notebook.name}: one '## Questions' and one '## Summary' cell"
    assert asked[0] == summary[0] - 1, f"{notebook.name}: the questions come just before the summary"
    return cells[asked[0]].source


def test_slug_is_the_heading_anchor():
    assert _slug("Lesson 06") == "lesson-06" and _slug(" Lesson 10: BLEU! ") == "lesson-10-bleu"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_questions_cell_asks_two_to_four_numbered_questions_and_links_its_answers(notebook):
    source, lesson = _questions_cell(notebook), notebook.name[:2]
    numbers = [f"{chapter}.{k}" for chapter, k in QUESTION.findall(source)]
    expected = [f"{int(lesson)}.{k}" for k in range(1, len(numbers) + 1)]
    assert 2 <= len(numbers) <= 4 and numbers == expected, f"{notebook.name} asks {numbers}; number them {expected}"
    assert ANSWER_LINK.findall(source) == [f"lesson-{lesson}"], f"{notebook.name} must link answers.md#lesson-{lesson}"


def test_answers_have_one_section_per_lesson_answering_exactly_its_questions():
    sections = _answer_sections()
    assert list(sections) == [nb.name[:2] for nb in NOTEBOOKS], "answers.md: one '## Lesson NN' per lesson, in order"
    for notebook in NOTEBOOKS:
        lesson = notebook.name[:2]
        asked = QUESTION.findall(_questions_cell(notebook))
        answered = QUESTION.findall(sections[lesson])
        assert len(answered) == len(set(answered)), f"answers.md, lesson {lesson}: a question answered twice"
        assert set(answered) == set(asked), (f"lesson {lesson}: asked {sorted(set(asked) - set(answered))} "
                                             f"without an answer; answered {sorted(set(answered) - set(asked))} "
                                             f"that the lesson does not ask")
        for chapter, k in answered:  # an answer is a paragraph, not just its label
            answer = sections[lesson].split(f"**Q{chapter}.{k}.**", 1)[1].split("**Q", 1)[0]
            assert len(answer.split()) >= 30, f"answers.md Q{chapter}.{k} is too short to be an answer"


def test_links_into_the_answers_resolve():
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", ANSWERS.read_text(), flags=re.MULTILINE)}
    links = [(nb.name, target) for nb in NOTEBOOKS for c in nbformat.read(nb, as_version=4).cells
             for target in ANSWER_LINK.findall(c.source)]
    assert len(links) >= len(NOTEBOOKS)
    missing = [(name, target) for name, target in links if target not in anchors]
    assert not missing, f"links to headings answers.md does not have: {missing}"


# --------------------------------------------------------------------------- notation

NOTATION_SECTION = re.compile(r"^## Notation\n(.*?)(?=^## )", re.DOTALL | re.MULTILINE)
# usages the course retired when it gave each symbol one meaning (lessons/README.md#notation),
# as (pattern, the lessons it must not appear in, what to write instead)
RETIRED = [
    (r"\bc_t\b|\\bar c\b|\\bar c_t", "08 09 10 11 12", r"the attention context is \mathrm{ctx}_t"),
    (r"\bz_t\b|\\bar z_t", "06 07 08 09 10 11 12", r"the readout input is \zeta_t; z is the GRU's update gate"),
    (r"count\}?_\{?h\b|count\}?_\{r_k\}|\\operatorname\{lp\}\(Y\)|P\(Y \\mid X\)|\bh\\,v\b|\br_i = h_j",
     "10", r"a hypothesis is \hat y, a reference y, the source x"),
    (r"\b[cr] \\ge [cr]\b|\b[cr] < [cr]\b|e\^\{\\,1 - r/c\}", "10", r"the brevity penalty's lengths are |\hat Y|, |Y|"),
    (r"\bu \\leftarrow|\\mu\\, u\b", "06 07", "momentum's velocity is m"),
    (r"\bv \\leftarrow|\\sqrt\{?v\b|\\sqrt v\b", "07", r"Adam's second moment is \nu"),
    (r"\bm_t = 0|\bm_s\b|\bm_j\b|\bm_\{ts|\bm_\{b,t\}|\bm_\{bt\}|\\frac\{m\}\{1 - p\}", "02 03 04 05 06 07 08 09 10 11 12",
     "a mask is M"),
    (r"\\mu =|\\sigma =|\\sigma_\{\\max\}|\\gamma\^", "03 07 12", r"layer norm's mean(x), sd(x); ||W_h||_2; factor"),
    (r"\$V\$|\(V, D\)|\\log V\b|\{V\}|k \\cdot V\b|\bV\^T", "00 01 02 03 04 05 06 07 08 09 10 11",
     r"the vocabulary size is |\mathcal V|; V is lesson 12's values"),
    (r"\^\{?\\alpha\}?\b|\\alpha = 0", "10", r"GNMT's exponent is \omega; \alpha is an attention weight"),
]


def _notation_symbols():
    block = NOTATION_SECTION.search((LESSONS / "README.md").read_text()).group(1)
    rows = [line for line in block.splitlines() if line.startswith("| $")]
    cells = [row.split("|")[1].strip() for row in rows]
    return cells, [part.strip() for cell in cells for part in cell.strip("$").split(",")]


def test_course_notation_table_gives_each_symbol_one_meaning():
    cells, symbols = _notation_symbols()
    assert len(cells) >= 60, "lessons/README.md: the ## Notation table is missing or cut short"
    twice = sorted({s for s in symbols if symbols.count(s) > 1})
    assert not twice, f"lessons/README.md#notation lists {twice} more than once: one symbol, one meaning"


def test_lesson_08_notation_agrees_with_the_course_table():
    _, symbols = _notation_symbols()
    lesson = (LESSONS / "08_attention.py").read_text()
    for symbol in (r"\mathrm{ctx}_t", r"\alpha_s", r"\ell_s", r"\kappa", r"\tilde q", r"u_s", r"v_s", r"w"):
        assert symbol in symbols, f"{symbol} is in lesson 08's table but not in the course's"
        assert f"| ${symbol}" in lesson, f"lesson 08's notation table lost {symbol}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.name)
def test_retired_notation_stays_retired(notebook):
    lesson = notebook.name[:2]
    markdown = "\n".join(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "markdown")
    for pattern, lessons, instead in RETIRED:
        if lesson in lessons.split():
            found = re.findall(pattern, markdown)
            assert not found, f"{notebook.name} writes {found[:3]} again: {instead} (lessons/README.md#notation)"


def test_every_lesson_has_graded_work():
    """Issue 13: no lesson is read-only. Each notebook holds at least one exercise of
    ``minis2s.exercises`` (its stub cell is checked elsewhere), and no exercise names a lesson
    that does not exist."""
    from minis2s.exercises.specs import EXERCISES

    graded = {ex.lesson for ex in EXERCISES.values()}
    lessons = {nb.name[:2] for nb in NOTEBOOKS}
    assert lessons - graded == set(), f"lessons without an exercise: {sorted(lessons - graded)}"
    assert graded <= lessons, f"exercises of missing lessons: {sorted(graded - lessons)}"
