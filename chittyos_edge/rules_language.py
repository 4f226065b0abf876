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


class RouteRewriteError(ExpressionError):
    """A rule's path tests cannot be moved under a Worker route's path prefix soundly (message says why)."""


class TooLongError(ExpressionError):
    """Sites that cannot be parted (a hostname and its routes) alone make an expression over Cloudflare's length."""

    def __init__(self, sites: list[str], length: int):
        shown = sites[0] + (f" (with {len(sites) - 1} routes it shares requests with)" if len(sites) > 1 else "")
        super().__init__(f"on {shown} alone the expression as deployed is {length} characters; Cloudflare "
                         f"allows {MAX_EXPRESSION_LENGTH}")
        self.sites, self.length = sites, length


# "The maximum length of a rule expression is 4,096 characters."
# https://developers.cloudflare.com/ruleset-engine/rules-language/expressions/#maximum-rule-expression-length
MAX_EXPRESSION_LENGTH = 4096


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


class Address(str):
    """An IP address or CIDR range written bare in a list (`{192.0.2.0/24}`): printed back without quotes."""


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
            return Address(token.text)
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
    """A Rules-language string literal (quoted strings escape only `"` and `\\`)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or isinstance(value, Address):
        return str(value)
    return quote(value)


def unparse(node: Any) -> str:
    """The expression text of a syntax tree (`parse(unparse(tree)) == tree`)."""
    def operand(child: Any) -> str:
        return f"({unparse(child)})" if isinstance(child, Logical) else unparse(child)

    if isinstance(node, Logical):
        return f" {node.op} ".join(operand(child) for child in node.operands)
    if isinstance(node, Not):
        return "not " + operand(node.operand)
    if isinstance(node, Compare):
        return f"{unparse(node.left)} {node.op} {unparse(node.right)}"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(unparse(arg) for arg in node.args)})" + ("[*]" if node.unpack else "")
    if isinstance(node, Field):
        return node.name + "".join("[*]" if a == STAR else f"[{_scalar(a)}]" for a in node.accessors)
    if isinstance(node, Literal):
        return _scalar(node.value)
    if isinstance(node, ListLiteral):
        return "{" + " ".join(_scalar(v) for v in node.values) + "}"
    if isinstance(node, NamedList):
        return "$" + node.name
    raise ExpressionError(f"cannot print {node!r}")


# ---- moving path tests under a Worker route's prefix -----------------------------------------
#
# On a custom domain a Worker sees its paths as written (`/api/auth/login`); under the route
# `api.chitty.cc/project-awareness/*` it sees `/project-awareness/api/auth/login`. A rule's path
# tests are written for the first; `rebase` rewrites them so that, on the route, each test gives the
# verdict it gives at the service root. A test that cannot be rewritten soundly is refused.

# Fields whose value starts with the request path (`http.request.uri` adds the query string).
PATH_FIELDS = frozenset({"http.request.uri.path", "raw.http.request.uri.path", "http.request.uri",
                         "raw.http.request.uri"})
# These carry the hostname as well: on a route site it is another host than the service's own.
_HOST_URI_FIELDS = frozenset({"http.request.full_uri", "raw.http.request.full_uri"})
_CASE_FUNCTIONS = {"lower": str.lower, "upper": str.upper}
_REGEX_META = set("\\.+*?()|[]{}^$")


def _path_prefix(node: Any, prefix: str) -> str | None:
    """The route prefix as `node` shows it, when `node` is the path (`lower(path)`: lower-cased)."""
    if isinstance(node, Field) and node.name in PATH_FIELDS and not node.accessors:
        return prefix
    if isinstance(node, Call) and node.name in _CASE_FUNCTIONS and len(node.args) == 1 and not node.unpack:
        inner = _path_prefix(node.args[0], prefix)
        return None if inner is None else _CASE_FUNCTIONS[node.name](inner)
    return None


def _unaffected(needle: str, prefix: str, anywhere: bool) -> bool:
    """Whether a test for `needle` (anywhere in the path, or at its end) gives the same verdict on
    `prefix + path` as on `path`, for every path (paths start with "/"): the needle neither lies in the
    prefix nor spans the join (a suffix of the prefix followed by a "/" in the needle)."""
    if not needle:
        return True
    if anywhere and needle in prefix:
        return False
    return not any(prefix.endswith(needle[:i]) and needle[i] == "/" for i in range(1, len(needle)))


def _anchored(regex: str) -> bool:
    """`^/` then the rest, with no alternative outside a group: only then does every match start at
    the path's first "/", so the prefix can go between `^` and it."""
    if not regex.startswith("^/") or regex[2:3] in ("?", "*", "+", "{"):
        return False
    depth, at, in_class = 0, 2, False
    while at < len(regex):
        char = regex[at]
        if char == "\\":
            at += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            at += 1
            at += regex[at:at + 1] == "^"
            at += regex[at:at + 1] == "]"  # a ']' first in a class is literal
            continue
        elif char in "()":
            depth += 1 if char == "(" else -1
        elif char == "|" and depth == 0:
            return False
        at += 1
    return True


