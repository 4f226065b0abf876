"""Secrets by marking: every input the engine does not mark secret is plain text, stored in the
state and shown by `pulumi preview`; no secret may sit in one.

The rule reads, for every resource of every type, which inputs the engine marked secret
(`_secrets.secret_paths_of`). An unmarked input is a finding when
- it is a Worker `secret_text`/`secret_key` binding's value (a secret binding fed a plain value),
- its name says secret (`CF-Access-Client-Secret`, `clientSecret`, a var `CHITTY_ID_TOKEN`,
  `apiKey`, `password`...), or
- its value has the shape of a credential (a private key, GitHub/Slack/OpenAI/AWS tokens, a JWT,
  a Slack or PagerDuty webhook URL with its key, a URL with a password, or the offline plan's
  `[secret:...]` placeholder that lost its marking).
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._rule import ReportViolation, Rule, is_unknown, raw_target, walk, words
from ._secrets import is_marked, secret_paths_of

SECRET_WORDS = {"secret", "secrets", "password", "passwd", "passphrase", "token", "tokens", "credential",
                "credentials", "dsn"}
KEY_QUALIFIERS = {"api", "private", "access", "secret", "integration", "signing", "encryption", "routing",
                  "webhook", "client", "master", "auth"}
NOT_SECRET_ENDINGS = {"id", "ids", "name", "names", "tag", "tags", "type", "url", "urls", "version", "duration",
                      "expiry", "expires", "at", "ttl", "header", "headers", "enabled"}
TOKEN_SHAPES = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_\w{20,}|\bsk-[A-Za-z0-9_-]{20,}"
    r"|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{35}"
    r"|\bglpat-[A-Za-z0-9_-]{20,}|\bnpm_[A-Za-z0-9]{36}|\bmcp_auth_\w+|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."
    r"|hooks\.slack\.com/services/T\w+/B\w+/\w+|events\.pagerduty\.com/integration/[0-9a-f]{32}"
    r"|^\[secret:[^\]]+\]$|://[^/\s:@]+:[^/\s@]+@)")
SECRET_BINDINGS = ("secret_text", "secret_key")
PLAIN_BINDINGS = {"plain_text": "text", "json": "json"}


def secret_name(name: str, var: bool = False) -> bool:
    """A key or var name that says it holds a secret. Var names may say so with a bare KEY
    (`STRIPE_KEY`); other keys need a qualifier (`apiKey`, not `cacheKey`)."""
    parts = words(name)
    if not parts or parts[-1] in NOT_SECRET_ENDINGS:
        return False
    if SECRET_WORDS & set(parts):
        return True
    keyed = [i for i, w in enumerate(parts) if w in ("key", "apikey", "privatekey")]
    return any(var or parts[i] != "key" or (i > 0 and parts[i - 1] in KEY_QUALIFIERS) for i in keyed)


def _binding_leaves(props: Any) -> dict[str, tuple[str, str]]:
    """path of each Worker binding's value -> (binding type, binding name)."""
    found = {}
    for index, binding in enumerate(raw_target(raw_target(props).get("bindings")) or []):
        binding = raw_target(binding)
        if isinstance(binding, dict) and binding.get("type") in (*SECRET_BINDINGS, *PLAIN_BINDINGS):
            key = PLAIN_BINDINGS.get(binding["type"], "text")
            found[f"bindings[{index}].{key}"] = (binding["type"], str(binding.get("name")))
    return found


def _leaf_name(path: str) -> str:
    """`httpConfig.header.CF-Access-Client-Secret[0]` -> `CF-Access-Client-Secret`."""
    return re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1].split("[")[0]


def _plain_secrets(args: Any, report: ReportViolation) -> None:
    """No secret sits in a plain (unmarked) input of any resource.

    Make the value a Pulumi secret: a Worker secret goes under services.<name>.secrets, set with
    `pulumi config set --secret workerSecrets.<name>.<NAME>`; any other input takes
    `pulumi.Output.secret(...)` (or additional_secret_outputs). Rotate a value that was ever
    committed or stored in plain text."""
    marked = secret_paths_of(args.props)
    if marked is None:
        report("the pack cannot see which inputs are secret (the Analyzer request's secret marks were not kept); "
               "every value is treated as plain text, so this rule fails closed")
        marked = frozenset()
    bindings = _binding_leaves(args.props)
    for path, value in walk(args.props):
        if not isinstance(value, str) or not value or is_unknown(value) or is_marked(path, marked):
            continue
        kind, var = bindings.get(path, (None, None))
        where = f"{args.resource_type.rsplit(':', 1)[-1]} {args.name}: {path}"
        if kind in SECRET_BINDINGS:
            report(f"{where}: the {kind} binding {var} gets a plain value; pass a Pulumi secret")
        elif secret_name(var, var=True) if var else secret_name(_leaf_name(path)):
            report(f"{where} ({var or _leaf_name(path)}) is named like a secret but is not marked secret")
        elif TOKEN_SHAPES.search(value):
            report(f"{where} holds what looks like a credential in plain text; make it a secret and rotate it")


RULES = [
    # A Worker's plain values are its vars; any other resource's come from its own entry.
    Rule("CF-SEC-001", "no-secret-in-plain-text", Severity.CRITICAL, C.API_KEYS, _plain_secrets,
         key=("services.<entry>.vars", "<entry>")),
]
