"""Physical names, built in one place: `<logical name>-<environment>`.

Every stateful name carries its environment, so the staging and production stacks can never
point at the same KV namespace, bucket, database or queue. The one exception is adoption: a
resource imported as it exists keeps the name it has (an import whose name differs fails).
"""

from __future__ import annotations

from typing import Any

from .config.base import Environment
from .config.errors import shown

# Cloudflare's limits for the names built here.
_LIMITS = {
    "script": 63,
    "bucket": 63,
    "database": 64,
    "queue": 63,
    "kv": 512,
    "tunnel": 63,
    "dataset": 64,
    # Display names of account- and zone-level objects both stacks share a namespace with (Access
    # applications, policies and service tokens, health checks, pools, notification destinations and
    # policies). Kept short on purpose: far inside every one of those APIs' limits.
    "label": 100,
}


class NameTooLong(ValueError):
    pass


def physical_name(kind: str, logical: str, environment: Environment | str, *, separator: str = "-") -> str:
    env = Environment(environment).value
    name = f"{logical}{separator}{env}"
    limit = _LIMITS[kind]
    if len(name) > limit:
        raise NameTooLong(f"{kind} name {shown(name)} is {len(name)} characters; Cloudflare allows {limit}: "
                          f"shorten {shown(logical)}")
    return name


def script_name(base: str, environment: Environment | str) -> str:
    return physical_name("script", base, environment)


def physical_script_name(service: Any, environment: Environment | str) -> str:
    """A service's Worker name (`services.<key>`): the live one when adopted, else `<scriptName>-<environment>`.
    Here, not in the component, so the gate can name Workers without importing the provider SDK."""
    return service.adopt.script_name if service.adopt else script_name(service.script_name, environment)


def bucket_name(logical: str, environment: Environment | str) -> str:
    return physical_name("bucket", logical, environment)


def database_name(logical: str, environment: Environment | str) -> str:
    return physical_name("database", logical, environment)


def queue_name(logical: str, environment: Environment | str) -> str:
    return physical_name("queue", logical, environment)


def kv_title(logical: str, environment: Environment | str) -> str:
    return physical_name("kv", logical, environment)


def tunnel_name(base: str, environment: Environment | str) -> str:
    return physical_name("tunnel", base, environment)


def dataset_name(base: str, environment: Environment | str) -> str:
    """Analytics Engine datasets use '_' (they are SQL table names)."""
    return physical_name("dataset", base, environment, separator="_")


def label(logical: str, environment: Environment | str) -> str:
    """The name of a shared-namespace object (health check, pool, Access policy, ...): `<logical>-<env>`."""
    return physical_name("label", logical, environment)


def carries_environment(name: str, environment: Environment | str) -> bool:
    env = Environment(environment).value
    return name.endswith(f"-{env}") or name.endswith(f"_{env}")
