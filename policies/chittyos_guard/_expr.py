"""Reading Cloudflare Rules-language expressions well enough to say what a rule applies to.

Not a parser: the rules find the conditions on the request path and on the host, whatever else
the expression says and however it is scoped (`(http.host in {"a.chitty.cc" "b.chitty.cc"} and
starts_with(http.request.uri.path, "/api/"))`). A rule applies to a sample path when one of its
positive path conditions matches it, or it has none, and no negated path condition matches it.
The `and`/`or` structure is not evaluated, so an expression that needs it is judged by its
conditions alone; the program's expressions are conjunctions.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

_PATH = r"(?:raw\.)?http\.request\.uri\.path"
_STRING = r'"((?:[^"\\]|\\.)*)"'
_SET = r"\{([^}]*)\}"
_NOT = r"(not\s+|!\s*)?\(?\s*"
_ATOMS = [
    ("starts_with", re.compile(_NOT + rf"starts_with\(\s*{_PATH}\s*,\s*{_STRING}\s*\)")),
    ("ends_with", re.compile(_NOT + rf"ends_with\(\s*{_PATH}\s*,\s*{_STRING}\s*\)")),
    ("eq", re.compile(_NOT + rf"{_PATH}\s+(?:eq|==)\s+{_STRING}")),
    ("ne", re.compile(_NOT + rf"{_PATH}\s+(?:ne|!=)\s+{_STRING}")),
    ("contains", re.compile(_NOT + rf"{_PATH}\s+contains\s+{_STRING}")),
    ("wildcard", re.compile(_NOT + rf"{_PATH}\s+(?:strict\s+)?wildcard\s+{_STRING}")),
    ("matches", re.compile(_NOT + rf"{_PATH}\s+(?:matches|~)\s+{_STRING}")),
    ("in", re.compile(_NOT + rf"{_PATH}\s+in\s+{_SET}")),
]
_HOST_EQ = re.compile(r'http\.host\s+(?:eq|==)\s+' + _STRING)
_HOST_IN = re.compile(r"http\.host\s+in\s+" + _SET)


def _strings(text: str) -> list[str]:
    return re.findall(_STRING, text)


def _matches(op: str, operand: str, path: str) -> bool:
    if op == "starts_with":
        return path.startswith(operand)
    if op == "ends_with":
        return path.endswith(operand)
    if op in ("eq", "ne"):
        return (path == operand) == (op == "eq")
    if op == "contains":
        return operand in path
    if op == "wildcard":
        return fnmatch.fnmatchcase(path, operand)
    if op == "matches":
        try:
            return re.search(operand, path) is not None
        except re.error:
            return False
    return path in _strings(operand)


def path_conditions(expression: Any) -> list[tuple[bool, str, str]]:
    """(negated, operator, operand) for each condition on the request path."""
    text = str(expression or "")
    return [(bool(m.group(1)), op, m.group(2)) for op, pattern in _ATOMS for m in pattern.finditer(text)]


def applies_to_path(expression: Any, path: str) -> bool:
    conditions = path_conditions(expression)
    positive = [(op, operand) for negated, op, operand in conditions if not negated]
    negative = [(op, operand) for negated, op, operand in conditions if negated]
    if any(_matches(op, operand, path) for op, operand in negative):
        return False
    return not positive or any(_matches(op, operand, path) for op, operand in positive)


def restricts_path(expression: Any) -> bool:
    """The expression narrows the paths it applies to (a header rule for some paths only)."""
    return any(not negated for negated, _, _ in path_conditions(expression))


def scoped_hosts(expression: Any) -> set[str] | None:
    """The hostnames an expression is limited to, or None when it names none (every host)."""
    text = str(expression or "")
    hosts = set(_HOST_EQ.findall(text))
    for group in _HOST_IN.findall(text):
        hosts.update(_strings(group))
    return hosts or None


def applies_to_host(expression: Any, host: str) -> bool:
    hosts = scoped_hosts(expression)
    return hosts is None or host in hosts


def mentions(expression: Any, *needles: str) -> bool:
    """Every needle occurs in the expression, case-insensitively (field names, header names)."""
    text = str(expression or "").lower()
    return all(needle.lower() in text for needle in needles)
