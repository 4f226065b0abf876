"""R2 in production: every bucket has lifecycle rules that keep data as long as the reports say
(archive, never delete within days), and no bucket has a public r2.dev URL."""

from __future__ import annotations

from typing import Any

from pulumi_policy import Severity

from . import checklist as C
from ._rule import (
    R2_BUCKET, R2_LIFECYCLE, R2_MANAGED_DOMAIN, Lookup, ReportViolation, Rule, config, each_resource, items,
    named_like, number, of_type, per_call, raw,
)

TRANSITIONS = ("deleteObjectsTransition", "abortMultipartUploadsTransition", "storageClassTransitions")


def _active(rule: Any) -> bool:
    return rule.get("enabled") is not False and any(rule.get(key) for key in TRANSITIONS)


@per_call
def _lifecycle_index(args: Any) -> Lookup:
    """The stack's lifecycles by the bucket they name, or depend on for its name."""
    return Lookup(of_type(args.resources, R2_LIFECYCLE), lambda lc: [
        ("name", raw(lc.props, "bucketName")),
        *(("urn", dep.urn) for dep in lc.property_dependencies.get("bucketName", []))])


def _lifecycles_of(args: Any, bucket: Any) -> list:
    return _lifecycle_index(args).find(("name", raw(bucket.props, "name")), ("urn", bucket.urn))


def _lifecycles(args: Any, report: ReportViolation) -> None:
    """Every R2 bucket has lifecycle rules.

    Give each r2Buckets.<name> at least one lifecycle rule (deleteAfterDays,
    transitionToInfrequentAccessDays or abortMultipartAfterDays)."""
    for bucket in of_type(args.resources, R2_BUCKET):
        with each_resource(report, bucket.urn):
            name = bucket.props.get("name")
            mine = _lifecycles_of(args, bucket)
            if not mine:
                report(f"R2 bucket {name!r} has no R2BucketLifecycle; add r2Buckets.<name>.lifecycle rules "
                       "(expire, archive or abort stale multipart uploads)", bucket.urn)
                continue
            for lc in mine:
                with each_resource(report, lc.urn):
                    if not any(_active(rule) for rule in items(lc.props.get("rules"))):
                        report(f"R2 bucket {name!r}: lifecycle {lc.name} has no enabled rule with a transition",
                               lc.urn)


def _days(transition: Any) -> float | None:
    condition = (transition or {}).get("condition") or {}
    age = number(condition.get("maxAge"))
    return age / 86400 if condition.get("type", "Age") == "Age" and age is not None else None


def _retention(args: Any, report: ReportViolation) -> None:
    """No lifecycle deletes data sooner than the reports keep it, and archival moves data to Infrequent Access in time.

    Per bucket (name without the environment) retention in policies/config/<stack>.json says the
    fewest days data is kept (null: never deleted, e.g. ChittyConnect's documents, the analytics
    archive) and how soon it moves to Infrequent Access (the optimization report: project data at
    30 days, deleted at 90). Other buckets keep data at least minRetentionDays."""
    cfg = config(args)
    table, floor = dict(cfg.get("buckets") or RETENTION), cfg.get("minRetentionDays", 30)
    for bucket in of_type(args.resources, R2_BUCKET):
        with each_resource(report, bucket.urn):
            name = bucket.props.get("name")
            wanted = next((row for prefix, row in table.items() if named_like(name, prefix)),
                          {"minRetentionDays": floor})
            keep, archive = wanted.get("minRetentionDays", floor), wanted.get("archiveWithinDays")
            rules = [rule for lc in _lifecycles_of(args, bucket) for rule in items(lc.props.get("rules"))
                     if rule.get("enabled") is not False]
            for rule in rules:
                transition = rule.get("deleteObjectsTransition")
                days = _days(transition)
                if transition and (keep is None or days is None or days < keep):
                    kept = "never deleted" if keep is None else f"kept at least {keep} days"
                    report(f"R2 bucket {name!r}: lifecycle rule {rule.get('id')} deletes objects after {days} days; "
                           f"its data must be {kept}", bucket.urn)
            moved = [_days(t) for rule in rules for t in items(rule.get("storageClassTransitions"))]
            if archive is not None and not any(d is not None and d <= archive for d in moved):
                report(f"R2 bucket {name!r}: nothing moves its objects to Infrequent Access within {archive} days "
                       f"(transitions after {moved or 'none'})", bucket.urn)


def _no_public_dev_url(args: Any, report: ReportViolation) -> None:
    """No R2 bucket is reachable through its public r2.dev URL.

    Set r2Buckets.<name>.publicDevUrl: false (R2ManagedDomain enabled false)."""
    if args.resource_type == R2_MANAGED_DOMAIN and args.props.get("enabled") is not False:
        report(f"bucket {args.props.get('bucketName')!r} serves the public r2.dev URL; set enabled false "
               "(r2Buckets.<name>.publicDevUrl: false) and serve through a custom domain")


# The reports' retention per bucket: ChittyConnect's documents are never deleted (the guide has no
# expiry); project data moves to Infrequent Access at 30 days, is deleted at 90; analytics is archived.
RETENTION = {
    "chittyconnect-documents": {"minRetentionDays": None},
    "chittyops-project-data": {"minRetentionDays": 90, "archiveWithinDays": 30},
    "chittyops-analytics": {"minRetentionDays": None},
}
_ROW = {"type": "object", "additionalProperties": False, "properties": {
    "minRetentionDays": {"type": ["integer", "null"], "minimum": 1}, "archiveWithinDays": {"type": "integer"}}}
_RETENTION = {"buckets": {"type": "object", "additionalProperties": _ROW, "default": RETENTION,
                          "description": "Per bucket name (without the environment): days kept, days to archive."},
              "minRetentionDays": {"type": "integer", "default": 30, "minimum": 30,
                                   "description": "Fewest days any other bucket keeps its objects."}}

RULES = [
    Rule("CF-R2-001", "r2-buckets-have-lifecycle", Severity.MEDIUM, C.R2_LIFECYCLE, _lifecycles, scope="stack",
         key="r2Buckets.<entry>.lifecycle"),
    Rule("CF-R2-002", "r2-no-public-dev-url", Severity.HIGH, C.R2_PUBLIC, _no_public_dev_url,
         key="r2Buckets.<entry>.publicDevUrl"),
    Rule("CF-R2-003", "r2-retention-and-archival", Severity.HIGH, C.R2_ARCHIVAL, _retention, "stack", _RETENTION,
         key="r2Buckets.<entry>.lifecycle"),
]
