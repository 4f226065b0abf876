"""Shared pieces of the typed stack config: the strict base model and the value types.

Strict scalars are enforced centrally: the config is validated in pydantic's strict mode from its
JSON form (`parse_stack_config`), so `true` is no integer, `"60"` no number and `"yes"` no boolean;
every integer is bounded (`MAX_INT`, where a field has no tighter Cloudflare bound of its own); and
the value types below carry Cloudflare's and the RFCs' limits.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from . import cloudflare_enums
from .cron import cron_problem
from .errors import closest_key, shown

# No field of this config counts past a 32-bit signed integer (TTLs, ages and timeouts in seconds,
# thresholds): a larger number is a typo or a probe, and JSON readers of the plan lose precision
# past 2**53 anyway.
MAX_INT = 2**31 - 1


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

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if type(value) is int and not -MAX_INT <= value <= MAX_INT:
            raise ValueError(f"{shown(value)} is out of range; integers here are at most {MAX_INT}")
        return value


class Environment(StrEnum):
    STAGING = "staging"
    PRODUCTION = "production"


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")
MAX_HOSTNAME = 253  # RFC 1035: 255 octets on the wire, 253 characters written out
MAX_LABEL = 63
_BINDING_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESOURCE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$")
_CF_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def hostname_problem(value: str) -> str | None:
    """What makes `value` no hostname (RFC 1035 limits first), or None."""
    if len(value) > MAX_HOSTNAME:
        return f"is {len(value)} characters; a hostname has at most {MAX_HOSTNAME} (RFC 1035)"
    long_label = next((label for label in value.split(".") if len(label) > MAX_LABEL), None)
    if long_label is not None:
        return (f"has the label {shown(long_label)} of {len(long_label)} characters; a label has at most "
                f"{MAX_LABEL} (RFC 1035)")
    if not _HOSTNAME_RE.match(value):
        return (f"{shown(value)} is not a hostname: use lower-case labels separated by dots, "
                "no scheme, path or port (e.g. 'connect.chitty.cc')")
    return None


def _hostname(value: str) -> str:
    problem = hostname_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _binding_name(value: str) -> str:
    if not _BINDING_RE.match(value):
        raise ValueError(
            f"{shown(value)} is not a valid Worker binding name: use letters, digits and '_' "
            "and start with a letter (e.g. 'SESSION_STORE')"
        )
    return value


def _resource_name(value: str) -> str:
    if not _RESOURCE_NAME_RE.match(value):
        raise ValueError(
            f"{shown(value)} is not a valid base name: 3-42 characters of a-z, 0-9 and '-', "
            "not starting or ending with '-' (the environment is appended by the program)"
        )
    return value


def _cloudflare_id(value: str) -> str:
    if not _CF_ID_RE.match(value):
        raise ValueError(f"{shown(value)} is not a Cloudflare id (32 lower-case hex characters)")
    return value


def _uuid(value: str) -> str:
    if not _UUID_RE.match(value):
        raise ValueError(f"{shown(value)} is not a UUID (8-4-4-4-12 lower-case hex)")
    return value


def _calendar_date(value: str) -> str:
    try:
        if not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not a calendar date; use YYYY-MM-DD, e.g. '2025-01-01'") from None
    return value


def _cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(f"{shown(value)} {problem}" if problem.startswith("has ") else
                         f"{shown(value)}: {problem}")
    return value


def _one_of(values: tuple[str, ...], what: str, note: str = ""):
    def check(value: str) -> str:
        if value not in values:
            guess = closest_key(value, list(values))
            hint = (f"did you mean {guess!r}?" if guess else "see chittyos_edge/config/cloudflare_enums.py") \
                if len(values) > 16 else f"valid: {', '.join(values)}"
            raise ValueError(f"{shown(value)} is not a {what} Cloudflare has; {hint}{note}")
        return value
    return AfterValidator(check)


Hostname = Annotated[str, AfterValidator(_hostname)]
BindingName = Annotated[str, AfterValidator(_binding_name)]
ResourceBaseName = Annotated[str, AfterValidator(_resource_name)]
CloudflareId = Annotated[str, AfterValidator(_cloudflare_id)]
Uuid = Annotated[str, AfterValidator(_uuid)]
CalendarDate = Annotated[str, AfterValidator(_calendar_date)]
CronExpression = Annotated[str, AfterValidator(_cron)]
_APAC = " (APAC is SEAS and NEAS)"
HealthCheckRegion = Annotated[str, _one_of(cloudflare_enums.HEALTHCHECK_REGIONS, "health-check region", _APAC)]
LbCheckRegion = Annotated[str, _one_of(cloudflare_enums.LB_CHECK_REGIONS, "load-balancer check region", _APAC)]
LbRegion = Annotated[str, _one_of(cloudflare_enums.LB_REGIONS, "load-balancer region", _APAC)]
AlertType = Annotated[str, _one_of(cloudflare_enums.ALERT_TYPES, "notification alert type")]
