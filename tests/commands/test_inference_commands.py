"""translate, evaluate, plot and export on a tiny dates model: one answer per checkpoint, the
beam's bounds, file-system failures as one line, help texts, readable plots (issue 11)."""

import contextlib
import errno
import io
import json
import os
import re
import sys
import time

import pytest

from minis2s.cli import main

SMALL = ["--task", "dates", "--train-size", "300", "--test-size", "20", "--emb", "8", "--hidden", "16",
         "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run directory, train's JSON summary) of a dates model trained for 20 steps."""
    out = tmp_path_factory.mktemp("run") / "dates"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["train"] + SMALL + ["--out", str(out), "--max-steps", "20", "--json"]) == 0
    return out, json.loads(stdout.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def run(trained):
    return trained[0]


def cli(argv, capsys, monkeypatch=None, stdin=None):
    capsys.readouterr()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- one answer


def toy_test_split(run_dir):
    """The held-out test pairs train reported on, regenerated from the run's config."""
    from minis2s import checkpoint as ckpt
    from minis2s.tasks import toy_task

    task_cfg = ckpt.load_checkpoint(run_dir, prefer="best").config["task"]
    task = toy_task(task_cfg["name"], seed=task_cfg["seed"], **task_cfg["data"])
    return ["".join(s) for s, _ in task.test], ["".join(t) for _, t in task.test]


@pytest.mark.parametrize("beam", [1, 3])
def test_translate_prints_the_sentences_evaluate_scores_on_a_toy_task(trained, tmp_path, capsys, monkeypatch, beam):
    run_dir, summary = trained
    hyps = tmp_path / "hyps.txt"
    code, out, _ = cli(["evaluate", "--checkpoint", str(run_dir), "--split", "test", "--beam", str(beam),
                        "--hyps", str(hyps), "--json"], capsys)
    assert code == 0
    figures = json.loads(out.strip().splitlines()[-1])
    sources, targets = toy_test_split(run_dir)
    assert figures["split"] == "test" and figures["n_sentences"] == len(sources) == 20
    code, printed, _ = cli(["translate", "--checkpoint", str(run_dir), "--beam", str(beam)], capsys, monkeypatch,
                           "\n".join(sources) + "\n")
    assert code == 0 and printed == hyps.read_text()
    lines = printed.splitlines()
    assert figures["exact_match"] == sum(h == t for h, t in zip(lines, targets)) / len(targets)
    if beam == 1:  # the figure train printed for the same checkpoint
        assert figures["exact_match"] == summary["exact_match"]


def test_evaluate_refuses_test2016_for_a_toy_task(run, capsys):
    code, _, err = cli(["evaluate", "--checkpoint", str(run), "--split", "test2016"], capsys)
    assert code == 2 and "--split test" in one_line(err)


def test_whitespace_only_lines_give_empty_lines_for_a_character_model(run, capsys, monkeypatch):
    # a character model would read "   " as three spaces and make up a date for them
    real = ["september 27, 1994", "27.09.1994"]
    _, alone, _ = cli(["translate", "--checkpoint", str(run)], capsys, monkeypatch, "\n".join(real) + "\n")
    code, mixed, _ = cli(["translate", "--checkpoint", str(run)], capsys, monkeypatch,
                         f"{real[0]}\n   \n\t\n\n{real[1]}\n \n")
    assert code == 0
    first, second = alone.splitlines()
    assert first and second
    assert mixed.split("\n") == [first, "", "", "", second, "", ""]


# --------------------------------------------------------------------------- beam bounds


def test_a_beam_wider_than_the_target_vocabulary_is_refused(run, capsys, monkeypatch):
    from minis2s.inference import Translator

    size = len(Translator.load(run).tgt_vocab)
    for command, stdin in (["translate"], "9/27/94\n"), (["evaluate"], None):
        code, out, err = cli(command + ["--checkpoint", str(run), "--beam", str(size + 1)], capsys, monkeypatch, stdin)
        line = one_line(err)
        assert code == 2 and out == ""
        assert "vocabulary" in line and f"({size} tokens)" in line and f"--beam {size} or less" in line


@pytest.fixture
def meminfo(tmp_path, monkeypatch):
    """Pretend /proc/meminfo says ``kib`` kB are available."""
    from minis2s import memory

    def set_available(kib):
        path = tmp_path / "meminfo"
        path.write_text(f"MemTotal:       16000000 kB\nMemFree:          100000 kB\nMemAvailable:   {kib} kB\n")
        monkeypatch.setattr(memory, "MEMINFO", path)

    return set_available


def test_available_memory_reads_memavailable(meminfo):
    from minis2s.memory import available_bytes

    meminfo(2048)
    assert available_bytes() == 2048 * 1024


def test_a_beam_too_large_for_memory_is_refused_at_once_with_one_that_fits(run, capsys, monkeypatch, meminfo):
    from minis2s import decode
    from minis2s.inference import Translator

    def no_search(*a, **kw):
        raise AssertionError("beam search ran: the refusal must come before any decoding")

    monkeypatch.setattr(decode, "beam_search", no_search)
    model = Translator.load(run).model
    beam = len(Translator.load(run).tgt_vocab)
    sentence = "tuesday, september 27, 1994"
    src_len = len(sentence) + 1
    one_sentence = decode.beam_search_bytes(model.cfg, 1, beam, src_len)
    meminfo(one_sentence // 2 // 1024)  # half of what one sentence needs
    start = time.perf_counter()
    code, out, err = cli(["translate", "--checkpoint", str(run), "--beam", str(beam)], capsys, monkeypatch,
                         sentence + "\n")
    assert time.perf_counter() - start < 5
    line = one_line(err)
    assert code == 2 and out == "" and "memory available" in line and "KiB" in line
    suggested = int(re.search(r"use --beam (\d+) or less", line).group(1))
    available = (one_sentence // 2 // 1024) * 1024
    assert 1 <= suggested < beam
    assert decode.beam_search_bytes(model.cfg, 1, suggested, src_len) <= available
    assert decode.beam_search_bytes(model.cfg, 1, suggested + 1, src_len) > available


def test_a_batch_too_large_for_the_beam_is_lowered_with_a_note(run, capsys, monkeypatch, meminfo):
    from minis2s import decode
    from minis2s.inference import Translator

    model = Translator.load(run).model
    lines = ["9/27/94", "27.09.1994", "1 january 1900", "DEC 1ST, 2001"] * 5  # 20 sentences
    src_len = max(len(line) for line in lines) + 1
    kib = decode.beam_search_bytes(model.cfg, 5, 3, src_len) // 1024 + 1  # room for a batch of 5
    _, plain, _ = cli(["translate", "--checkpoint", str(run), "--beam", "3", "--batch-size", "5"], capsys,
                      monkeypatch, "\n".join(lines) + "\n")
    meminfo(kib)
    code, out, err = cli(["translate", "--checkpoint", str(run), "--beam", "3"], capsys, monkeypatch,
                         "\n".join(lines) + "\n")
    assert code == 0 and out == plain  # decoded 5 at a time, as asked for explicitly
    assert "decoding 5 sentences at a time instead of 20" in err


# --------------------------------------------------------------------------- file-system failures


def raise_oserror(code):
    def fail(*args, **kwargs):
        for a in args:  # write something first: a partial file must not be left behind
            if hasattr(a, "write"):
                a.write(b"partial")
        raise OSError(code, os.strerror(code), "somewhere")

    return fail


@pytest.mark.parametrize("what", ["curves", "attention"])
def test_plot_into_a_missing_folder_says_so_in_one_line(run, tmp_path, capsys, what):
    pytest.importorskip("matplotlib")
    target = tmp_path / "missing" / "figure.png"
    extra = ["--run", str(run)] if what == "curves" else ["--checkpoint", str(run), "--sentence", "9/27/94"]
    code, _, err = cli(["plot", what, *extra, "--out", str(target)], capsys)
    line = one_line(err)
    assert code == 2 and str(target) in line and "does not exist" in line and "mkdir -p" in line
    assert not target.parent.exists()


@pytest.mark.parametrize("code_, words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                                          (errno.ENOSPC, "no space left")])
@pytest.mark.parametrize("what", ["curves", "attention"])
def test_plot_that_cannot_be_written_leaves_no_file(run, tmp_path, capsys, monkeypatch, what, code_, words):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    monkeypatch.setattr(Figure, "savefig", raise_oserror(code_))
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "figure.png"
    extra = ["--run", str(run)] if what == "curves" else ["--checkpoint", str(run), "--sentence", "9/27/94"]
    code, _, err = cli(["plot", what, *extra, "--out", str(target)], capsys)
    line = one_line(err)
    assert code == 2 and str(target) in line and words in line and "--out" in line
    assert files_in(folder) == []


def test_plot_whose_rename_fails_leaves_neither_file_nor_temporary(run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(os, "replace", raise_oserror(errno.EROFS))
    code, _, err = cli(["plot", "curves", "--run", str(run), "--out", str(folder / "loss.png")], capsys)
    assert code == 2 and "read-only" in one_line(err)
    assert files_in(folder) == []


@pytest.mark.parametrize("code_, words", [(errno.EROFS, "read-only"), (errno.ENOSPC, "no space left")])
def test_export_that_cannot_be_written_says_so_in_one_line(run, tmp_path, capsys, monkeypatch, code_, words):
    torch = pytest.importorskip("torch")
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(torch, "save", raise_oserror(code_))
    code, _, err = cli(["export", "--checkpoint", str(run), "--torch", str(folder / "m.pt")], capsys)
    line = one_line(err)
    assert code == 2 and str(folder / "m.pt") in line and words in line and "--torch" in line
    assert files_in(folder) == []


def test_export_into_a_missing_folder_says_so_in_one_line(run, tmp_path, capsys):
    pytest.importorskip("torch")
    target = tmp_path / "missing" / "m.pt"
    code, _, err = cli(["export", "--checkpoint", str(run), "--torch", str(target)], capsys)
    line = one_line(err)
    assert code == 2 and "does not exist" in line and str(target.parent) in line


def test_an_oserror_no_command_handled_is_one_line_and_a_bug_stays_a_traceback(capsys, monkeypatch):
    from minis2s import commands

    def disk_fails(args):
        raise OSError(errno.EIO, "Input/output error", "/data/file.txt")

    monkeypatch.setattr(commands, "translate", disk_fails)
    code, _, err = cli(["translate", "--checkpoint", "x"], capsys)
    assert code == 2 and one_line(err).startswith("error: Input/output error: /data/file.txt; ")

    def bug(args):
        raise ValueError("a bug")

    monkeypatch.setattr(commands, "translate", bug)
    with pytest.raises(ValueError):
        main(["translate", "--checkpoint", "x"])


@pytest.mark.parametrize("package, argv", [
    ("tqdm", ["gradcheck", "--only", "affine"]),  # the progress bar
    ("threadpoolctl", ["translate", "--checkpoint", "x"]),  # --threads, before any work
])
def test_a_missing_run_time_package_is_one_line_saying_how_to_install(package, argv, capsys, monkeypatch):
    """A checkout run with a Python minis2s was not installed into: one line, not a traceback."""
    monkeypatch.setitem(sys.modules, package, None)  # `import package` now fails as if absent
    code, _, err = cli(argv, capsys)
    line = one_line(err)
    assert code == 2 and f"needs the package '{package}'" in line and "pip install -e ." in line


def test_a_missing_optional_package_is_not_taken_for_a_run_time_one(capsys, monkeypatch):
    from minis2s import commands

    def needs_scipy(args):
        import scipy_that_is_not_there  # noqa: F401

    monkeypatch.setattr(commands, "translate", needs_scipy)
    with pytest.raises(ModuleNotFoundError):
        main(["translate", "--checkpoint", "x"])


# --------------------------------------------------------------------------- help


def help_of(command, capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # unwrap argparse's line breaks


def test_translate_and_evaluate_help_show_defaults_and_the_beam_bound(capsys):
    from minis2s.recipes import DECODE_BATCH_SIZE

    for command in ("translate", "evaluate"):
        text = help_of(command, capsys)
        assert f"(default: {DECODE_BATCH_SIZE})" in text and "(default: 1)" in text
        assert "vocabulary" in text and "memory" in text and "float rounding" in text


def test_top_level_help_describes_the_demo_and_every_command(capsys):
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "normalise dates with a GRU encoder-decoder with attention" in text
    assert "with and without attention" not in text


# --------------------------------------------------------------------------- plots


def test_attention_figure_has_a_colour_bar_and_a_title_naming_sentence_and_model(run):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from minis2s import plots
    from minis2s.inference import Translator

    translator = Translator.load(run)
    ax = plots.attention_heatmap(translator, "Tuesday, September 27, 1994")
    fig = ax.figure
    bars = [a for a in fig.axes if a is not ax]
    assert len(bars) == 1 and bars[0].get_ylabel() == "attention weight"
    title = ax.get_title()
    assert "Tuesday, September 27, 1994" in title and "GRU" in title and "additive attention" in title
    assert f"step {translator.step}" in title and translator.step is not None
    plt.close(fig)
    long = "september 27, 1994 " * 8
    ax = plots.attention_heatmap(translator, long)
    assert "..." in ax.get_title() and len(ax.get_title().splitlines()[0]) < 70
    plt.close(ax.figure)


def plain_labels(labels):
    texts = [t.get_text() for t in labels if t.get_text()]
    for text in texts:
        float(text)  # "0.5", "2": no "$\\mathdefault{10^{0}}$" or "8x10^0"
    return texts


def test_loss_curve_ticks_are_plain_numbers_and_the_title_names_the_run(run, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from minis2s import plots

    ax = plots.loss_curves(run)
    ax.figure.canvas.draw()
    assert len(plain_labels(ax.get_yticklabels())) >= 2
    assert str(run) in ax.get_title() and "dates" in ax.get_title()
    plt.close(ax.figure)
    # a loss that spans little (1.2 to 1.8) still gets labelled ticks
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.8 - s / 1000}) + "\n"
                                                for s in range(0, 600, 10)))
    ax = plots.loss_curves(flat)
    ax.figure.canvas.draw()
    visible = plain_labels(ax.get_yticklabels()) + plain_labels(ax.yaxis.get_minorticklabels())
    assert len(visible) >= 2 and str(flat) in ax.get_title()
    plt.close(ax.figure)
