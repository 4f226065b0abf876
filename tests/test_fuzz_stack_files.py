"""The project's own fuzz test: seeded mutations of both stack files, over the stack schema.

Each invalid variant is one mistake a person makes in a stack file (a typo in a key, a value of
the wrong type or out of range, a duplicate key, bytes that are not UTF-8, a YAML-only type, an
empty value, a namespace left out or misspelt, a section dedented out of `config:`, a secret in
plain text). Each must make `chittyos-edge plan --out F` exit 2 with clean one-line errors (no
traceback) that name the key (or the file and line), and write no F. Valid variants (values
changed within their range, other descriptions, cosmetic edits) must still load and validate, and
a few of them must plan.

A seeded generator rather than hypothesis: the cases are a fixed, reproducible list (the seed and
the case name say everything), each mutation knows the key it breaks, and the whole run fits in a
few seconds because nearly every case stops at config validation, in-process.
"""

from __future__ import annotations

import json
import random
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import annotated_types
import pytest
from pydantic import BaseModel

from chittyos_edge import cli
from chittyos_edge.config.secrets import PROVIDER_SECRET_KEYS, SECRET_KEYS
from chittyos_edge.config.stack import StackConfig
from chittyos_edge.config.stack_file import load_stack_file, parse_stack_file
from chittyos_edge.plan import runtime_config
from tests.conftest import PROJECT, ROOT, copy_project

STACKS = PROJECT.stacks()
SEED = 14
PREFIX = "chittyos-edge:"
PER_FAMILY = 12  # invalid cases per mutation family and stack


@dataclass(frozen=True)
class Site:
    """One key of a stack file: where it is, what it holds, and what the schema says of it."""

    path: str                 # as messages print it: chittyos-edge:a.b[0].c
    line: int                 # 1-based
    col: int                  # 1-based, where the key starts
    key: str
    value: Any
    annotation: Any           # the schema's type for the value (None: outside the schema)
    field: Any                # pydantic FieldInfo when the key is a model field
    parent_is_model: bool
    single_line: bool         # the value is written on the key's own line


@dataclass(frozen=True)
class Case:
    name: str
    stack: str
    data: bytes
    expect: tuple[str, ...]   # one of these must be printed (the key path, or file and line)


# ---- the schema ------------------------------------------------------------------------------

def _unwrap(annotation: Any) -> Any:
    """Optional[X] -> X; Annotated[X, ...] -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field(model: type[BaseModel], key: str):
    return next((f for name, f in model.model_fields.items() if key in (name, f.alias)), None)


def _sites(stack: str) -> tuple[str, list[Site]]:
    path = ROOT / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    loaded = load_stack_file(path)
    lines = text.split("\n")
    sites: list[Site] = []

    def single_line(line: int, col: int) -> bool:
        following = lines[line] if line < len(lines) else ""
        indent = len(following) - len(following.lstrip(" "))
        own = lines[line - 1][col - 1:]
        return own.rstrip().endswith(":") is False and not (following.strip() and indent > col - 1)

    def walk(value: Any, path: str, annotation: Any) -> None:
        annotation = _unwrap(annotation)
        if isinstance(value, dict):
            for key, child in value.items():
                child_path = key if not path else f"{path}.{key}"
                field = _field(annotation, key) if _is_model(annotation) else None
                if _is_model(annotation):
                    child_annotation = field.annotation if field else None
                elif typing.get_origin(annotation) is dict:
                    child_annotation = typing.get_args(annotation)[1]
                else:
                    child_annotation = None
                line, col = loaded.positions[child_path]
                sites.append(Site(child_path, line, col, key, child, _unwrap(child_annotation), field,
                                  _is_model(annotation), single_line(line, col)))
                walk(child, child_path, child_annotation)
        elif isinstance(value, list) and typing.get_origin(annotation) is list:
            for index, child in enumerate(value):
                walk(child, f"{path}[{index}]", typing.get_args(annotation)[0])

    for key, value in loaded.config.items():
        field = _field(StackConfig, key[len(PREFIX):]) if key.startswith(PREFIX) else None
        line, col = loaded.positions[key]
        sites.append(Site(key, line, col, key, value, _unwrap(field.annotation) if field else None, field, True,
                          single_line(line, col)))
        walk(value, key, field.annotation if field else None)
    return text, sites


# ---- text edits ------------------------------------------------------------------------------

def _block_end(lines: list[str], site: Site) -> int:
    """Index of the first line after the key's value."""
    end = site.line
    while end < len(lines):
        text = lines[end]
        if text.strip() and len(text) - len(text.lstrip(" ")) <= site.col - 1:
            break
        end += 1
    return end


