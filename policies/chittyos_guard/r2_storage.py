"""R2 in production: every bucket has lifecycle rules, and no bucket has a public r2.dev URL."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from ._rule import (
    R2_BUCKET, R2_LIFECYCLE, R2_MANAGED_DOMAIN, ReportViolation, Rule, each_resource, items, of_type, raw,
)

TRANSITIONS = ("deleteObjectsTransition", "abortMultipartUploadsTransition", "storageClassTransitions")


def _active(rule: Any) -> bool:
    return rule.get("enabled") is not False and any(rule.get(key) for key in TRANSITIONS)


def _lifecycles(args: Any, report: ReportViolation) -> None:
    lifecycles = of_type(args.resources, R2_LIFECYCLE)
    for bucket in of_type(args.resources, R2_BUCKET):
        with each_resource(report, bucket.urn):
            name = bucket.props.get("name")
            mine = [lc for lc in lifecycles
                    if raw(lc.props, "bucketName") == name
                    or any(dep.urn == bucket.urn for dep in lc.property_dependencies.get("bucketName", []))]
            if not mine:
                report(f"R2 bucket {name!r} has no R2BucketLifecycle; add r2Buckets.<name>.lifecycle rules "
                       "(expire, archive or abort stale multipart uploads)", bucket.urn)
                continue
            for lc in mine:
                with each_resource(report, lc.urn):
                    if not any(_active(rule) for rule in items(lc.props.get("rules"))):
                        report(f"R2 bucket {name!r}: lifecycle {lc.name} has no enabled rule with a transition",
                               lc.urn)


def _no_public_dev_url(args: Any, report: ReportViolation) -> None:
    if args.resource_type == R2_MANAGED_DOMAIN and args.props.get("enabled") is not False:
        report(f"bucket {args.props.get('bucketName')!r} serves the public r2.dev URL; set enabled false "
               "(r2Buckets.<name>.publicDevUrl: false) and serve through a custom domain")


RULES = [
    Rule(
        id="CF-R2-001", name="r2-buckets-have-lifecycle", scope="stack",
        title="Every R2 bucket has lifecycle rules.",
        severity=Severity.MEDIUM,
        checklist="Infrastructure Readiness > R2 Storage Configuration > Production buckets created with "
                  "lifecycle policies",
        remediation="Give each r2Buckets.<name> at least one lifecycle rule (deleteAfterDays, "
                    "transitionToInfrequentAccessDays or abortMultipartAfterDays).",
        check=_lifecycles,
    ),
    Rule(
        id="CF-R2-002", name="r2-no-public-dev-url",
        title="No R2 bucket is reachable through its public r2.dev URL.",
        severity=Severity.HIGH,
        checklist="Infrastructure Readiness > R2 Storage Configuration > Public access settings configured "
                  "appropriately",
        remediation="Set r2Buckets.<name>.publicDevUrl: false (R2ManagedDomain enabled false).",
        check=_no_public_dev_url,
    ),
]
