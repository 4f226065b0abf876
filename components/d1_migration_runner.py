"""The deploy-time resource that applies a D1 database's pending SQL migrations.

`D1Migrations` is a `pulumi.dynamic.Resource`. Its inputs are the database id, the migration
directory, every file's name and sha256, the environment and the allowDestructive flag: nothing
machine-specific and no secret, so the offline plan shows exactly what `pulumi up` would apply.
A new file changes the input list, so the next `pulumi up` updates the resource, which applies
the files not yet recorded in the database's `d1_migrations` table (see
`chittyos_edge.d1_migrations`). Deleting the resource never drops anything.

At deploy time the provider talks to the D1 HTTP API with the token of the Cloudflare provider
(`CLOUDFLARE_API_TOKEN` in the environment, or the `cloudflare:apiToken` stack secret): the
token is read in the provider process and never becomes an input, an output or part of the plan.

What it costs: a failing file stops `pulumi up` with the database unchanged for that file (each
file is one transaction); files applied before it stay applied. Editing an applied file is
refused (the state keeps every file's hash): add a new numbered file instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, UpdateResult

from chittyos_edge import d1_migrations
from chittyos_edge.project import Project

from ._api_token import ApiTokenProvider

_COMPARED = ("accountId", "databaseId", "directory", "migrations", "allowDestructive", "environment")


class D1MigrationsProvider(ApiTokenProvider):
    """Applies pending migrations on create and update; never undoes anything on delete."""

    token_use = "D1 migrations"
    token_permission = "D1 Edit"

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(key, f"{key} is required") for key in ("accountId", "directory", "environment")
                    if not news.get(key)]
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in _COMPARED if olds.get(key) != news.get(key)]
        replaces = [key for key in ("accountId", "databaseId") if key in changed]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        applied = self._run(props)
        return CreateResult(f"{props['databaseId']}/{d1_migrations.MIGRATIONS_TABLE}", {**props, "applied": applied})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        edited = edited_migrations(olds.get("migrations") or [], news.get("migrations") or [])
        if edited:
            raise d1_migrations.MigrationError(
                f"applied migrations {edited} were edited; applied files are immutable: restore them and add a "
                "new numbered file with the change")
        return UpdateResult({**news, "applied": self._run(news)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Removing the resource leaves the schema and its d1_migrations record as they are."""

    def _token(self) -> str:
        return self.api_token(d1_migrations.MigrationError)

    def _run(self, props: dict[str, Any]) -> list[str]:
        # `directory` is relative to the project; under `pulumi up` this provider runs in the project's
        # folder, as the program does.
        files = load_and_verify(Project.discover().path(props["directory"]), props.get("migrations") or [])
        executor = d1_migrations.D1HttpExecutor(props["accountId"], props["databaseId"], self._token())
        return d1_migrations.apply_pending(
            executor, files, environment=props["environment"],
            allow_destructive=bool(props.get("allowDestructive")), config_key=props.get("configKey") or
            "d1Databases.<db>.migrations.allowDestructive")


def edited_migrations(olds: list[dict[str, str]], news: list[dict[str, str]]) -> list[str]:
    """Names present before and now whose content hash changed."""
    before = {m["name"]: m["sha256"] for m in olds}
    return sorted(m["name"] for m in news if m["name"] in before and before[m["name"]] != m["sha256"])


def load_and_verify(directory: Path, expected: list[dict[str, str]]) -> list[d1_migrations.Migration]:
    """The files on disk, refused unless they are exactly those the plan was made with."""
    files = d1_migrations.load_directory(directory)
    on_disk = d1_migrations.manifest(files)
    if on_disk != list(expected):
        raise d1_migrations.MigrationError(
            f"the migration files in {directory} changed since the preview; run `pulumi up` again")
    return files


class D1Migrations(pulumi.dynamic.Resource, module="d1", name="Migrations"):
    """Pending migrations of one D1 database, applied at deploy time (type `pulumi-python:dynamic/d1:Migrations`)."""

    applied: pulumi.Output[list]

    def __init__(self, name: str, *, account_id: pulumi.Input[str], database_id: pulumi.Input[str],
                 directory: str, migrations: list[dict[str, str]], environment: str, allow_destructive: bool,
                 config_key: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(D1MigrationsProvider(), name, {
            "accountId": account_id,
            "databaseId": database_id,
            "directory": directory,
            "migrations": migrations,
            "environment": environment,
            "allowDestructive": allow_destructive,
            "configKey": config_key,
            "applied": None,
        }, opts)
