"""Turning validation failures into one clear line per problem: key path, rule, fix."""

from __future__ import annotations

import difflib
from typing import Any, get_args, get_origin

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


def format_path(prefix: str, loc: tuple[Any, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path and not path.endswith(":") else str(part)
    return path


def explain(error: ValidationError, root: type[BaseModel], prefix: str, source: str) -> list[str]:
    """One line per pydantic problem: `<file>: <key path>: <what is wrong>; <the fix>`."""
    problems = []
    for item in error.errors(include_url=False):
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
        elif kind == "missing":
            problems.append(f"{source}: {path}: required key is missing; add it to the stack file")
        else:
            message = item["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            if not loc:
                # Cross-section rules report several problems at once, one per line.
                problems.extend(f"{source}: {line}" for line in message.splitlines())
                continue
            problems.append(f"{source}: {path}: {message} (got {_short(item.get('input'))})")
    return problems


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
