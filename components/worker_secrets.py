"""Secrets of a Worker whose code this program does not upload (live code, adopted as it runs).

A Worker's secrets are `secret_text` bindings of its deployed version. For a pinned build they go
in the `WorkerVersion` this program uploads. For live code nothing is uploaded, so this
deploy-time resource (`pulumi.dynamic`) sets them with the Workers secrets API
(`PUT /accounts/{account}/workers/scripts/{script}/secrets`, through Cloudflare's official SDK):
Cloudflare then deploys the live code again with the secret added, without any code from here.

Inputs are the account, the script name and the secrets by binding name (each value a Pulumi
secret, stored encrypted in the state). Only changed or new secrets are sent on update. Deleting
the resource leaves the secrets on the Worker: the live code may rely on them, and the Worker
itself existed before this stack.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, UpdateResult

from ._api_token import ApiTokenProvider


class WorkerSecretsError(Exception):
    """The secrets could not be set: the message says which and why."""


def changed_secrets(olds: Mapping[str, str], news: Mapping[str, str]) -> list[str]:
    """Binding names whose value is new or different (removed ones are left on the Worker)."""
    return sorted(name for name, value in news.items() if olds.get(name) != value)


class WorkerSecretsProvider(ApiTokenProvider):
    token_use = "Worker secrets"
    token_permission = "Workers Scripts Edit"

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(key, f"{key} is required") for key in ("accountId", "scriptName") if not news.get(key)]
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in ("accountId", "scriptName") if olds.get(key) != news.get(key)]
        changes = bool(replaces) or bool(changed_secrets(olds.get("secrets") or {}, news.get("secrets") or {}))
        return DiffResult(changes=changes, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._put(props, sorted(props.get("secrets") or {}))
        return CreateResult(f"{props['accountId']}/{props['scriptName']}/secrets", props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._put(news, changed_secrets(olds.get("secrets") or {}, news.get("secrets") or {}))
        return UpdateResult(news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """The secrets stay on the live Worker (see the module docstring)."""

    def _put(self, props: dict[str, Any], names: list[str]) -> None:
        from cloudflare import Cloudflare

        client = Cloudflare(api_token=self.api_token(WorkerSecretsError))
        secrets = props.get("secrets") or {}
        for name in names:
            try:
                client.workers.scripts.secrets.update(
                    props["scriptName"], account_id=props["accountId"], name=name, text=str(secrets[name]),
                    type="secret_text")
            except Exception as error:  # the SDK's APIError family
                raise WorkerSecretsError(f"Worker {props['scriptName']}: setting secret {name} failed: "
                                         f"{type(error).__name__}: {error}") from None


class WorkerSecrets(pulumi.dynamic.Resource, module="workers", name="Secrets"):
    """Secret bindings of a live-code Worker (type `pulumi-python:dynamic/workers:Secrets`)."""

    def __init__(self, name: str, *, account_id: pulumi.Input[str], script_name: str,
                 secrets: Mapping[str, pulumi.Input[str]], opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(WorkerSecretsProvider(), name, {
            "accountId": account_id,
            "scriptName": script_name,
            "secrets": pulumi.Output.secret(dict(secrets)),
        }, opts)
