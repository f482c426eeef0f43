"""What every lesson imports in its set-up cell: ``FAST`` and ``show``.

Importing this module also lets ``import minis2s`` work in a checkout without
``pip install -e .``: it puts the repository root (the folder above ``lessons/``) on
``sys.path``. It imports neither NumPy nor minis2s, so lessons 06-11 can still choose the
number of BLAS threads after importing it, before NumPy loads.
"""

import importlib.util
import inspect
import os
import pathlib
import sys

if importlib.util.find_spec("minis2s") is None:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

FAST = os.environ.get("MINIS2S_FAST", "") not in ("", "0")  # smaller sizes, same lessons


def _in_jupyter() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def show(*objects):
    """Display the library's own source: what you read here is exactly what runs.

    In Jupyter as a highlighted code block; in a lesson run as a script (``python
    lessons/01_gradients.py``), printed.
    """
    for obj in objects:
        source = inspect.getsource(obj)
        if _in_jupyter():
            from IPython.display import Markdown, display

            display(Markdown(f"```python\n{source}```"))
        else:
            print(source)
