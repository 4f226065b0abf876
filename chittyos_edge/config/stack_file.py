"""The strict stack-file loader: refuse, never guess.

A stack file (`Pulumi.<stack>.yaml`) is composed to YAML nodes by libyaml (PyYAML's `CSafeLoader`;
the pure-Python `SafeLoader` only where the C extension is missing) and turned into plain values
here, node by node, so that every value keeps the line it came from and nothing is guessed:

- the bytes are UTF-8 and at most `MAX_BYTES`; nesting is at most `MAX_DEPTH` levels;
- one document, a mapping, whose keys are those of a Pulumi stack file (`config`, ...);
- keys are text and appear once per mapping (YAML itself would keep the last one silently);
- values are the JSON types (text, integer, number, boolean, mapping, list): no YAML-only type
  (dates, `!!binary`, `!!set`, `!!omap`, any other tag), no empty value, no YAML 1.1 spelling that
  another reader (Pulumi's own YAML 1.2) would read differently (`yes`/`on`, `0x1F`, `1_000`);
- no anchors reused through aliases (no "billion laughs" expansion, and every value is written
  where it applies);
- every key of `config:` is `<namespace>:<key>` in this project's namespace or a provider's.

Every refusal is one line: `<file>:<line>:<column>: <key path>: <problem>; <fix>`.
`StackFile.line_of(key path)` gives the line of any config key afterwards, for messages and
findings that point into the file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from .. import PROJECT
from .errors import MAX_KEY, ConfigError, closest_key, cut_key, shown

try:  # libyaml: the C composer (and its nesting limit) where PyYAML was built with it
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 32
MAX_PROBLEMS = 20

# The top-level keys of a Pulumi stack file (Pulumi's stack settings, lower-case as Pulumi writes them).
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
# Whose config a stack file may hold: this project's, its provider's, and Pulumi's own (`pulumi:tags`, ...).
PROVIDER = "cloudflare"
NAMESPACES = (PROJECT, PROVIDER, "pulumi")
# The provider's config keys (pulumi_cloudflare/config/vars.py of the pinned SDK).
PROVIDER_KEYS = ("apiKey", "apiToken", "apiUserServiceKey", "baseUrl", "email", "userAgentOperatorSuffix")

_TAG = "tag:yaml.org,2002:"
_YAML_ONLY = {
    "timestamp": "a YAML date/time; quote it ('2025-01-01') to keep it text",
    "binary": "YAML binary data; write the value as text",
    "set": "a YAML set; write a list",
    "omap": "a YAML ordered map; write a mapping",
    "pairs": "YAML pairs; write a mapping",
    "merge": "a YAML merge key (<<); write the keys out",
    "value": "a YAML value key (=); write the value out",
}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?(0|[1-9][0-9]{0,17})$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class StackFile:
    """A stack file's `config:` mapping, with the position of every key in it.

    Key paths are written as messages write them: the namespaced key, then `.key` per mapping
    and `[i]` per list item, e.g. `chittyos-edge:edgeSecurity.tls.minTlsVersion` or
    `chittyos-edge:monitoring.healthChecks[0].hostname`.
    """

    source: str
    config: dict[str, Any]
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict, repr=False)
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    _printed: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def position_of(self, key_path: str) -> tuple[int, int] | None:
        """(line, column), 1-based, of `key_path`, or of its nearest ancestor in the file (a
        missing key is reported where its section is); None when no part of it is there."""
        index = self.positions
        if "\u2026" in key_path:  # a path as messages print it, with over-long keys cut
            if not self._printed:
                self._printed.update((cut_key_path(p), at) for p, at in reversed(list(self.positions.items())))
            index = self._printed
        path = key_path
        while path:
            found = index.get(path)
            if found:
                return found
            path = _parent(path)
        return None

    def line_of(self, key_path: str) -> int | None:
        position = self.position_of(key_path)
        return position[0] if position else None

    def locate(self, problems: list[str]) -> list[str]:
        """Add the line to each problem of the shape `<file>: <key path>: ...`."""
        prefix = f"{self.source}: "
        located = []
        for problem in problems:
            if problem.startswith(prefix):
                rest = problem[len(prefix):]
                path = rest.split(": ", 1)[0]
                line = self.line_of(path) if _namespace(path) in NAMESPACES else None
                if line:
                    problem = f"{self.source}:{line}: {rest}"
            located.append(problem)
        return located


def _namespace(path: str) -> str:
    return path.split(":", 1)[0] if ":" in path.split(".", 1)[0] else ""


def _parent(path: str) -> str:
    """`a:b.c[2]` -> `a:b.c` -> `a:b` -> ``."""
    if path.endswith("]"):
        return path[:path.rindex("[")]
    cut = path.rfind(".")
    return path[:cut] if cut > path.find(":") else ""


def load_stack_file(path: Path | str, source: str | None = None) -> StackFile:
    """Read and check one stack file; raises ConfigError (one line per problem) or OSError."""
    path = Path(path)
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    return parse_stack_file(data, source or path.name)


def parse_stack_file(data: bytes | str, source: str = "<stdin>") -> StackFile:
    """The same checks on text or bytes already read (tests, stdin)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BYTES:
        raise ConfigError([f"{source}: is larger than {MAX_BYTES // (1024 * 1024)} MiB; a stack file is a few "
                           "kilobytes: check that this is the right file"])
    text = _decode(raw, source)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        raise ConfigError([_yaml_error(error, source)]) from None
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: not valid YAML: {str(error).splitlines()[0]}"]) from None
    except RecursionError:  # the pure-Python composer only: libyaml stops at 1000 levels itself
        raise ConfigError([f"{source}: nested more than {MAX_DEPTH} levels deep; flatten it"]) from None
    if root is None:
        raise ConfigError([f"{source}: is empty; a stack file holds a 'config:' mapping of "
                           f"'{PROJECT}:<key>' to values"])
    builder = _Builder(source)
    if not isinstance(root, yaml.MappingNode):
        builder.problem(root, "", f"the document is {_kind(root)}, not a mapping; a stack file holds a "
                                  f"'config:' mapping of '{PROJECT}:<key>' to values")
        raise ConfigError(builder.problems)
    document = builder.mapping(root, "", 0, top=True)
    config = document.get("config")
    if "config" not in document and not builder.problems:
        builder.problem(root, "", f"has no 'config:' mapping; the stack's settings are '{PROJECT}:<key>: <value>' "
                                  "lines under 'config:'")
    elif config is not None and not isinstance(config, dict):
        builder.problem(builder.nodes["config"], "config",
                        f"is {'a list' if isinstance(config, list) else 'text or a number'}, not a mapping; "
                        f"write '{PROJECT}:<key>: <value>' lines under it")
    config = config if isinstance(config, dict) else {}
    builder.problems.extend(namespace_problems(config, source, builder.positions))
    if builder.problems:
        raise ConfigError(_capped(builder.problems))
    settings = {k: v for k, v in document.items() if k != "config"}
    return StackFile(source=source, config=config, positions=builder.positions, settings=settings)