def _set_value(text: str, site: Site, new: str) -> str:
    """`key: <new>`, the key's old value (one line or a block) removed."""
    lines = text.split("\n")
    own = lines[site.line - 1]
    start = site.col - 1
    assert own[start:].startswith(site.key + ":"), (own, site.key)
    lines[site.line - 1] = f"{own[:start]}{site.key}:{' ' + new if new else ''}"
    del lines[site.line:_block_end(lines, site)]
    return "\n".join(lines)


def _rename_key(text: str, site: Site, new_key: str) -> str:
    lines = text.split("\n")
    own = lines[site.line - 1]
    start = site.col - 1
    assert own[start:].startswith(site.key + ":"), (own, site.key)
    lines[site.line - 1] = own[:start] + new_key + own[start + len(site.key):]
    return "\n".join(lines)


def _typo(rng: random.Random, word: str, avoid: set[str]) -> str | None:
    for _ in range(20):
        i = rng.randrange(len(word))
        kind = rng.choice(("swap", "drop", "double", "case"))
        if kind == "swap" and i + 1 < len(word):
            typo = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif kind == "drop" and len(word) > 2:
            typo = word[:i] + word[i + 1:]
        elif kind == "double":
            typo = word[:i] + word[i] + word[i:]
        else:
            typo = word[:i] + word[i].swapcase() + word[i + 1:]
        if typo not in avoid and typo != word and ":" not in typo.replace(PREFIX, "") and typo.strip() == typo:
            return typo
    return None


# ---- the mutation families -----------------------------------------------------------------

def _bounds(site: Site) -> tuple[int | None, int | None]:
    low = high = None
    for item in getattr(site.field, "metadata", []) or []:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low = item.gt + 1
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high = item.lt - 1
    return low, high


