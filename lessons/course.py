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

# Ten Multi30k training captions, for the lessons that fall back on them when the corpus is absent
SAMPLE_CAPTIONS = """a man in an orange hat starring at something .
a boston terrier is running on lush green grass in front of a white fence .
a girl in karate uniform breaking a stick with a front kick .
five people in winter jackets and helmets stand in the snow , with snowmobiles in the background .
people are fixing the roof of a house .
a man in light colored clothing photographs a group of men wearing dark suits and hats standing around a woman .
a group of people standing in front of an igloo .
a boy in a red uniform is attempting to avoid getting out at home plate , while the catcher in the blue uniform is attempting to catch him .
a guy working on a building .
a man in a vest is sitting in a chair and holding magazines .""".splitlines()


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
