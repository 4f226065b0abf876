"""Typed stack config: read once from Pulumi config, validated once, passed down as objects.

`load()` is the only place in the program that touches `pulumi.Config`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
from pydantic import ValidationError

from .. import PROJECT
from .base import Environment
from .errors import ConfigError, closest_key, explain, valid_keys
from .secrets import SECRET_KEYS, Secrets, SecretSpec, read_secrets, required_secrets
from .stack import StackConfig

__all__ = ["ConfigError", "Environment", "LoadedConfig", "Secrets", "SecretSpec", "StackConfig",
           "load", "parse_stack_config", "required_secrets"]


@dataclass(frozen=True)
class LoadedConfig:
    stack: str
    settings: StackConfig
    secrets: Secrets


def _decode(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; plain values stay strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def parse_stack_config(raw: Mapping[str, Any], source: str, stack: str | None = None) -> StackConfig:
    """Validate the project's config keys (namespace stripped) into a StackConfig or raise ConfigError.

    With `stack`, the file must declare that stack's environment (checked first: every other rule
    depends on it).
    """
    settings = {k: _decode(v) for k, v in raw.items() if k not in SECRET_KEYS}
    declared = settings.get("environment")
    if stack is not None and declared is not None and declared != stack:
        raise ConfigError([f"{source}: {PROJECT}:environment is {declared!r} but the stack is {stack!r}; "
                           "each stack file must declare its own environment"])
    known = valid_keys(StackConfig)
    problems = []
    for key in settings:
        if key not in known:
            suggestion = closest_key(key, known + list(SECRET_KEYS))
            hint = f"did you mean '{PROJECT}:{suggestion}'?" if suggestion else f"valid keys: {', '.join(known)}"
            problems.append(f"{source}: {PROJECT}:{key}: unknown key; {hint}")
    if problems:
        raise ConfigError(problems)
    try:
        # Strict, from the JSON form: the file's own types are kept (no `true` for an integer, no
        # "60" for a number, no "yes" for a boolean), while enums still take their text values.
        return StackConfig.model_validate_json(json.dumps(settings), strict=True)
    except ValidationError as error:
        raise ConfigError(explain(error, StackConfig, f"{PROJECT}:", source)) from None


def _runtime_config(source: str) -> tuple[dict[str, Any], set[str]]:
    """This project's keys as the Pulumi runtime holds them (set in-process, or by the CLI's env).

    A key in no known namespace (`edgeSecurity` without `chittyos-edge:`, a misspelt namespace) is
    an error: nothing would read it, so a whole section would silently vanish.
    """
    from pulumi.runtime import config as runtime_config

    from .stack_file import namespace_problems

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    problems = namespace_problems(merged, source)
    if problems:
        raise ConfigError(problems)
    prefix = f"{PROJECT}:"
    raw = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secret = {k for k in raw if runtime_config.is_config_secret(prefix + k)}
    secret |= {k[len(prefix):] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return raw, secret


def load() -> LoadedConfig:
    """Read, validate and return this stack's config; raises ConfigError before any resource exists."""
    stack = pulumi.get_stack()
    source = f"Pulumi.{stack}.yaml"
    raw, secret_keys = _runtime_config(source)
    settings = parse_stack_config(raw, source, stack)
    decoded = {k: _decode(raw[k]) for k in SECRET_KEYS if k in raw}
    secrets = read_secrets(settings, decoded, lambda key: key in secret_keys, stack, PROJECT)
    return LoadedConfig(stack=stack, settings=settings, secrets=secrets)