def namespace_problems(config: Mapping[str, Any], source: str,
                       positions: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """One line per config key outside this project's namespace and its provider's."""
    from .stack import StackConfig  # late: the schema is only needed to suggest a key
    from .errors import valid_keys
    from .secrets import SECRET_KEYS

    known = valid_keys(StackConfig) + list(SECRET_KEYS)
    problems = []
    for key in config:
        namespace, colon, name = str(key).partition(":")
        where = _where(source, positions or {}, str(key))
        if not colon:
            guess = closest_key(namespace, known)
            hint = (f"did you mean '{PROJECT}:{guess}'?" if guess
                    else f"write '<namespace>:<key>' with namespace {' or '.join(NAMESPACES)}")
            problems.append(f"{where}{cut_key(key)}: key without a namespace, so nothing would read it; {hint}")
        elif namespace not in NAMESPACES:
            guess = closest_key(namespace, list(NAMESPACES))
            hint = f"did you mean '{guess}:{cut_key(name)}'?" if guess else \
                f"use {' or '.join(repr(n + ':') for n in NAMESPACES)}"
            problems.append(f"{where}{cut_key(key)}: unknown namespace {shown(namespace)}, so nothing would read "
                            f"it; {hint}")
        elif not name:
            problems.append(f"{where}{cut_key(key)}: key without a name; write '{namespace}:<key>'")
        elif namespace == PROVIDER and name not in PROVIDER_KEYS:
            guess = closest_key(name, list(PROVIDER_KEYS))
            hint = f"did you mean '{PROVIDER}:{guess}'?" if guess else f"valid keys: {', '.join(PROVIDER_KEYS)}"
            problems.append(f"{where}{cut_key(key)}: unknown {PROVIDER} provider key; {hint}")
    return problems


def _where(source: str, positions: Mapping[str, tuple[int, int]], path: str) -> str:
    position = positions.get(path)
    return f"{source}:{position[0]}:{position[1]}: " if position else f"{source}: "


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError([f"{source}:{line}:{column}: byte 0x{raw[error.start]:02x} is not UTF-8; "
                           "save the file as UTF-8"]) from None


def _yaml_error(error: yaml.MarkedYAMLError, source: str) -> str:
    mark = error.problem_mark or error.context_mark
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    what = error.problem or "syntax error"
    if "nesting depth" in what:
        return f"{where}: nested too deep ({what}); flatten it"
    context = ""
    if error.context and error.context != what:
        started = error.context_mark
        at = f" that starts at line {started.line + 1}" if started and mark and started.line != mark.line else ""
        context = f" ({error.context}{at})"
    return f"{where}: not valid YAML: {what}{context}; check the indentation and quoting there"


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _TAG + "null":
        return "empty"
    return f"the value {shown(node.value)}"


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return problems[:MAX_PROBLEMS] + [f"... and {len(problems) - MAX_PROBLEMS} more problems"]


class _Builder:
    """Plain values from composed nodes, refusing what a stack file must not hold."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []
        self.positions: dict[str, tuple[int, int]] = {}
        self.nodes: dict[str, yaml.Node] = {}
        self._seen: set[int] = set()
        self._aliases = 0

    def problem(self, node: yaml.Node, path: str, text: str) -> None:
        mark = node.start_mark
        printed = cut_key_path(path)
        if len(printed) > 2 * MAX_KEY:
            printed = printed[:2 * MAX_KEY - 1] + "\u2026"
        named = f"{printed}: " if path else ""
        self.problems.append(f"{self.source}:{mark.line + 1}:{mark.column + 1}: {named}{text}")

    def _place(self, path: str, node: yaml.Node) -> None:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.nodes[path] = node

    def value(self, node: yaml.Node, path: str, depth: int, at: yaml.Node | None = None) -> Any:
        if id(node) in self._seen:
            # The composer hands an alias back as the very node of its anchor (so its position is the
            # anchor's: `at`, the key holding the alias, is where the alias is). One line is enough.
            self._aliases += 1
            if self._aliases == 1:
                self.problem(at or node, path, "reuses an anchored value through an alias (*name); anchors and "
                                               "aliases are not accepted in a stack file: write the value out")
            return None
        self._seen.add(id(node))
        if depth > MAX_DEPTH:
            self.problem(node, path, f"nested more than {MAX_DEPTH} levels deep; flatten it")
            return None
        tag = node.tag or ""
        if isinstance(node, yaml.MappingNode):
            if tag != _TAG + "map":
                return self._tag_problem(node, path, tag)
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if tag != _TAG + "seq":
                return self._tag_problem(node, path, tag)
            items = []
            for index, item in enumerate(node.value):
                item_path = f"{path}[{index}]"
                self._place(item_path, item)
                items.append(self.value(item, item_path, depth + 1))
            return items
        return self.scalar(node, path)

    def mapping(self, node: yaml.MappingNode, path: str, depth: int, top: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, path, f"a key is {_kind(key_node)}; keys are names (text)")
                continue
            if key_node.tag != _TAG + "str":
                short = (key_node.tag or "").rsplit(":", 1)[-1]
                self.problem(key_node, path, f"is {_YAML_ONLY[short]}" if short in ("merge", "value") else
                             f"key {shown(key_node.value)} is read as a YAML {short}, not text; quote it "
                             f"('{key_node.value}':) if it is a name")
                continue
            key = key_node.value
            child = key if top or path == "config" else f"{path}.{key}"
            if key == "":
                self.problem(key_node, path, "empty key; give it a name")
                continue
            if top and key not in STACK_FILE_KEYS:
                self.problem(key_node, child, _top_level_hint(key))
                continue
            if key in first_line:
                self.problem(key_node, child,
                             f"duplicate key (first at line {first_line[key]}); YAML would silently keep "
                             "only the last one: keep one")
                continue
            first_line[key] = key_node.start_mark.line + 1
            self._place(child, key_node)
            result[key] = self.value(value_node, child, depth + 1, at=key_node)
        return result

    def _tag_problem(self, node: yaml.Node, path: str, tag: str) -> None:
        short = tag[len(_TAG):] if tag.startswith(_TAG) else tag
        reason = _YAML_ONLY.get(short)
        if reason:
            self.problem(node, path, f"is {reason}")
        else:
            self.problem(node, path, f"has the YAML tag {shown(tag)}, which a stack file does not use; remove it")
        return None

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        tag, text = node.tag or "", node.value
        if tag == _TAG + "str":
            return text
        if tag == _TAG + "null":
            self.problem(node, path, "has no value; remove the key to use its default, or give it a value")
            return None
        if tag == _TAG + "bool":
            if text in _BOOLS:
                return _BOOLS[text]
            self.problem(node, path, f"{shown(text)} is a YAML 1.1 boolean that other YAML readers take as text; "
                                     f"write true or false, or quote it ('{text}') for the text")
            return None
        if tag == _TAG + "int":
            if _INT.match(text):
                return int(text)
            self.problem(node, path, f"{shown(text)} is not a plain decimal integer (or is out of range); write "
                                     "it in decimal digits, or quote it for text")
            return None
        if tag == _TAG + "float":
            if _FLOAT.match(text) and math.isfinite(float(text)):
                return float(text)
            self.problem(node, path, f"{shown(text)} is not a finite decimal number; write it as e.g. 0.5, or "
                                     "quote it for text")
            return None
        return self._tag_problem(node, path, tag)


def cut_key_path(path: str) -> str:
    """The path as messages print it, each key cut to a readable length."""
    parts = re.split(r"(\.|\[\d+\])", path)
    return "".join(part if part == "." or part.startswith("[") else cut_key(part) for part in parts)


def _top_level_hint(key: str) -> str:
    from .errors import valid_keys
    from .stack import StackConfig

    bare = key.split(":", 1)[-1]
    if ":" in key or bare in valid_keys(StackConfig):
        return f"is outside 'config:'; indent it under config: (top-level keys are {', '.join(STACK_FILE_KEYS)})"
    guess = closest_key(key, list(STACK_FILE_KEYS))
    if guess:
        return f"unknown top-level key; did you mean '{guess}'?"
    return (f"unknown top-level key; a stack file holds only {', '.join(STACK_FILE_KEYS)} (a section dedented "
            "out of 'config:'? indent it back)")


__all__ = ["MAX_BYTES", "MAX_DEPTH", "NAMESPACES", "PROVIDER", "PROVIDER_KEYS", "StackFile", "load_stack_file",
           "namespace_problems", "parse_stack_file"]
