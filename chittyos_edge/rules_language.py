"""A parser and evaluator for the subset of Cloudflare's Rules language (wirefilter) this program writes.

Used twice: config validation parses every ruleset expression and checks each field, function,
operator and managed list against `data/rules_language.json` (the Rules-language reference, with the
plan each needs); tests evaluate the generated expressions against sample requests, so a claim such
as "no production rule matches www.chitty.cc" is proven by evaluation, not by searching strings.

Grammar (https://developers.cloudflare.com/ruleset-engine/rules-language/): `or`/`||` < `xor`/`^^` <
`and`/`&&` < `not`/`!` < comparison; a comparison is `value [op value]` with the operators `eq ne lt
le gt ge contains wildcard strict wildcard matches in` (and their C-like forms); a value is a field
(with `["key"]`, `[n]` or `[*]` accessors), a function call (optionally followed by `[*]`), a string,
an integer, an inline list `{...}`, a named list `$name` or `true`/`false`.

Evaluation follows wirefilter's array rules: `x[*]` unpacks an array, functions and comparisons
then apply to each element, and `any()`/`all()` reduce the result. A field missing from the request
has its type's empty value (wirefilter's behaviour for absent headers, cookies and arguments).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, Mapping

DATA_FILE = Path(__file__).with_name("data") / "rules_language.json"


class ExpressionError(ValueError):
    """The expression does not parse (message says where)."""


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The committed Rules-language reference: fields, functions, operators, managed lists, sources."""
    return json.loads(DATA_FILE.read_text())


# ---- tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|&&|\|\||\^\^|[<>!~])
  | (?P<punct>[(){}\[\],*])
  | (?P<named>\$[a-z0-9_.]+)
  | (?P<addr>\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?|[0-9a-fA-F]*::?[0-9a-fA-F:]*(?:/\d{1,3})?)
  | (?P<number>-?\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"unexpected character {text[pos]!r} at offset {pos}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


# ---- syntax tree -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class ListLiteral:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class NamedList:
    name: str


@dataclass(frozen=True)
class Field:
    name: str
    accessors: tuple[Any, ...] = ()  # "key", 3 or STAR


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Any, ...]
    unpack: bool = False


@dataclass(frozen=True)
class Compare:
    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "and", "or", "xor"
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    operand: Any


STAR = "*"
_OPS = {"eq": "eq", "==": "eq", "ne": "ne", "!=": "ne", "lt": "lt", "<": "lt", "le": "le", "<=": "le",
        "gt": "gt", ">": "gt", "ge": "ge", ">=": "ge", "contains": "contains", "matches": "matches",
        "~": "matches", "wildcard": "wildcard", "in": "in"}
