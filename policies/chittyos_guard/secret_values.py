"""No secret in a plain-text binding or var: secrets go in `secret_text` bindings.

A plain-text var is stored and shown in the clear (dashboard, `wrangler deploy` output, the
state file). The rule flags vars whose name says secret and vars whose value looks like one.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import Severity

from ._rule import CODE_TYPES, ReportViolation, Rule, items, script_label

SECRET_NAME_PARTS = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "KEY", "APIKEY", "CREDENTIAL",
                     "CREDENTIALS", "PRIVATE", "DSN"}
SECRET_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bmcp_auth_\w+|^\[secret:[^\]]+\]$"
    r"|://[^/\s:@]+:[^/\s@]+@)")

PLAIN_TYPES = ("plain_text", "json")


def _secret_name(name: str) -> bool:
    return bool(set(re.split(r"[^A-Z0-9]+", name.upper())) & SECRET_NAME_PARTS)


def _plain_secrets(args: Any, report: ReportViolation) -> None:
    if args.resource_type not in CODE_TYPES:
        return
    script = script_label(args.props)
    for binding in items(args.props.get("bindings")):
        kind = binding.get("type")
        if kind not in PLAIN_TYPES:
            continue
        name = str(binding.get("name") or "")
        value = binding.get("text") if kind == "plain_text" else binding.get("json")
        if _secret_name(name):
            report(f"Worker {script}: {kind} var {name} is named like a secret; declare it in "
                   "services.<name>.secrets (a secret_text binding)")
        elif SECRET_VALUE.search(str(value or "")):
            report(f"Worker {script}: {kind} var {name} holds what looks like a credential; move it to "
                   "services.<name>.secrets and rotate it")


RULES = [
    Rule(
        id="CF-SEC-001", name="no-secret-in-plain-text",
        title="No secret sits in a plain-text binding or var of a Worker.",
        severity=Severity.CRITICAL,
        checklist="Authentication and Authorization > API Authentication > API key management secure",
        remediation="List the name under services.<name>.secrets and set the value with "
                    "`pulumi config set --secret workerSecrets.<name>.<NAME>`; rotate any value that was committed.",
        check=_plain_secrets,
    ),
]
