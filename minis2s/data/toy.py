"""Character-level toy tasks, generated from a seed: no files, no downloads (lesson 01).

Each task maps a source string to a target string that a small model can learn in minutes,
and each probes something different:

``copy``      ``"hbdaf" -> "hbdaf"``        can the decoder recall the source at all?
``reverse``   ``"hbdaf" -> "fadbh"``        the first output needs the last input: attention helps
``sort``      ``"hbdaf" -> "abdfh"``        the output order depends on every input
``addition``  ``"123+45" -> "168"``         carries run right to left, the output left to right
``dates``     ``"Sep 27, 1994" -> "1994-09-27"``  ten formats and three cases, one ISO target
``qa-1..4``   a short story and a question -> a one-word answer (word-level; see :mod:`.qa`)

:func:`make_splits` draws a training and a test set from disjoint seeds and drops every test
source that also occurs in training, so the test set measures generalisation, not memory.
"""

from __future__ import annotations

import datetime
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import UserError
from . import qa

Pair = tuple[str, str]


@dataclass(frozen=True)
class Task:
    """A named generator of ``(source, target)`` string pairs.

    ``params`` holds the defaults that :meth:`generate` accepts as keywords (e.g.
    ``max_len`` for copy, reverse and sort). ``recommended_size`` and
    ``recommended_test_size`` are data-set sizes that train a small model well. ``level``:
    the model reads characters ("char") or the whitespace-separated words ("word").
    """

    name: str
    description: str
    sample: Callable[[random.Random, dict], Pair]
    params: dict = field(default_factory=dict)
    recommended_size: int = 20000
    recommended_test_size: int = 1000
    level: str = "char"

    def generate(self, rng: random.Random | int, n: int, **params) -> list[Pair]:
        """``n`` pairs drawn with ``rng`` (a ``random.Random`` or an int seed)."""
        unknown = set(params) - set(self.params)
        if unknown:
            allowed = ", ".join(sorted(self.params)) or "none"
            raise UserError(f"task {self.name!r} has no option {', '.join(sorted(unknown))} (options: {allowed})")
        settings = {**self.params, **params}
        _check_settings(self.name, settings)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if not isinstance(rng, random.Random):
            rng = random.Random(rng)
        return [self.sample(rng, settings) for _ in range(n)]


def _check_settings(name: str, s: dict) -> None:
    if "max_len" in s and not 1 <= s["min_len"] <= s["max_len"]:
        raise UserError(f"task {name!r}: need 1 <= min_len <= max_len, got {s['min_len']} and {s['max_len']}")
    if "alphabet" in s and not s["alphabet"]:
        raise UserError(f"task {name!r}: the alphabet is empty")
    if "max_sentences" in s and not 1 <= s["min_sentences"] <= s["max_sentences"]:
        raise UserError(f"task {name!r}: need 1 <= min_sentences <= max_sentences, "
                        f"got {s['min_sentences']} and {s['max_sentences']}")
    if "order" in s and s["order"] not in qa.ORDERS:
        raise UserError(f"task {name!r}: unknown input order {s['order']!r}; choose one of {', '.join(qa.ORDERS)}")
    if "max_operand" in s and s["max_operand"] < 0:
        raise UserError(f"task {name!r}: max_operand must be >= 0, got {s['max_operand']}")


# --------------------------------------------------------------------------- strings


def _random_string(rng: random.Random, s: dict) -> str:
    n = rng.randint(s["min_len"], s["max_len"])
    return "".join(rng.choice(s["alphabet"]) for _ in range(n))


def _copy(rng, s):
    x = _random_string(rng, s)
    return x, x


def _reverse(rng, s):
    x = _random_string(rng, s)
    return x, x[::-1]


def _sort(rng, s):
    x = _random_string(rng, s)
    return x, "".join(sorted(x))


def _addition(rng, s):
    a, b = rng.randint(0, s["max_operand"]), rng.randint(0, s["max_operand"])
    return f"{a}+{b}", str(a + b)


# --------------------------------------------------------------------------- dates

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CASES = ("lower", "upper", "capitalised")

FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
# Two-digit years read as 19yy for yy >= 50 and 20yy otherwise, so only 1950-2049 round-trips.
TWO_DIGIT_FIRST, TWO_DIGIT_LAST = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)


