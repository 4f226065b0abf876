"""Turning validation failures into one clear line per problem: key path, rule, fix.

Every problem line has the shape `<file>: <namespace>:<key path>: <problem>; <fix>`, so that a
stack file's locator (`stack_file.StackFile.locate`) can add the line the key is on. Validators
follow one convention to carry a precise key path: a message line that starts with
`<key path>: ` (e.g. `healthChecks[3].name: ...`) is placed at that path below the validator's own
location (for the root model, the path from the top of the config).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Hashable, Iterable, get_args, get_origin

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A stack config problem. The message names the key path and the fix; never a traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Walk the schema along a validation location to the model that holds its last key."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = _field_by_key(current, part)
            if field is None:
                return None
            current = field.annotation
            continue
        origin = get_origin(current)
        args = get_args(current)
        if origin in (dict,) and len(args) == 2:
            current = args[1]
        elif origin in (list, tuple, set, frozenset) and args:
            current = args[0]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional[...] / Annotated[...] down to the one model inside, if there is exactly one."""
    seen = 0
    while seen < 5:
        seen += 1
        args = get_args(annotation)
        origin = get_origin(annotation)
        if origin is None or not args:
            return annotation
        if origin in (dict, list, tuple, set, frozenset):
            return annotation
        candidates = [a for a in args if a is not type(None)]
        models = [a for a in candidates if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) == 1:
            return models[0]
        annotation = candidates[0]
    return annotation


def _field_by_key(model: type[BaseModel], key: Any):
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def valid_keys(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def closest_key(key: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in candidates}
    return lowered.get(key.lower())


MAX_SHOWN = 60
MAX_KEY = 64


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """A value as messages show it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def cut_key(key: Any) -> str:
    """One key of a path as messages show it (a 300-character key must not fill the screen)."""
    text = str(key)
    return text if len(text) <= MAX_KEY else text[:MAX_KEY - 1] + "…"


def format_path(prefix: str, loc: tuple[Any, ...]) -> str:
    path = prefix
    for part in loc:
        if part == "[key]":  # pydantic's marker for "the key itself": the path names it already
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{cut_key(part)}" if path and not path.endswith(":") else cut_key(part)
    return path


def join_path(base: str, relative: str) -> str:
    """`base` + a relative key path (`tls.hsts`, `[2].ref`)."""
    if not base or base.endswith(":"):
        return base + relative
    return base + relative if relative.startswith("[") else f"{base}.{relative}"


_PATH = r"(?:[A-Za-z0-9_-]+|\[\d+\])(?:\.[A-Za-z0-9_-]+|\[\d+\])*"
_LOCATED = re.compile(rf"^({_PATH})(?: \(([^()]+)\))?((?:\.[A-Za-z0-9_-]+|\[\d+\])*): (.+)$", re.S)


def split_located(line: str) -> tuple[str | None, str]:
    """`'<key path>: <text>'` -> (key path, text); any other line -> (None, line).

    A name in parentheses after a list item (`alerts[2] (service-down).alertType: ...`) is moved
    into the text, so that the path stays one a stack file's locator can find.
    """
    match = _LOCATED.match(line)
    if not match:
        return None, line
    path, name, rest, text = match.groups()
    return path + rest, f"({name}) {text}" if name else text


def repeats(entries: Iterable[tuple[str, Hashable]], what: str) -> list[str]:
    """One `'<path>: ...'` line per entry whose value an earlier entry already has."""
    first: dict[Hashable, str] = {}
    lines = []
    for path, value in entries:
        if value in first:
            lines.append(f"{path}: {shown(value)} is already used at {first[value]}; {what} must be unique")
        else:
            first[value] = path
    return lines


def explain(error: ValidationError, root: type[BaseModel], prefix: str, source: str) -> list[str]:
    """One line per pydantic problem: `<file>: <key path>: <what is wrong>; <the fix>`."""
    problems = []
    errors = error.errors(include_url=False)
    # A misspelt required key is one mistake, not two: its "missing" twin is left out.
    misspelt = set()
    for item in errors:
        if item["type"] == "extra_forbidden":
            parent = _model_at(root, tuple(item["loc"])[:-1])
            suggestion = closest_key(str(item["loc"][-1]), valid_keys(parent) if parent else [])
            misspelt.add((*item["loc"][:-1], suggestion))
    for item in errors:
        loc = tuple(item["loc"])
        path = format_path(prefix, loc)
        kind = item["type"]
        if kind == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            candidates = valid_keys(parent) if parent else []
            suggestion = closest_key(str(loc[-1]), candidates)
            hint = f"did you mean '{suggestion}'?" if suggestion else (
                f"valid keys here: {', '.join(sorted(candidates))}" if candidates else "remove it")
            problems.append(f"{source}: {path}: unknown key; {hint}")
        elif kind == "missing" and loc in misspelt:
            continue
        elif kind == "missing":
            problems.append(f"{source}: {path}: required key is missing; add it to the stack file")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            value = item.get("input")
            # A model's own rules see the whole section: its input is no value worth repeating.
            got = "" if isinstance(value, dict) else f" (got {shown(value)})"
            for line in message.splitlines():
                relative, text = split_located(line)
                if relative is not None:
                    problems.append(f"{source}: {join_path(path, relative)}: {text}")
                elif not loc:
                    problems.append(f"{source}: {line}")
                else:
                    # A message that shows the value already needs no "(got ...)".
                    problems.append(f"{source}: {path}: {line}{'' if got[6:-1] in line else got}")
    return problems
