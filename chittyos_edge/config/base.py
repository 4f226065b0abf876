"""Shared pieces of the typed stack config: the strict base model and the value types."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ConfigModel(BaseModel):
    """Base of every config section.

    Keys are camelCase in the stack files (Pulumi's convention) and snake_case in Python.
    Unknown keys are refused so that a typo never silently falls back to a default.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        str_strip_whitespace=True,
    )


class Environment(StrEnum):
    STAGING = "staging"
    PRODUCTION = "production"


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")
_BINDING_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESOURCE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$")
_CF_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _hostname(value: str) -> str:
    if not _HOSTNAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a hostname: use lower-case labels separated by dots, "
            "no scheme, path or port (e.g. 'connect.chitty.cc')"
        )
    return value


def _binding_name(value: str) -> str:
    if not _BINDING_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid Worker binding name: use letters, digits and '_' "
            "and start with a letter (e.g. 'SESSION_STORE')"
        )
    return value


def _resource_name(value: str) -> str:
    if not _RESOURCE_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid base name: 3-42 characters of a-z, 0-9 and '-', "
            "not starting or ending with '-' (the environment is appended by the program)"
        )
    return value


def _cloudflare_id(value: str) -> str:
    if not _CF_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a Cloudflare id (32 lower-case hex characters)")
    return value


def _uuid(value: str) -> str:
    if not _UUID_RE.match(value):
        raise ValueError(f"{value!r} is not a UUID (8-4-4-4-12 lower-case hex)")
    return value


Hostname = Annotated[str, AfterValidator(_hostname)]
BindingName = Annotated[str, AfterValidator(_binding_name)]
ResourceBaseName = Annotated[str, AfterValidator(_resource_name)]
CloudflareId = Annotated[str, AfterValidator(_cloudflare_id)]
Uuid = Annotated[str, AfterValidator(_uuid)]
