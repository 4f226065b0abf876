"""CORS in production: exact HTTPS origins only (no `*`, no plain `http://`), in R2 bucket CORS
rules, Worker CORS vars and Access applications; R2 CORS lists its methods and headers."""

from __future__ import annotations

from typing import Any, Iterator

from pulumi_policy import Severity

from . import checklist as C
from ._rule import ACCESS_APPLICATION, CODE_TYPES, R2_CORS, ReportViolation, Rule, items, script_label


def _origin_problem(origin: Any) -> str | None:
    if not isinstance(origin, str):
        return None
    if "*" in origin:
        return "a wildcard"
    if not origin.startswith("https://"):
        return "not HTTPS (an origin over plain HTTP can be impersonated on the network)"
    return None


def _bad_origins(origins: Any) -> Iterator[str]:
    for origin in origins:
        problem = _origin_problem(origin)
        if problem:
            yield f"{origin!r} ({problem})"


def _r2_cors(args: Any, report: ReportViolation) -> None:
    """No R2 bucket allows a wildcard or plain-HTTP CORS origin.

    In r2Buckets.<name>.cors[].allowedOrigins list exact HTTPS origins (https://claude.ai, ...);
    '*' is for the staging stack only."""
    if args.resource_type != R2_CORS:
        return
    for index, rule in enumerate(items(args.props.get("rules"))):
        bad = list(_bad_origins(items((rule.get("allowed") or {}).get("origins"))))
        if bad:
            report(f"bucket {args.props.get('bucketName')!r} CORS rule {rule.get('id') or index} allows origins "
                   f"{', '.join(bad)}; list the exact HTTPS origins (e.g. https://connect.chitty.cc)")


def _worker_cors(args: Any, report: ReportViolation) -> None:
    """No Worker CORS var (nor Access application) allows a wildcard or plain-HTTP origin.

    Set services.<name>.vars.CORS_ORIGIN to the exact HTTPS origins, comma-separated."""
    if args.resource_type in CODE_TYPES:
        for binding in items(args.props.get("bindings")):
            name = str(binding.get("name") or "")
            if binding.get("type") != "plain_text" or "CORS" not in name.upper():
                continue
            bad = list(_bad_origins(part.strip() for part in str(binding.get("text") or "").split(",")))
            if bad:
                report(f"Worker {script_label(args.props) or args.name}: var {name} allows origins "
                       f"{', '.join(bad)}; list the exact HTTPS origins, comma-separated")
    elif args.resource_type == ACCESS_APPLICATION:
        headers = args.props.get("corsHeaders") or {}
        bad = list(_bad_origins(items(headers.get("allowedOrigins"))))
        if headers.get("allowAllOrigins") or bad:
            report(f"Access application {args.props.get('name')!r} allows every origin or {bad} in corsHeaders")


def _r2_methods(args: Any, report: ReportViolation) -> None:
    """Every R2 CORS rule lists its methods and headers; none allows all.

    List allowedMethods (GET, HEAD, and PUT/POST only where browsers upload) and allowedHeaders
    explicitly in r2Buckets.<name>.cors; never '*'."""
    if args.resource_type != R2_CORS:
        return
    for index, rule in enumerate(items(args.props.get("rules"))):
        allowed = rule.get("allowed") or {}
        wild = [key for key in ("methods", "headers") if "*" in items(allowed.get(key))]
        if wild or not items(allowed.get("methods")):
            report(f"bucket {args.props.get('bucketName')!r} CORS rule {rule.get('id') or index} allows every "
                   f"{' and '.join(wild) or 'method (none listed)'}; list them")


RULES = [
    Rule("CF-CORS-001", "r2-cors-no-wildcard", Severity.HIGH, C.R2_CORS, _r2_cors, key="r2Buckets.<entry>.cors"),
    Rule("CF-CORS-002", "worker-cors-no-wildcard", Severity.HIGH, C.CORS_ORIGINS, _worker_cors,
         key=("services.<entry>.vars", "<entry>")),  # an Access application's CORS: its own entry (tunnel.access)
    Rule("CF-CORS-003", "r2-cors-methods-restricted", Severity.MEDIUM, C.CORS_METHODS, _r2_methods,
         key="r2Buckets.<entry>.cors"),
]
