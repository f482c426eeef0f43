"""The README is the first thing a new user runs: its links, lessons and commands must be real."""

import re
from pathlib import Path

from minis2s.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_relative_links_resolve():
    targets = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README)
    assert targets
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing paths: {missing}"


def test_readme_lists_every_lesson_in_order():
    notebooks = sorted(p.name for p in (ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
    linked = re.findall(r"\]\(lessons/([0-9]{2}_[a-z0-9_]+\.ipynb)\)", README)
    assert linked == notebooks


def test_readme_commands_are_real_subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    used = set(re.findall(r"python -m minis2s ([a-z]+)", README))
    assert used, "the README shows no command"
    assert used <= set(sub.choices), f"README names unknown commands: {used - set(sub.choices)}"


def test_readme_gives_exactly_one_main_and_one_test_command():
    for marker in ("<!-- main-command -->", "<!-- test-command -->"):
        assert README.count(marker) == 1, marker
        block = README.split(marker, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
        assert block.strip().startswith("python3 -m venv .venv && "), block
        assert block.strip().count("\n") == 0, "a set-up command must be one line"
