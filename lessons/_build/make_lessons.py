"""Write the lesson notebooks in ``lessons/`` from the Python sources beside this script.

Each ``lNN_*.py`` here defines ``FILENAME`` and ``CELLS`` (see ``common.py``). Editing the
source and re-running this script is the way to change a lesson; the notebooks are written
without outputs and with stable cell ids, so a regenerated notebook diffs cleanly.

    python lessons/_build/make_lessons.py           # write every lesson
    python lessons/_build/make_lessons.py 03 04     # write lessons 03 and 04
    python lessons/_build/make_lessons.py --check   # exit 1 if a notebook differs from its source
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
LESSONS = HERE.parent
ROOT = LESSONS.parent

METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def sources() -> list[str]:
    return sorted(p.stem for p in HERE.glob("l[0-9][0-9]_*.py"))


def build(module_name: str):
    """The notebook of one lesson source, and the file name it is written to."""
    module = importlib.import_module(module_name)
    nb = nbformat.v4.new_notebook(metadata=METADATA)
    stem = module.FILENAME.removesuffix(".ipynb")
    for i, cell in enumerate(module.CELLS):
        make = nbformat.v4.new_markdown_cell if cell["cell_type"] == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(cell["source"], id=f"{stem[:2]}-{i:03d}"))
    nbformat.validate(nb)
    return nb, LESSONS / module.FILENAME


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(HERE), str(ROOT)]  # the lesson sources, and minis2s for exercise stubs
    stale = []
    for name in sources():
        if args.lessons and name[1:3] not in args.lessons:
            continue
        nb, path = build(name)
        text = nbformat.writes(nb) + "\n"
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
            continue
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)} ({len(nb.cells)} cells)")
    if stale:
        print(f"out of date (run {pathlib.Path(__file__).relative_to(ROOT)}): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