def _ordinal(day: int) -> str:
    """1st 2nd 3rd 4th ... 11th 12th 13th ... 21st 22nd 23rd ... 31st."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _month(d) -> str:
    return MONTHS[d.month - 1]


_FORMATTERS = {
    "month_day_year": lambda d: f"{_month(d)} {d.day}, {d.year}",           # september 27, 1994
    "mon_day_year": lambda d: f"{_month(d)[:3]} {d.day}, {d.year}",         # sep 27, 1994
    "day_month_year": lambda d: f"{d.day} {_month(d)} {d.year}",            # 27 september 1994
    "day_mon_year": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",          # 27 sep 1994
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",           # 9/27/94
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",          # 09/27/1994
    "weekday_month_day_year":                                               # tuesday, september 27, 1994
        lambda d: f"{WEEKDAYS[d.weekday()]}, {_month(d)} {d.day}, {d.year}",
    "dd.mm.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",          # 27.09.1994
    "iso": lambda d: d.isoformat(),                                         # 1994-09-27
    "month_ordinal_year": lambda d: f"{_month(d)} {_ordinal(d.day)}, {d.year}",  # september 27th, 1994
}

#: The names of the date formats, in a fixed order.
DATE_FORMATS = tuple(_FORMATTERS)


def date_range(fmt: str) -> tuple[datetime.date, datetime.date]:
    """The dates a format is generated for: 1950-2049 for two-digit years, else 1900-2099."""
    return (TWO_DIGIT_FIRST, TWO_DIGIT_LAST) if fmt == "m/d/yy" else (FIRST_DATE, LAST_DATE)


def format_date(date: datetime.date, fmt: str, case: str = "lower") -> str:
    """Write ``date`` in format ``fmt`` (one of :data:`DATE_FORMATS`) and ``case``
    (``lower``, ``upper`` or ``capitalised``: ``"Tuesday, September 27th, 1994"``)."""
    if fmt not in _FORMATTERS:
        raise ValueError(f"unknown date format {fmt!r}; choose one of {', '.join(DATE_FORMATS)}")
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; choose one of {', '.join(CASES)}")
    text = _FORMATTERS[fmt](date)
    if case == "upper":
        return text.upper()
    if case == "capitalised":
        # \b[a-z]: the first letter of each word, not the "th" of "27th"
        return re.sub(r"\b[a-z]", lambda m: m.group().upper(), text)
    return text


def _dates(rng, s):
    fmt = rng.choice(DATE_FORMATS)
    first, last = date_range(fmt)
    date = first + datetime.timedelta(days=rng.randint(0, (last - first).days))
    return format_date(date, fmt, rng.choice(CASES)), date.isoformat()


# --------------------------------------------------------------------------- registry

_STRINGS = {"min_len": 1, "max_len": 20, "alphabet": string.ascii_lowercase}
_STORIES = {"min_sentences": 2, "max_sentences": 8, "order": "question-first"}

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("copy", "repeat a random lower-case string", _copy, dict(_STRINGS)),
        Task("reverse", "reverse a random lower-case string", _reverse, dict(_STRINGS)),
        Task("sort", "sort the characters of a random lower-case string", _sort, dict(_STRINGS)),
        Task("addition", "add two integers written in decimal", _addition, {"max_operand": 999},
             recommended_size=50000),
        Task("dates", "human-written dates in ten formats -> ISO 8601 YYYY-MM-DD", _dates,
             recommended_size=30000),
        Task("qa-1", "story of moves -> where is a person (one supporting fact)", qa.qa_single_fact,
             dict(_STORIES), level="word"),
        Task("qa-2", "story of moves and objects -> where is an object (two supporting facts)", qa.qa_two_facts,
             dict(_STORIES, rationale=False), level="word"),
        Task("qa-3", "story -> is a person in a place (yes/no)", qa.qa_yes_no, dict(_STORIES), level="word"),
        Task("qa-4", "story -> how many objects a person carries (none .. three)", qa.qa_counting,
             dict(_STORIES), level="word"),
    )
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise UserError(f"unknown toy task {name!r}; choose one of {', '.join(TASKS)}") from None


def make_splits(task_name: str, n_train: int, n_test: int, seed: int = 0, **params) -> tuple[list[Pair], list[Pair]]:
    """Training and test pairs for a toy task.

    The two sets come from disjoint seeds, and any test pair whose source occurs in training
    is dropped and replaced by a fresh draw, so every test source is unseen. Where a task
    has fewer distinct sources than that needs (tiny ``max_len`` or ``max_operand``), the
    test set comes back smaller than ``n_test`` rather than looping forever.
    """
    task = get_task(task_name)
    train = task.generate(random.Random(f"minis2s.toy/{task_name}/{seed}/train"), n_train, **params)
    seen = {src for src, _ in train}
    test_rng = random.Random(f"minis2s.toy/{task_name}/{seed}/test")
    test: list[Pair] = []
    draws = 0
    while len(test) < n_test and draws < 20 * n_test + 100:
        batch = task.generate(test_rng, n_test - len(test), **params)
        draws += len(batch)
        test.extend(pair for pair in batch if pair[0] not in seen)
    return train, test
