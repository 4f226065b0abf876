"""What a Cloudflare Rules-language expression applies to, for a request to a given host and path.

A small evaluator, not a full parser: it reads the boolean structure (`and`, `or`, `xor`, `not`,
parentheses) and evaluates the conditions on the host (`http.host`) and on the path
(`http.request.uri.path`) for a sample request, in three-valued logic: a condition on anything
else (user agent, method, headers, cookies, scores) is unknown, so the expression may be true.
That is enough to say whether a rule can reach `project-awareness.chitty.cc/api/auth/` whatever
its host scoping (`(http.host in {"a" "b"} or (http.host eq "c" and starts_with(...))) and ...`).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

MAYBE = None  # the third truth value
_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<set>\{[^}]*\})|(?P<open>\()|(?P<close>\))'
                    r'|(?P<word>[^\s(){}"]+))')
_STRING = r'"((?:[^"\\]|\\.)*)"'
_PATH = r"(?:raw\.)?http\.request\.uri\.path"
_HOST = r"http\.host"
_CALL = re.compile(rf"^(starts_with|ends_with)\(\s*({_PATH}|{_HOST})\s*,\s*{_STRING}\s*\)$")
_COMPARE = re.compile(rf"^({_PATH}|{_HOST})\s+(eq|==|ne|!=|contains|matches|~|wildcard|strict wildcard|in)\s+(.+)$")
_CONNECTIVES = {"and": "and", "&&": "and", "or": "or", "||": "or", "xor": "xor", "^^": "xor"}


def _tokens(expression: str) -> list[str]:
    """Words, strings, sets and parentheses; a function call (`name(`...`)`) is one token."""
    raw = [m.group(0).strip() for m in _TOKEN.finditer(expression) if m.group(0).strip()]
    merged: list[str] = []
    index = 0
    while index < len(raw):
        token = raw[index]
        if (index + 1 < len(raw) and raw[index + 1] == "(" and re.match(r"^[a-z_]+$", token)
                and token not in _CONNECTIVES and token != "not"):
            depth, parts, index = 0, [token], index + 1
            while index < len(raw):
                part = raw[index]
                depth += {"(": 1, ")": -1}.get(part, 0)
                parts.append(part)
                index += 1
                if depth == 0:
                    break
            merged.append(_join(parts))
            continue
        merged.append(token)
        index += 1
    return merged


def _join(parts: list[str]) -> str:
    text = " ".join(parts)
    return re.sub(r"\s*([(),])\s*", lambda m: {"(": "(", ")": ")", ",": ", "}[m.group(1)], text).strip()


def _strings(text: str) -> list[str]:
    return [s.replace('\\"', '"') for s in re.findall(_STRING, text)]


def _test(op: str, operand: str, value: str) -> bool:
    strings = _strings(operand)
    target = strings[0] if strings else operand
    if op in ("eq", "=="):
        return value == target
    if op in ("ne", "!="):
        return value != target
    if op == "contains":
        return target in value
    if op == "in":
        return value in strings
    if op in ("wildcard", "strict wildcard"):
        return fnmatch.fnmatch(value.lower() if op == "wildcard" else value, target)
    try:
        return re.search(target, value) is not None
    except re.error:
        return False


def _atom(text: str, host: str, path: str) -> bool | None:
    text = text.strip()
    if text in ("true", "false"):
        return text == "true"
    subject = lambda field: host if field == "http.host" else path  # noqa: E731
    call = _CALL.match(text)
    if call:
        value, operand = subject(call.group(2)), call.group(3)
        return value.startswith(operand) if call.group(1) == "starts_with" else value.endswith(operand)
    compare = _COMPARE.match(text)
    if compare:
        return _test(compare.group(2), compare.group(3), subject(compare.group(1)))
    return MAYBE


def _and(a: bool | None, b: bool | None) -> bool | None:
    return False if a is False or b is False else MAYBE if MAYBE in (a, b) else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    return True if a is True or b is True else MAYBE if MAYBE in (a, b) else False


def _not(a: bool | None) -> bool | None:
    return MAYBE if a is MAYBE else not a


class _Parser:
    def __init__(self, tokens: list[str], host: str, path: str):
        self.tokens, self.at, self.host, self.path = tokens, 0, host, path

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        self.at += 1
        return self.tokens[self.at - 1]

    def expression(self) -> bool | None:
        value = self.conjunction()
        while _CONNECTIVES.get(self.peek() or "") in ("or", "xor"):
            op, other = _CONNECTIVES[self.take()], self.conjunction()
            value = _or(value, other) if op == "or" else MAYBE if MAYBE in (value, other) else value != other
        return value

    def conjunction(self) -> bool | None:
        value = self.negation()
        while _CONNECTIVES.get(self.peek() or "") == "and":
            self.take()
            value = _and(value, self.negation())
        return value

    def negation(self) -> bool | None:
        if self.peek() in ("not", "!"):
            self.take()
            return _not(self.negation())
        if self.peek() == "(":
            self.take()
            value = self.expression()
            if self.peek() == ")":
                self.take()
            return value
        words = []
        while self.peek() is not None and self.peek() not in (")",) and self.peek() not in _CONNECTIVES:
            words.append(self.take())
        return _atom(" ".join(words), self.host, self.path)


def applies(expression: Any, host: str, path: str) -> bool | None:
    """Whether the expression matches a request to `host` and `path`: True, False, or None (it
    depends on something else about the request)."""
    text = str(expression or "").strip() or "true"
    try:
        return _Parser(_tokens(text), host, path).expression()
    except (IndexError, ValueError):
        return MAYBE


def reaches(expression: Any, host: str, path: str) -> bool:
    """The expression can match such a request (true, or depending on other conditions)."""
    return applies(expression, host, path) is not False


def always(expression: Any, host: str, path: str, ignore: tuple[str, ...] = ()) -> bool:
    """The expression matches every such request; conditions naming one of `ignore` (e.g. the
    report's cookie bypass, `http.cookie`) are taken as met."""
    text = str(expression or "")
    for field in ignore:  # `not http.cookie contains "x"` -> `not false`
        text = re.sub(rf"{re.escape(field)}\s+\w+\s+{_STRING}", "false", text)
    return applies(text, host, path) is True


def mentions(expression: Any, *needles: str) -> bool:
    """Every needle occurs in the expression, case-insensitively (field names, header names)."""
    text = str(expression or "").lower()
    return all(needle.lower() in text for needle in needles)
