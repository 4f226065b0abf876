"""What a Cloudflare Rules-language expression applies to, for a request to a given host and path.

A small evaluator, not a full parser: it reads the boolean structure (`and`, `or`, `xor`, `not`,
parentheses) and evaluates the conditions on the host (`http.host`) and on the path
(`http.request.uri.path`) for a sample request, in three-valued logic: a condition on anything
else (user agent, method, headers, cookies, scores) is unknown, so the expression may be true.
That is enough to say whether a rule can reach `project-awareness.chitty.cc/api/auth/` whatever
its host scoping (`(http.host in {"a" "b"} or (http.host eq "c" and starts_with(...))) and ...`).

An expression is read once into a condition (its host list grows with the stack, and the rules try
it on every site); `Requests` tries one on many requests at the cost of the hosts it names.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from typing import Any, Callable, Iterable, NamedTuple

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


class _Condition(NamedTuple):
    test: Callable[[str, str], "bool | None"]  # (host, path) -> truth
    # The strings the host is compared with, when only for equality (`eq`, `ne`, `in`); None when the
    # host is tested otherwise (`contains`, `matches`, `starts_with`...). Empty: the host is not read.
    host_literals: frozenset[str] | None


_HOST_UNREAD: frozenset[str] = frozenset()


def _compare(op: str, operand: str) -> Callable[[str], bool]:
    strings = _strings(operand)
    target = strings[0] if strings else operand
    if op in ("eq", "=="):
        return lambda value: value == target
    if op in ("ne", "!="):
        return lambda value: value != target
    if op == "contains":
        return lambda value: target in value
    if op == "in":
        members = frozenset(strings)
        return lambda value: value in members
    if op in ("wildcard", "strict wildcard"):
        lower = op == "wildcard"
        return lambda value: fnmatch.fnmatch(value.lower() if lower else value, target)
    try:
        pattern = re.compile(target)
    except re.error:
        return lambda value: False
    return lambda value: pattern.search(value) is not None


def _atom(text: str) -> _Condition:
    text = text.strip()
    if text in ("true", "false"):
        truth = text == "true"
        return _Condition(lambda host, path: truth, _HOST_UNREAD)
    call = _CALL.match(text)
    if call:
        operand = call.group(3)
        check = str.startswith if call.group(1) == "starts_with" else str.endswith
        if call.group(2) == "http.host":
            return _Condition(lambda host, path: check(host, operand), None)
        return _Condition(lambda host, path: check(path, operand), _HOST_UNREAD)
    compare = _COMPARE.match(text)
    if compare:
        field, op, operand = compare.groups()
        matches = _compare(op, operand)
        if field != "http.host":
            return _Condition(lambda host, path: matches(path), _HOST_UNREAD)
        strings = _strings(operand)
        literals = frozenset(strings if op == "in" else [strings[0] if strings else operand])
        return _Condition(lambda host, path: matches(host), literals if op in ("eq", "==", "ne", "!=", "in") else None)
    return _Condition(lambda host, path: MAYBE, _HOST_UNREAD)


def _and(a: bool | None, b: bool | None) -> bool | None:
    return False if a is False or b is False else MAYBE if MAYBE in (a, b) else True


def _or(a: bool | None, b: bool | None) -> bool | None:
    return True if a is True or b is True else MAYBE if MAYBE in (a, b) else False


def _xor(a: bool | None, b: bool | None) -> bool | None:
    return MAYBE if MAYBE in (a, b) else a != b


def _not(a: bool | None) -> bool | None:
    return MAYBE if a is MAYBE else not a


def _chain(first: _Condition, rest: list[tuple[Callable[[Any, Any], Any], _Condition]]) -> _Condition:
    """`a op b op c ...`, folded left to right as written (a loop, so a long chain needs no deep stack)."""
    if not rest:
        return first

    def test(host: str, path: str) -> bool | None:
        value = first.test(host, path)
        for combine, other in rest:
            value = combine(value, other.test(host, path))
        return value
    parts = [first, *(other for _, other in rest)]
    literals = None if any(p.host_literals is None for p in parts) else frozenset().union(
        *(p.host_literals for p in parts))
    return _Condition(test, literals)


class _Parser:
    """The expression's boolean structure, read once into a condition to evaluate for any request."""

    def __init__(self, tokens: list[str]):
        self.tokens, self.at = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        self.at += 1
        return self.tokens[self.at - 1]

    def expression(self) -> _Condition:
        first, rest = self.conjunction(), []
        while _CONNECTIVES.get(self.peek() or "") in ("or", "xor"):
            op = _CONNECTIVES[self.take()]
            rest.append((_or if op == "or" else _xor, self.conjunction()))
        return _chain(first, rest)

    def conjunction(self) -> _Condition:
        first, rest = self.negation(), []
        while _CONNECTIVES.get(self.peek() or "") == "and":
            self.take()
            rest.append((_and, self.negation()))
        return _chain(first, rest)

    def negation(self) -> _Condition:
        if self.peek() in ("not", "!"):
            self.take()
            inner = self.negation()
            return _Condition(lambda host, path: _not(inner.test(host, path)), inner.host_literals)
        if self.peek() == "(":
            self.take()
            value = self.expression()
            if self.peek() == ")":
                self.take()
            return value
        words = []
        while self.peek() is not None and self.peek() not in (")",) and self.peek() not in _CONNECTIVES:
            words.append(self.take())
        return _atom(" ".join(words))