def _rebase_test(node: Any, seen: str, needle: Any) -> Any:
    """One test of the path, as on `seen + path`; `needle` is the literal compared with the path."""
    text = unparse(node)
    fix = "test the path with starts_with(), eq, ne or in, which the program moves under the prefix"
    if isinstance(node, Call):
        if node.name == "starts_with":
            return Call(node.name, (node.args[0], Literal(seen + needle)), node.unpack)
        if _unaffected(needle, seen, anywhere=False):
            return node
        raise RouteRewriteError(f"`{text}` can match across the join of the prefix {seen!r} and the path, where it "
                                f"never matches at the service root; {fix}")
    op = node.op
    if op in ("eq", "ne"):
        return Compare(op, node.left, Literal(seen + needle))
    if op == "in":
        return Compare(op, node.left, ListLiteral(tuple(seen + value for value in needle)))
    if op == "contains":
        if _unaffected(needle, seen, anywhere=True):
            return node
        raise RouteRewriteError(f"`{text}` can match inside the prefix {seen!r} or across its join with the path, "
                                f"where it never matches at the service root; {fix}")
    if op in ("wildcard", "strict wildcard"):
        if needle.startswith("/") and not set(seen) & set("*\\"):
            return Compare(op, node.left, Literal(seen + needle))
        raise RouteRewriteError(f"`{text}` does not start with \"/\", so it can match across the prefix {seen!r}; "
                                "start the pattern with the path's first \"/\"")
    if op == "matches":
        if _anchored(needle):
            escaped = "".join("\\" + c if c in _REGEX_META else c for c in seen)
            return Compare(op, node.left, Literal("^" + escaped + needle[1:]))
        raise RouteRewriteError(f"`{text}` is not anchored at the path's start (`^/...`, no top-level `|`), so it "
                                f"can match across the prefix {seen!r}; anchor it or use starts_with()")
    raise RouteRewriteError(f"`{text}` compares the path by order ({op}), which the prefix {seen!r} changes; {fix}")


def _rebase(node: Any, prefix: str) -> Any:
    if isinstance(node, Logical):
        return Logical(node.op, tuple(_rebase(child, prefix) for child in node.operands))
    if isinstance(node, Not):
        return Not(_rebase(node.operand, prefix))
    if isinstance(node, Compare):
        seen = _path_prefix(node.left, prefix)
        if seen is not None:
            right = node.right
            if isinstance(right, Literal) and type(right.value) is str:
                return _rebase_test(node, seen, right.value)
            if node.op == "in" and isinstance(right, ListLiteral) and all(
                    type(value) is str for value in right.values):
                return _rebase_test(node, seen, right.values)
            raise RouteRewriteError(f"`{unparse(node)}` compares the path with something other than string "
                                    "literals; the program can only move literal paths under the prefix")
        return Compare(node.op, _rebase(node.left, prefix), _rebase(node.right, prefix))
    if isinstance(node, Call):
        if node.name in ("starts_with", "ends_with") and len(node.args) == 2 and not node.unpack:
            seen = _path_prefix(node.args[0], prefix)
            needle = node.args[1]
            if seen is not None and isinstance(needle, Literal) and type(needle.value) is str:
                return _rebase_test(node, seen, needle.value)
        return Call(node.name, tuple(_rebase(arg, prefix) for arg in node.args), node.unpack)
    if isinstance(node, Field) and node.name in _HOST_URI_FIELDS:
        raise RouteRewriteError(f"`{node.name}` includes the hostname, which differs on the route; "
                                "test http.request.uri.path instead")
    if isinstance(node, Field) and node.name in PATH_FIELDS:
        raise RouteRewriteError(
            f"`{unparse(node)}` is used outside a test the program can move under the prefix; test the path "
            "only with starts_with(), ends_with(), eq, ne, in, contains, wildcard \"/...\" or matches \"^/...\"")
    return node


@lru_cache(maxsize=1024)  # a rule is scoped once per chunk it is split into, on the same routes
def rebase(expression: str, prefix: str) -> str:
    """The expression as it must read where the service's paths sit under `prefix` (a Worker route
    `host/project-awareness/*` has prefix "/project-awareness"): path tests moved under it, everything
    else as written. Returns `expression` itself when nothing changes; raises RouteRewriteError for a
    path test that cannot be moved soundly."""
    if not prefix:
        return expression
    tree = parse(expression)
    rebased = _rebase(tree, prefix)
    return expression if rebased == tree else unparse(rebased)


@lru_cache(maxsize=1024)
def tests_the_path(expression: str) -> bool:
    """Whether the expression reads the request path (or the URI, which holds it)."""
    return bool(usage(expression).fields & (PATH_FIELDS | _HOST_URI_FIELDS))


def _host_test(hosts: list[str]) -> str:
    if len(hosts) == 1:
        return f"http.host eq {quote(hosts[0])}"
    return "http.host in {" + " ".join(quote(h) for h in hosts) + "}"


def _route_test(host: str, prefix: str) -> str:
    return f"(http.host eq {quote(host)} and starts_with(http.request.uri.path, {quote(prefix)}))"