_LOGICAL = {"or": "or", "||": "or", "xor": "xor", "^^": "xor", "and": "and", "&&": "and"}


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("unexpected end of expression")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise ExpressionError(f"expected {text!r} at offset {token.at}, found {token.text!r}")

    def parse(self) -> Any:
        node = self.logical(0)
        if self.peek() is not None:
            token = self.peek()
            raise ExpressionError(f"unexpected {token.text!r} at offset {token.at}")
        return node

    _LEVELS = ("or", "xor", "and")

    def logical(self, level: int) -> Any:
        if level == len(self._LEVELS):
            return self.unary()
        operands = [self.logical(level + 1)]
        while (token := self.peek()) is not None and _LOGICAL.get(token.text) == self._LEVELS[level]:
            self.next()
            operands.append(self.logical(level + 1))
        return operands[0] if len(operands) == 1 else Logical(self._LEVELS[level], tuple(operands))

    def unary(self) -> Any:
        token = self.peek()
        if token is not None and token.text in ("not", "!"):
            self.next()
            return Not(self.unary())
        if token is not None and token.text == "(":
            self.next()
            inner = self.logical(0)
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Any:
        left = self.value()
        token = self.peek()
        if token is None:
            return left
        text = token.text
        if text == "strict":
            self.next()
            self.expect("wildcard")
            return Compare("strict wildcard", left, self.value())
        op = _OPS.get(text)
        if op is None:
            return left
        self.next()
        if op == "in":
            return Compare("in", left, self.list_value())
        return Compare(op, left, self.value())

    def list_value(self) -> Any:
        token = self.next()
        if token.kind == "named":
            return NamedList(token.text[1:])
        if token.text != "{":
            raise ExpressionError(f"expected a list after 'in' at offset {token.at}")
        values = []
        while (token := self.next()).text != "}":
            values.append(self.scalar(token))
        return ListLiteral(tuple(values))

    def scalar(self, token: Token) -> Any:
        if token.kind == "string":
            return json.loads(token.text)
        if token.kind == "number":
            return int(token.text)
        if token.kind == "addr":
            return token.text
        raise ExpressionError(f"unexpected {token.text!r} in a list at offset {token.at}")

    def value(self) -> Any:
        token = self.next()
        if token.kind in ("string", "number"):
            return Literal(self.scalar(token))
        if token.kind == "word":
            if token.text in ("true", "false"):
                return Literal(token.text == "true")
            if (following := self.peek()) is not None and following.text == "(":
                return self.call(token.text)
            return Field(token.text, self.accessors())
        raise ExpressionError(f"unexpected {token.text!r} at offset {token.at}")

    def call(self, name: str) -> Call:
        self.expect("(")
        args = []
        if (token := self.peek()) is not None and token.text == ")":
            self.next()
        else:
            while True:
                args.append(self.logical(0))
                token = self.next()
                if token.text == ")":
                    break
                if token.text != ",":
                    raise ExpressionError(f"expected ',' or ')' at offset {token.at}")
        unpack = False
        if (token := self.peek()) is not None and token.text == "[":
            self.next()
            self.expect("*")
            self.expect("]")
            unpack = True
        return Call(name, tuple(args), unpack)

    def accessors(self) -> tuple[Any, ...]:
        found = []
        while (token := self.peek()) is not None and token.text == "[":
            self.next()
            inner = self.next()
            if inner.text == "*":
                found.append(STAR)
            elif inner.kind == "string":
                found.append(json.loads(inner.text))
            elif inner.kind == "number":
                found.append(int(inner.text))
            else:
                raise ExpressionError(f"unexpected {inner.text!r} in [] at offset {inner.at}")
            self.expect("]")
        return tuple(found)


@lru_cache(maxsize=512)
def parse(text: str) -> Any:
    """The syntax tree of an expression; raises ExpressionError with the offset of the problem."""
    return _Parser(text).parse()


# ---- what an expression uses ------------------------------------------------------------------

@dataclass
class Usage:
    fields: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)
    named_lists: set[str] = field(default_factory=set)
    strings: list[tuple[str, str, str]] = field(default_factory=list)  # (field, op, value)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children: tuple[Any, ...] = ()
    if isinstance(node, Logical):
        children = node.operands
    elif isinstance(node, Not):
        children = (node.operand,)
    elif isinstance(node, Compare):
        children = (node.left, node.right)
    elif isinstance(node, Call):
        children = node.args
    for child in children:
        yield from _walk(child)


def usage(text: str) -> Usage:
    found = Usage()
    for node in _walk(parse(text)):
        if isinstance(node, Field):
            found.fields.add(node.name)
        elif isinstance(node, Call):
            found.functions.add(node.name)
        elif isinstance(node, Compare):
            found.operators.add(node.op)
            if isinstance(node.right, NamedList):
                found.named_lists.add(node.right.name)
        elif isinstance(node, NamedList):
            found.named_lists.add(node.name)
    return found


# ---- evaluation ------------------------------------------------------------------------------

class Each(list):
    """An unpacked array (`x[*]`): operations apply to each element."""


_EMPTY = {"String": "", "Number": 0, "Boolean": False, "IP": "0.0.0.0", "Array<String>": [],
          "Map<Array<String>>": {}}


def _field_value(node: Field, request: Mapping[str, Any]) -> Any:
    fields = reference()["fields"]
    if node.name in request:
        value = request[node.name]
    elif node.name in fields:
        value = _EMPTY[fields[node.name]["type"]]
    else:
        raise ExpressionError(f"unknown field {node.name!r}")
    for accessor in node.accessors:
        if accessor == STAR:
            value = Each(value.values() if isinstance(value, dict) else value)
        elif isinstance(value, dict):
            value = value.get(accessor, [])
        elif isinstance(value, list):
            value = value[accessor] if -len(value) <= accessor < len(value) else ""
    return value


