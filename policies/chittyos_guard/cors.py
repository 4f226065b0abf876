"""No wildcard CORS in production: R2 bucket CORS rules, Worker CORS vars, Access applications."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import ACCESS_APPLICATION, CODE_TYPES, R2_CORS, ReportViolation, Rule, items, script_label


def _wild(origin: Any) -> bool:
    return isinstance(origin, str) and "*" in origin


def _r2_cors(args: Any, report: ReportViolation) -> None:
    if args.resource_type != R2_CORS:
        return
    for index, rule in enumerate(items(args.props.get("rules"))):
        origins = items((rule.get("allowed") or {}).get("origins"))
        wild = [o for o in origins if _wild(o)]
        if wild:
            report(f"bucket {args.props.get('bucketName')!r} CORS rule {rule.get('id') or index} allows origins "
                   f"{wild}; list the exact origins (e.g. https://connect.chitty.cc)")


def _worker_cors(args: Any, report: ReportViolation) -> None:
    if args.resource_type in CODE_TYPES:
        for binding in items(args.props.get("bindings")):
            name = str(binding.get("name") or "")
            if binding.get("type") != "plain_text" or "CORS" not in name.upper():
                continue
            wild = [part.strip() for part in str(binding.get("text") or "").split(",") if _wild(part.strip())]
            if wild:
                report(f"Worker {script_label(args.props)}: var {name} allows origins {wild}; list the exact "
                       "origins, comma-separated")
    elif args.resource_type == ACCESS_APPLICATION:
        headers = args.props.get("corsHeaders") or {}
        if headers.get("allowAllOrigins") or any(_wild(o) for o in items(headers.get("allowedOrigins"))):
            report(f"Access application {args.props.get('name')!r} allows every origin in corsHeaders")


RULES = [
    Rule(
        id="CF-CORS-001", name="r2-cors-no-wildcard",
        title="No R2 bucket allows a wildcard CORS origin.",
        severity=Severity.HIGH,
        checklist="Security Headers and Policies > CORS Configuration > Allowed origins properly restricted",
        remediation="In r2Buckets.<name>.cors[].allowedOrigins list exact origins (https://claude.ai, ...); "
                    "'*' is for the staging stack only.",
        check=_r2_cors,
    ),
    Rule(
        id="CF-CORS-002", name="worker-cors-no-wildcard",
        title="No Worker CORS var (nor Access application) allows a wildcard origin.",
        severity=Severity.HIGH,
        checklist="Security Headers and Policies > CORS Configuration > Allowed origins properly restricted",
        remediation="Set services.<name>.vars.CORS_ORIGIN to the exact origins, comma-separated.",
        check=_worker_cors,
    ),
]