def host_condition(served: list[str]) -> str:
    """The requests a rule is scoped to: whole hostnames (`http.host in {...}`) and Worker routes given
    as 'host/prefix/' (that host, under that path prefix only)."""
    if not served:
        raise ValueError("a scoped rule needs at least one hostname")
    hosts = [entry for entry in served if "/" not in entry]
    parts = ["http.host in {" + " ".join(quote(h) for h in hosts) + "}"] if hosts else []
    for entry in served:
        if "/" in entry:
            host, prefix = entry.split("/", 1)
            parts.append(_route_test(host, "/" + prefix))
    return " or ".join(parts)


def scoped(served: list[str], expression: str) -> str:
    """The expression restricted to `served` (see host_condition), each site testing the path as its
    Worker sees it: on a hostname the expression as written; under a route `host/prefix/` its path
    tests moved under "/prefix" (`rebase`). `true` becomes the condition alone.

        (http.host in {custom domains} and (BODY))
        or (http.host eq "api.chitty.cc" and starts_with(http.request.uri.path, "/project-awareness/") and (BODY'))

    Sites whose expression reads the same share one condition. Raises RouteRewriteError naming the
    route when a path test cannot be moved."""
    condition = host_condition(served)
    if expression.strip() == "true":
        return f"({condition})"
    as_written: list[str] = []
    rebased: dict[str, dict[str, list[str]]] = {}  # body -> route prefix -> hosts
    for entry in served:
        body = expression
        if "/" in entry:
            host, rest = entry.split("/", 1)
            try:
                if rest and not rest.endswith("/"):
                    if tests_the_path(expression):
                        raise RouteRewriteError(
                            "the route's path does not end in /*, so its Worker's paths have no root to move the "
                            "rule's path tests under; end the route in /* or scope the rule to other services")
                else:
                    body = rebase(expression, "/" + rest.rstrip("/"))
            except RouteRewriteError as error:
                raise RouteRewriteError(f"on the Worker route {entry}*: {error}") from None
            if body != expression:
                rebased.setdefault(body, {}).setdefault("/" + rest, []).append(host)
                continue
        as_written.append(entry)
    if not rebased:
        return f"({condition}) and ({expression})"
    parts = []
    if as_written:
        routes = any("/" in entry for entry in as_written)
        sites = f"({host_condition(as_written)})" if routes else host_condition(as_written)
        parts.append(f"({sites} and ({expression}))")
    for body, prefixes in rebased.items():
        for prefix, hosts in prefixes.items():
            parts.append(f"({_host_test(hosts)} and starts_with(http.request.uri.path, {quote(prefix)}) and ({body}))")
    return " or ".join(parts)


def split_scoped(served: list[str], expression: str, limit: int = MAX_EXPRESSION_LENGTH) -> list[tuple[list[str], str]]:
    """`scoped` as one rule per chunk of `served`, each within `limit` characters: [(sites, expression)].

    One chunk, `scoped(served, expression)` itself, when that fits. Otherwise the sites are cut, in their
    order in `served`, into consecutive chunks each filled as far as it fits (the fewest chunks an
    order-keeping cut allows, since a site never shortens an expression): sites added at the end change
    only the last chunk or add one. No request matches two chunks: sites that can share a request (a
    hostname and its routes, or routes whose prefixes nest) stay in one chunk (`disjoint_units`).
    Raises TooLongError when such a group alone does not fit, and RouteRewriteError as `scoped` does."""
    return [(list(sites), text) for sites, text in _split_scoped(tuple(served), expression, limit)]


def disjoint_units(served: list[str]) -> list[list[str]]:
    """`served` grouped so that no request to one group's sites matches another's: a hostname with
    every route on it, routes on one host whose prefixes nest; in order of each group's first site."""
    units: list[list[str]] = []
    by_host: dict[str, list[list[str]]] = {}
    for site in served:
        host, _, rest = site.partition("/")
        mine = by_host.setdefault(host, [])
        touching = [unit for unit in mine if any(
            other.partition("/")[2].startswith(rest) or rest.startswith(other.partition("/")[2]) for other in unit)]
        if not touching:
            units.append([site])
            mine.append(units[-1])
            continue
        first, *others = touching  # the earliest: units are kept in order of their first site
        for unit in others:
            first.extend(unit)
            mine.remove(unit)
            units.remove(unit)
        first.append(site)
    return units


@lru_cache(maxsize=512)  # validation and the program split the same rules on the same sites
def _split_scoped(served: tuple[str, ...], expression: str, limit: int) -> tuple[tuple[tuple[str, ...], str], ...]:
    whole = scoped(list(served), expression)
    if len(whole) <= limit:
        return ((served, whole),)
    chunks: list[tuple[tuple[str, ...], str]] = []
    sites: list[str] = []
    text = ""
    for unit in disjoint_units(list(served)):
        grown = scoped(sites + unit, expression)
        if len(grown) > limit and sites:
            chunks.append((tuple(sites), text))
            sites, grown = [], scoped(unit, expression)
        if len(grown) > limit:
            raise TooLongError(unit, len(grown))
        sites, text = sites + unit, grown
    chunks.append((tuple(sites), text))
    return tuple(chunks)
