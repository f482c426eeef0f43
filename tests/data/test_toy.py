import datetime
import random
import re

import pytest

from minis2s.data.toy import CASES, DATE_FORMATS, TASKS, format_date, make_splits
from minis2s.errors import UserError

MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def zeller_weekday(y, m, d):
    """Day of week by Zeller's congruence, 0 = monday: independent of datetime."""
    if m < 3:
        m, y = m + 12, y - 1
    h = (d + 13 * (m + 1) // 5 + y % 100 + (y % 100) // 4 + (y // 100) // 4 + 5 * (y // 100)) % 7
    return (h + 5) % 7  # Zeller: 0 = saturday


def ordinal(day):
    return {1: "1st", 2: "2nd", 3: "3rd", 21: "21st", 22: "22nd", 23: "23rd", 31: "31st"}.get(day, f"{day}th")


def month_number(name):
    matches = [i + 1 for i, m in enumerate(MONTHS) if name in (m, m[:3])]
    assert len(matches) == 1, name
    return matches[0]


def parse(text):
    """An independent parser for every format: returns (iso, format name)."""
    t = text.lower()
    if m := re.fullmatch(r"(?:([a-z]+), )?([a-z]+) (\d{1,2})(st|nd|rd|th)?, (\d{4})", t):
        weekday, month, day, suffix, year = m.groups()
        y, mo, d = int(year), month_number(month), int(day)
        if weekday is not None:
            assert DAYS.index(weekday) == zeller_weekday(y, mo, d), text
            fmt = "weekday_month_day_year"
        elif suffix is not None:
            assert f"{d}{suffix}" == ordinal(d), text
            fmt = "month_ordinal_year"
        else:
            fmt = "month_day_year" if month in MONTHS else "mon_day_year"
        assert (suffix is None or weekday is None) and (month in MONTHS or fmt == "mon_day_year")
    elif m := re.fullmatch(r"(\d{1,2}) ([a-z]+) (\d{4})", t):
        d, mo, y = int(m[1]), month_number(m[2]), int(m[3])
        fmt = "day_month_year" if m[2] in MONTHS else "day_mon_year"
    elif m := re.fullmatch(r"([1-9]\d?)/([1-9]\d?)/(\d\d)", t):
        mo, d, yy = int(m[1]), int(m[2]), int(m[3])
        y = 1900 + yy if yy >= 50 else 2000 + yy
        fmt = "m/d/yy"
    elif m := re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", t):
        mo, d, y = int(m[1]), int(m[2]), int(m[3])
        fmt = "mm/dd/yyyy"
    elif m := re.fullmatch(r"(\d\d)\.(\d\d)\.(\d{4})", t):
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
        fmt = "dd.mm.yyyy"
    elif m := re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", t):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
        fmt = "iso"
    else:
        raise AssertionError(f"no format matches {text!r}")
    return f"{y:04d}-{mo:02d}-{d:02d}", fmt


def case_of(text):
    if text == text.lower() and text == text.upper():
        return None  # no letters: the case is invisible
    if text == text.lower():
        return "lower"
    if text == text.upper():
        return "upper"
    words = re.findall(r"\b[a-zA-Z]+", text)
    assert all(w[0].isupper() and w[1:].islower() for w in words), text
    return "capitalised"


def random_date(r, first=1900, last=2099):
    start, end = datetime.date(first, 1, 1), datetime.date(last, 12, 31)
    return start + datetime.timedelta(days=r.randint(0, (end - start).days))


def test_the_ten_formats_spell_the_brief_examples():
    d = datetime.date(1994, 9, 27)
    assert [format_date(d, f) for f in DATE_FORMATS] == [
        "september 27, 1994", "sep 27, 1994", "27 september 1994", "27 sep 1994", "9/27/94",
        "09/27/1994", "tuesday, september 27, 1994", "27.09.1994", "1994-09-27",
        "september 27th, 1994",
    ]
    assert format_date(d, "month_ordinal_year", "capitalised") == "September 27th, 1994"
    assert format_date(d, "weekday_month_day_year", "upper") == "TUESDAY, SEPTEMBER 27, 1994"


@pytest.mark.parametrize("fmt", DATE_FORMATS)
def test_each_format_parses_back_to_the_date(fmt):
    r = random.Random(fmt)
    first, last = (1950, 2049) if fmt == "m/d/yy" else (1900, 2099)
    for _ in range(300):
        d = random_date(r, first, last)
        case = r.choice(CASES)
        text = format_date(d, fmt, case)
        iso, parsed_fmt = parse(text)
        assert iso == d.isoformat(), text
        # "may" is its own abbreviation, so "may 3, 2001" reads as either spelling
        assert parsed_fmt == fmt or (d.month == 5 and parsed_fmt.replace("month", "mon") == fmt), text
        assert case_of(text) in (case, None), text


def test_ordinal_suffixes():
    got = [format_date(datetime.date(2001, 1, d), "month_ordinal_year").split()[1][:-1] for d in range(1, 32)]
    assert got == [ordinal(d) for d in range(1, 32)]
    assert got[:4] == ["1st", "2nd", "3rd", "4th"] and got[10:13] == ["11th", "12th", "13th"]


def test_weekdays_are_right():
    assert format_date(datetime.date(2000, 1, 1), "weekday_month_day_year").startswith("saturday")
    assert format_date(datetime.date(2024, 2, 29), "weekday_month_day_year").startswith("thursday")
    assert format_date(datetime.date(1900, 1, 1), "weekday_month_day_year").startswith("monday")


def test_generated_dates_cover_every_format_and_case_and_parse_back():
    pairs = TASKS["dates"].generate(random.Random(5), 4000)
    formats, cases = set(), set()
    for src, tgt in pairs:
        iso, fmt = parse(src)
        assert iso == tgt, src
        assert "1900-01-01" <= tgt <= "2099-12-31"
        formats.add(fmt)
        cases.add(case_of(src))
    assert formats == set(DATE_FORMATS)
    assert set(CASES) <= cases


def test_two_digit_years_only_where_they_round_trip():
    pairs = TASKS["dates"].generate(random.Random(9), 6000)
    two_digit = [(s, t) for s, t in pairs if re.fullmatch(r"\d+/\d+/\d\d", s)]
    assert len(two_digit) > 300
    years = [int(t[:4]) for _, t in two_digit]
    assert min(years) >= 1950 and max(years) <= 2049
    assert any(y < 2000 for y in years) and any(y >= 2000 for y in years)
    assert format_date(datetime.date(2049, 12, 31), "m/d/yy") == "12/31/49"
    assert parse("12/31/49")[0] == "2049-12-31" and parse("1/1/50")[0] == "1950-01-01"


def test_date_format_rejects_unknown_names():
    with pytest.raises(ValueError):
        format_date(datetime.date(2000, 1, 1), "yyyy/mm/dd")
    with pytest.raises(ValueError):
        format_date(datetime.date(2000, 1, 1), "iso", "title")


def test_string_tasks_compute_their_targets():
    r = random.Random(0)
    for src, tgt in TASKS["copy"].generate(r, 200):
        assert tgt == src
    for src, tgt in TASKS["reverse"].generate(r, 200):
        assert tgt == src[::-1]
    for src, tgt in TASKS["sort"].generate(r, 200):
        assert list(tgt) == sorted(src)


def test_length_range_is_configurable():
    pairs = TASKS["reverse"].generate(random.Random(1), 500, max_len=5, min_len=3)
    assert {len(s) for s, _ in pairs} == {3, 4, 5}
    default = TASKS["reverse"].generate(random.Random(1), 2000)
    assert max(len(s) for s, _ in default) == 20 and min(len(s) for s, _ in default) == 1
    with pytest.raises(UserError):
        TASKS["copy"].generate(random.Random(1), 5, max_len=0)
    with pytest.raises(UserError):
        TASKS["copy"].generate(random.Random(1), 5, max_operand=3)


def test_addition_targets_are_correct():
    pairs = TASKS["addition"].generate(random.Random(2), 2000)
    for src, tgt in pairs:
        a, b = src.split("+")
        assert int(tgt) == int(a) + int(b)
        assert 0 <= int(a) <= 999 and 0 <= int(b) <= 999
        assert str(int(a)) == a and str(int(tgt)) == tgt  # no leading zeros
    assert max(int(t) for _, t in pairs) > 1000


@pytest.mark.parametrize("name", sorted(TASKS))
def test_splits_are_disjoint_deterministic_and_seeded(name):
    train, test = make_splits(name, 2000, 300, seed=4)
    assert len(train) == 2000 and len(test) == 300
    assert not {s for s, _ in train} & {s for s, _ in test}
    assert make_splits(name, 2000, 300, seed=4) == (train, test)
    other_train, other_test = make_splits(name, 2000, 300, seed=5)
    assert other_train != train and other_test != test
    assert TASKS[name].recommended_size > 0 and TASKS[name].name == name


def test_small_task_spaces_give_a_shorter_test_set_instead_of_hanging():
    train, test = make_splits("copy", 2000, 100, seed=0, max_len=2, alphabet="ab")
    assert not {s for s, _ in train} & {s for s, _ in test}
    assert len(test) < 100


def test_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="choose one of"):
        make_splits("palindrome", 10, 10, seed=0)