def _apply(function, *args: Any) -> Any:
    """Apply elementwise when an argument is unpacked."""
    each = next((a for a in args if isinstance(a, Each)), None)
    if each is None:
        return function(*args)
    return Each(function(*(item if a is each else a for a in args)) for item in each)


def _in(value: Any, candidates: tuple[Any, ...]) -> bool:
    for candidate in candidates:
        if isinstance(candidate, str) and "/" in candidate and isinstance(value, str):
            try:
                if ipaddress.ip_address(value) in ipaddress.ip_network(candidate, strict=False):
                    return True
            except ValueError:
                pass
        if value == candidate:
            return True
    return False


_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "contains": lambda a, b: b in a,
    "matches": lambda a, b: re.search(b, a) is not None,
    "wildcard": lambda a, b: fnmatch.fnmatchcase(a.lower(), b.lower()),
    "strict wildcard": lambda a, b: fnmatch.fnmatchcase(a, b),
}

_FUNCTIONS = {
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "len": len,
    "starts_with": lambda s, p: s.startswith(p),
    "ends_with": lambda s, p: s.endswith(p),
    "concat": lambda *parts: "".join(parts),
    "to_string": str,
    "has_key": lambda m, k: k in m,
    "has_value": lambda a, v: v in a,
}


def evaluate(text: str, request: Mapping[str, Any], lists: Mapping[str, list] | None = None) -> bool:
    """Whether the expression matches `request` (a mapping of field name to value)."""
    result = _eval(parse(text), request, lists or {})
    if isinstance(result, Each):
        raise ExpressionError("an unpacked array ([*]) must be reduced with any() or all()")
    return bool(result)


def _eval(node: Any, request: Mapping[str, Any], lists: Mapping[str, list]) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Field):
        return _field_value(node, request)
    if isinstance(node, Not):
        return _apply(lambda v: not v, _eval(node.operand, request, lists))
    if isinstance(node, Logical):
        values = [bool(_eval(operand, request, lists)) for operand in node.operands]
        if node.op == "and":
            return all(values)
        if node.op == "or":
            return any(values)
        return sum(values) % 2 == 1
    if isinstance(node, Compare):
        left = _eval(node.left, request, lists)
        if node.op == "in":
            candidates = (tuple(lists.get(node.right.name, ())) if isinstance(node.right, NamedList)
                          else node.right.values)
            return _apply(lambda v: _in(v, candidates), left)
        right = _eval(node.right, request, lists)
        return _apply(_COMPARE[node.op], left, right)
    if isinstance(node, Call):
        args = [_eval(arg, request, lists) for arg in node.args]
        if node.name in ("any", "all"):
            (values,) = args
            return (any if node.name == "any" else all)(bool(v) for v in values)
        if node.name not in _FUNCTIONS:
            raise ExpressionError(f"the test evaluator does not implement {node.name}()")
        result = _apply(_FUNCTIONS[node.name], *args)
        return Each(result) if node.unpack and not isinstance(result, Each) else result
    raise ExpressionError(f"cannot evaluate {node!r}")


# ---- building expressions --------------------------------------------------------------------

def quote(value: str) -> str:
    """A Rules-language string literal."""
    return json.dumps(value)


def host_condition(served: list[str]) -> str:
    """The requests a rule is scoped to: whole hostnames (`http.host in {...}`) and Worker routes given
    as 'host/prefix/' (that host, under that path prefix only)."""
    if not served:
        raise ValueError("a scoped rule needs at least one hostname")
    hosts = [entry for entry in served if "/" not in entry]
    parts = []
    if hosts:
        parts.append("http.host in {" + " ".join(quote(h) for h in hosts) + "}")
    for entry in served:
        if "/" in entry:
            host, prefix = entry.split("/", 1)
            parts.append(f"(http.host eq {quote(host)} and starts_with(http.request.uri.path, {quote('/' + prefix)}))")
    return " or ".join(parts)


def scoped(served: list[str], expression: str) -> str:
    """The expression restricted to `served` (see host_condition); `true` becomes the condition alone."""
    condition = host_condition(served)
    if expression.strip() == "true":
        return f"({condition})"
    return f"({condition}) and ({expression})"
