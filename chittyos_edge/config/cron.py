"""Cron expressions as Cloudflare Workers cron triggers read them.

Cloudflare's syntax (the Workers "Cron Triggers" documentation, "Supported cron expressions"): five
fields, minute 0-59, hour 0-23, day of month 1-31 (with `L` and `W`), month 1-12 or JAN-DEC, day
of week 1-7 or SUN-SAT with 1 = Sunday (with `L` and `#`); each field takes `*`, lists (`,`),
ranges (`-`) and steps (`/`); names are case-insensitive.

A small validator rather than a library: the well-kept Python cron libraries (croniter and its
kin) number the days of the week 0-6 from Sunday, so they would accept `0` and read `1` as
Monday where Cloudflare reads Sunday, and they do not take `W`.
"""

from __future__ import annotations

import re

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

# name, lowest, highest, names (numbered from `lowest`)
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 1, 7, _DAYS),
)
_DAY_OF_MONTH, _DAY_OF_WEEK = 2, 4
_NUMBER = re.compile(r"^\d{1,2}$")


def cron_problem(expression: str) -> str | None:
    """What is wrong with `expression` for Cloudflare, or None when it is a valid schedule."""
    fields = expression.split()
    if len(fields) != 5:
        return (f"has {len(fields)} fields; Cloudflare takes five: minute hour day-of-month month day-of-week, "
                "e.g. '0 * * * *'")
    for index, text in enumerate(fields):
        problem = _field_problem(index, text)
        if problem:
            return problem
    return None


def _field_problem(index: int, text: str) -> str | None:
    name, low, high, names = _FIELDS[index]
    for item in text.split(","):
        if not item:
            return f"{name} field {text!r} has an empty list item"
        special = _special(index, item, names)
        if special is not None:
            if special:
                return special
            continue
        base, slash, step = item.partition("/")
        if slash:
            if not _NUMBER.match(step) or not 1 <= int(step) <= high - low + 1:
                return f"{name} step {step!r} in {item!r} must be 1-{high - low + 1}"
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        first = _value(start, low, high, names)
        if first is None:
            return _out_of_range(name, start, low, high, names)
        if dash:
            last = _value(end, low, high, names)
            if last is None:
                return _out_of_range(name, end, low, high, names)
            if last < first:
                return f"{name} range {base!r} runs backwards; write it from low to high"
    return None


def _special(index: int, item: str, names: tuple[str, ...]) -> str | None:
    """'' for a valid `L`/`W`/`#` item, a problem for an invalid one, None when the item is not one."""
    upper = item.upper()
    if index == _DAY_OF_MONTH and ("L" in upper or "W" in upper):
        if upper in ("L", "LW"):
            return ""
        day = upper[:-1]
        if upper.endswith("W") and _NUMBER.match(day) and 1 <= int(day) <= 31:
            return ""
        return f"day of month {item!r}: use L (last day), LW (last weekday) or <day>W (nearest weekday), e.g. 15W"
    if index == _DAY_OF_WEEK and ("L" in upper or "#" in upper):
        if upper == "L":
            return ""
        if upper.endswith("L") and _value(upper[:-1], 1, 7, names) is not None:
            return ""
        day, hash_, nth = upper.partition("#")
        if hash_ and _value(day, 1, 7, names) is not None and nth in ("1", "2", "3", "4", "5"):
            return ""
        return f"day of week {item!r}: use <day>L (last of the month, e.g. 6L) or <day>#<1-5> (e.g. MON#2)"
    return None


def _value(text: str, low: int, high: int, names: tuple[str, ...]) -> int | None:
    if _NUMBER.match(text):
        number = int(text)
        return number if low <= number <= high else None
    if text.upper() in names:
        return names.index(text.upper()) + low
    return None


def _out_of_range(name: str, text: str, low: int, high: int, names: tuple[str, ...]) -> str:
    allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
    if name == "day of week":
        allowed += " (1 = Sunday)"
    return f"{name} {text!r} is not {allowed}"