@functools.lru_cache(maxsize=4096)
def _condition(text: str) -> _Condition:
    """An expression read once (rules are tried against every site of the stack, and several rules
    share one expression)."""
    try:
        return _Parser(_tokens(text)).expression()
    except (IndexError, ValueError):
        return _Condition(lambda host, path: MAYBE, _HOST_UNREAD)


def applies(expression: Any, host: str, path: str) -> bool | None:
    """Whether the expression matches a request to `host` and `path`: True, False, or None (it
    depends on something else about the request)."""
    return _condition(str(expression or "").strip() or "true").test(host, path)


def reaches(expression: Any, host: str, path: str) -> bool:
    """The expression can match such a request (true, or depending on other conditions)."""
    return applies(expression, host, path) is not False


def always(expression: Any, host: str, path: str, ignore: tuple[str, ...] = ()) -> bool:
    """The expression matches every such request; conditions naming one of `ignore` (e.g. the
    report's cookie bypass, `http.cookie`) are taken as met."""
    return applies(_ignoring(str(expression or ""), ignore), host, path) is True


@functools.lru_cache(maxsize=4096)
def _ignoring(text: str, ignore: tuple[str, ...]) -> str:
    for field in ignore:  # `not http.cookie contains "x"` -> `not false`
        text = re.sub(rf"{re.escape(field)}\s+\w+\s+{_STRING}", "false", text)
    return text


def mentions(expression: Any, *needles: str) -> bool:
    """Every needle occurs in the expression, case-insensitively (field names, header names)."""
    text = str(expression or "").lower()
    return all(needle.lower() in text for needle in needles)


class Requests:
    """Sample requests (host, path) that a stack's rules are tried against, indexed once.

    Many rules name their hosts (`http.host in {...}`, `http.host eq "..."`), and such a rule answers
    alike for every host it does not name. So a rule comparing the host only for equality is evaluated
    for the requests to the hosts it names, and once per path for all the others: trying every rule of
    a stack on every site it serves costs the sites plus the hosts the rules name, not their product.
    A rule testing the host otherwise (`contains`, `matches`, `ends_with`) is evaluated per request."""

    def __init__(self, requests: Iterable[tuple[str, str]]):
        self.requests = list(requests)
        self._at_host: dict[str, list[int]] = {}
        self._at_path: dict[str, list[int]] = {}
        for index, (host, path) in enumerate(self.requests):
            self._at_host.setdefault(host, []).append(index)
            self._at_path.setdefault(path, []).append(index)

    def reaching(self, expression: Any) -> list[int]:
        """The indexes of the requests for which `reaches(expression, host, path)`, in order."""
        return self._matching(str(expression or "").strip() or "true", lambda truth: truth is not False)

    def always_matching(self, expression: Any, ignore: tuple[str, ...] = ()) -> list[int]:
        """The indexes of the requests for which `always(expression, host, path, ignore)`, in order."""
        return self._matching(_ignoring(str(expression or ""), ignore).strip() or "true", lambda truth: truth is True)

    def _matching(self, text: str, wanted: Callable[[bool | None], bool]) -> list[int]:
        condition = _condition(text)
        literals = condition.host_literals
        if literals is None:
            return [i for i, (host, path) in enumerate(self.requests) if wanted(condition.test(host, path))]
        named = ([host for host in literals if host in self._at_host] if len(literals) < len(self._at_host)
                 else [host for host in self._at_host if host in literals])
        hits = [i for host in named for i in self._at_host[host] if wanted(condition.test(*self.requests[i]))]
        unnamed = "\0" * (1 + max(map(len, literals), default=0))  # equal to none of them
        for path, indexes in self._at_path.items():
            if wanted(condition.test(unnamed, path)):
                hits.extend(i for i in indexes if self.requests[i][0] not in literals)
        return sorted(hits)