def _is_enum(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Literal or (
        isinstance(annotation, type) and issubclass(annotation, Enum))


def _wrong_type(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [1, "true", "on", [True]]
    if isinstance(value, int):
        return [True, str(value), value + 0.5, [value], {"value": value}]
    if isinstance(value, float):
        return [True, str(value), [value]]
    if isinstance(value, str):
        return [7, True, [value], {"value": value}]
    if isinstance(value, list):
        return [7, "text", {"item": 1}]
    if isinstance(value, dict):
        return [7, "text", ["item"]]
    return []


def invalid_cases(stack: str, rng: random.Random) -> list[Case]:
    text, sites = _sites(stack)
    ours = [s for s in sites if s.path.startswith(PREFIX)]
    top = [s for s in ours if "." not in s.path and "[" not in s.path]
    cases: list[Case] = []

    def add(name: str, new_text: str | bytes, *expect: str) -> None:
        data = new_text if isinstance(new_text, bytes) else new_text.encode()
        cases.append(Case(f"{stack}: {name}", stack, data, expect))

    def sample(pool: list[Site], count: int = PER_FAMILY) -> list[Site]:
        return rng.sample(pool, min(count, len(pool)))

    # a typo in a key the schema defines
    for site in sample([s for s in ours if s.parent_is_model and s.field is not None]):
        valid = {f.alias or n for n, f in StackConfig.model_fields.items()}
        word = site.key[len(PREFIX):] if site in top else site.key
        typo = _typo(rng, word, valid | {site.key})
        if typo:
            new_key = PREFIX + typo if site in top else typo
            parent = site.path[: -len(site.key)].rstrip(".")
            add(f"typo {site.path} -> {typo}", _rename_key(text, site, new_key),
                f"{parent + '.' if parent else ''}{new_key}: unknown key")
    # a value of the wrong type
    for site in sample([s for s in ours if s.annotation is not None]):
        choices = _wrong_type(site.value)
        if choices:
            add(f"wrong type at {site.path}", _set_value(text, site, json.dumps(rng.choice(choices))), site.path)
    # an integer out of its range
    integers = [s for s in ours if type(s.value) is int and s.single_line and not _is_enum(s.annotation)]
    for site in sample(integers):
        low, high = _bounds(site)
        options = [2**31, 2**63, -(2**31)] + ([low - 1] if low is not None else []) + \
                  ([high + 1] if high is not None else [])
        add(f"out of range at {site.path}", _set_value(text, site, str(rng.choice(options))), site.path)
    # a value outside an enumeration
    for site in sample([s for s in ours if _is_enum(s.annotation) and s.single_line]):
        add(f"not in the enum at {site.path}", _set_value(text, site, '"bogus-value"'), site.path)
    # a key written twice
    for site in sample([s for s in ours if s.single_line]):
        lines = text.split("\n")
        own = lines[site.line - 1]
        duplicate = " " * (site.col - 1) + own[site.col - 1:]
        lines.insert(site.line, duplicate)
        add(f"duplicate {site.path}", "\n".join(lines), f"{site.path}: duplicate key")
    # YAML-only types and empty values where a plain value was
    for site in sample([s for s in ours if s.single_line]):
        new = rng.choice(["2024-02-03", "!!binary aGk=", "!!set {a, b}", "!custom x", "yes", "0x1F", ""])
        add(f"YAML-only value {new!r} at {site.path}", _set_value(text, site, new), site.path)
    # namespaces: left out, misspelt, or the section dedented out of config:
    for site in sample(top, PER_FAMILY // 2):
        name = site.key[len(PREFIX):]
        add(f"no namespace on {site.key}", _rename_key(text, site, name), f"{name}: key without a namespace")
        typo = _typo(rng, PREFIX[:-1], {PREFIX[:-1]})
        add(f"namespace typo on {site.key}", _rename_key(text, site, f"{typo}:{name}"), "unknown namespace")
        lines = text.split("\n")
        end = _block_end(lines, site)
        lines[site.line - 1:end] = [line[2:] if line.startswith("  ") else line for line in lines[site.line - 1:end]]
        # A dedented one-line key followed by indented keys is no YAML at all: refused as such.
        add(f"dedented {site.key}", "\n".join(lines), f"{site.key}: is outside 'config:'", "not valid YAML")
    # secrets in plain text
    for key in [PREFIX + k for k in SECRET_KEYS] + list(PROVIDER_SECRET_KEYS):
        value = {"chittyconnect": {"CHITTY_ID_TOKEN": "PLAINTEXT-TOKEN-123"}} if key.endswith("workerSecrets") \
            else "PLAINTEXT-VALUE-123"
        add(f"plain secret {key}", text.replace("config:\n", f"config:\n  {key}: {json.dumps(value)}\n", 1), key)
    # bytes that are not UTF-8, and broken YAML
    for _ in range(PER_FAMILY):
        offset = rng.randrange(len(text))
        raw = text.encode()
        line = raw.count(b"\n", 0, offset) + 1
        bad = rng.choice([b"\xff", b"\xc3(", b"\x80", b"\xed\xa0\x80", b"\xfe\xfe"])
        add(f"bytes {bad!r} at {offset}", raw[:offset] + bad + raw[offset:], f"Pulumi.{stack}.yaml:{line}:")
    for site in sample([s for s in ours if s.single_line], PER_FAMILY // 2):
        lines = text.split("\n")
        broken = rng.choice(["\t" + lines[site.line - 1], lines[site.line - 1] + ": more",
                             " " * (site.col - 1) + site.key + ": [a, b", " " * (site.col - 1) + site.key + ": {a: b"])
        lines[site.line - 1] = broken
        add(f"broken YAML {broken.strip()!r}", "\n".join(lines), f"Pulumi.{stack}.yaml:{site.line}:",
            f"that starts at line {site.line})")
    return cases


def valid_variants(stack: str, rng: random.Random) -> list[tuple[str, str]]:
    text, sites = _sites(stack)
    ours = [s for s in sites if s.path.startswith(PREFIX)]
    variants = []
    integers = [s for s in ours if type(s.value) is int and s.single_line and not _is_enum(s.annotation)]
    for site in rng.sample(integers, min(PER_FAMILY, len(integers))):
        low, high = _bounds(site)
        new = site.value + rng.choice((-1, 1))
        if (low is not None and new < low) or (high is not None and new > high):
            new = site.value - (new - site.value)
        variants.append((f"{site.path} = {new}", _set_value(text, site, str(new))))
    described = [s for s in ours if s.key == "description" and s.single_line]
    for site in rng.sample(described, min(4, len(described))):
        variants.append((f"{site.path} reworded", _set_value(text, site, json.dumps(f"reworded #{rng.randrange(99)}"))))
    variants.append(("comments and blank lines", text.replace("\n  chittyos-edge:", "\n\n  # note\n  chittyos-edge:")))
    variants.append(("quoted environment", text.replace(f"chittyos-edge:environment: {stack}",
                                                        f'chittyos-edge:environment: "{stack}"')))
    return variants


# ---- the tests -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the project (bundles, migrations, the other stack file) whose one stack file each case replaces."""
    return copy_project(tmp_path_factory.mktemp("fuzz") / "checkout")


def _plan_cli(checkout, stack: str, data: bytes, capsys) -> tuple[int, list[str], Path]:
    stack_file = checkout.stack_file(stack)
    out = checkout.root / "plan.json"
    stack_file.write_bytes(data)
    try:
        code = cli.main(["-C", str(checkout.root), "plan", "--stack", stack, "--out", str(out)])
    finally:
        stack_file.write_bytes((ROOT / f"Pulumi.{stack}.yaml").read_bytes())
    captured = capsys.readouterr()
    written = out.exists()
    out.unlink(missing_ok=True)
    return code, captured.err.splitlines(), written


@pytest.mark.parametrize("stack", STACKS)
def test_invalid_variants_exit_2_naming_the_key_and_write_nothing(stack, checkout, capsys):
    cases = invalid_cases(stack, random.Random(f"{SEED}-{stack}"))
    assert len(cases) > 80, "every family produced cases"
    failures = []
    for case in cases:
        code, err, written = _plan_cli(checkout, stack, case.data, capsys)
        ok = (code == 2 and not written and err and len(err) <= 2
              and all(line.startswith("chittyos-edge: error: ") and len(line) < 500 for line in err)
              and not any("Traceback" in line for line in err)
              and any(expect in line for expect in case.expect for line in err))
        if not ok:
            failures.append(f"{case.name}: exit {code}, expected {case.expect!r} in {err}")
    assert not failures, f"{len(failures)} of {len(cases)} cases (seed {SEED}):\n" + "\n".join(failures[:15])


@pytest.mark.parametrize("stack", STACKS)
def test_valid_variants_still_validate_and_plan(stack, checkout, capsys):
    variants = valid_variants(stack, random.Random(f"{SEED}-{stack}-valid"))
    assert len(variants) >= 10
    for name, text in variants:
        loaded = parse_stack_file(text, f"Pulumi.{stack}.yaml")
        values, _ = runtime_config(stack, PROJECT, file_config=loaded.config)
        assert values[f"{PREFIX}environment"] == stack, name
    # The whole plan for one of them (a value changed within its range): what loads also builds.
    for name, text in variants[:1]:
        code, err, written = _plan_cli(checkout, stack, text.encode(), capsys)
        assert code == 0 and written, f"{name}: {err}"


def test_the_generator_mutates_what_it_says(capsys):
    """The fuzz test can fail: its edits really change the key it names (checked on one case per family)."""
    rng = random.Random(SEED)
    text, sites = _sites("staging")
    zone = next(s for s in sites if s.path == f"{PREFIX}zone.name")
    changed = parse_stack_file(_set_value(text, zone, '"example.org"'), "Pulumi.staging.yaml").config
    assert changed[f"{PREFIX}zone"]["name"] == "example.org"
    renamed = parse_stack_file(_rename_key(text, zone, "nam"), "Pulumi.staging.yaml").config
    assert renamed[f"{PREFIX}zone"]["nam"] == "chitty.cc" and "name" not in renamed[f"{PREFIX}zone"]
    assert _typo(rng, "environment", {"environment"}) not in (None, "environment")
