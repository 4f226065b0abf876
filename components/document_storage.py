"""R2 buckets (with lifecycle, CORS and r2.dev exposure) and D1 databases (with their migrations).

Per `r2Buckets` entry: an `R2Bucket` named `<key>-<environment>` (or imported by its `adopt` block,
`<account>/<name>/<jurisdiction>`, keeping its name), an `R2BucketLifecycle` when
`lifecycle` lists rules (days become the API's seconds: `transitionToInfrequentAccessDays` ->
a storage-class transition, `deleteAfterDays` -> object deletion, `abortMultipartAfterDays` ->
abort of stale uploads), an `R2BucketCors` when `cors` lists rules, and an `R2ManagedDomain`
that states whether the public `*.r2.dev` URL is on (off unless `publicDevUrl`; production refuses
it). The bucket's `jurisdiction` is passed to every one of these sub-resources (a bucket in `eu`
is a different bucket from one in `default`); `location` is a creation-time hint only.

Per `d1Databases` entry: a `D1Database` named `<key>-<environment>` (or imported by its `adopt`
block, `<account>/<uuid>`, keeping its name) and, when `migrations` is set, a `D1Migrations`
resource that applies the directory's pending SQL files at deploy time (see
`components.d1_migration_runner`). Workers that bind the database depend on it, so a deploy
changes the schema before the code that needs it.

Buckets and databases hold data: `protect`/`retainOnDelete` from `dataProtection`; an adopted one is
retained on delete in every stack (it existed before the stack). In production a
change that would replace one (its name, jurisdiction, or a database's location) fails instead of
deleting the data; lifecycle and CORS rules are plain configuration and change freely. A lifecycle
rule that deletes objects is itself data loss by design: it applies to production only as listed.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import d1_migrations, naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.stack import DataProtection
from chittyos_edge.config.storage import CorsRule, D1Database, LifecycleRule, R2Bucket, R2Jurisdiction
from chittyos_edge.project import Project

from .base import Component
from .d1_migration_runner import D1Migrations

DAY_SECONDS = 86400


def lifecycle_rule(rule: LifecycleRule) -> dict:
    """One config rule as the provider's rule (ages in seconds)."""
    out: dict = {"id": rule.id, "enabled": True, "conditions": {"prefix": rule.prefix}}
    if rule.transition_to_infrequent_access_days:
        out["storage_class_transitions"] = [{
            "condition": {"type": "Age", "max_age": rule.transition_to_infrequent_access_days * DAY_SECONDS},
            "storage_class": "InfrequentAccess"}]
    if rule.delete_after_days:
        out["delete_objects_transition"] = {
            "condition": {"type": "Age", "max_age": rule.delete_after_days * DAY_SECONDS}}
    if rule.abort_multipart_after_days:
        out["abort_multipart_uploads_transition"] = {
            "condition": {"type": "Age", "max_age": rule.abort_multipart_after_days * DAY_SECONDS}}
    return out


def cors_rule(rule: CorsRule) -> dict:
    allowed: dict = {"origins": list(rule.allowed_origins), "methods": list(rule.allowed_methods)}
    if rule.allowed_headers:
        allowed["headers"] = list(rule.allowed_headers)
    out: dict = {"id": rule.id, "allowed": allowed, "max_age_seconds": rule.max_age_seconds}
    if rule.expose_headers:
        out["expose_headers"] = list(rule.expose_headers)
    return out


class DocumentStorage(Component):
    """`buckets` / `databases`: logical key -> resource; `migrations`: database key -> D1Migrations."""

    def __init__(self, name: str, *, account_id: str, environment: Environment,
                 r2_buckets: Mapping[str, R2Bucket], d1_databases: Mapping[str, D1Database],
                 protection: DataProtection, project: Project,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("document_storage", name, opts)
        self.buckets: dict[str, cloudflare.R2Bucket] = {}
        self.jurisdictions: dict[str, R2Jurisdiction] = {}
        self.databases: dict[str, cloudflare.D1Database] = {}
        self.migrations: dict[str, D1Migrations] = {}

        for key, spec in r2_buckets.items():
            self._bucket(key, spec, account_id, environment, protection)
        for key, spec in d1_databases.items():
            self._database(key, spec, account_id, environment, protection, project)

        self.register_outputs({
            "bucketNames": {key: bucket.name for key, bucket in self.buckets.items()},
            "databaseIds": {key: db.uuid for key, db in self.databases.items()},
        })

    def _bucket(self, key: str, spec: R2Bucket, account_id: str, environment: Environment,
                protection: DataProtection) -> None:
        jurisdiction = spec.jurisdiction.value
        adopt = spec.adopt
        bucket = cloudflare.R2Bucket(
            self.child_name(f"bucket-{key}"),
            account_id=account_id,
            name=adopt.name if adopt else naming.bucket_name(key, environment),
            jurisdiction=jurisdiction,
            location=spec.location.value if spec.location else None,
            storage_class=spec.storage_class.value,
            # The location is a creation-time hint: an adopted bucket has none to match on import.
            opts=self.stateful_opts(protection,
                                    import_id=f"{account_id}/{adopt.name}/{jurisdiction}" if adopt else None,
                                    ignore_changes=["location"] if adopt else None))
        self.buckets[key] = bucket
        self.jurisdictions[key] = spec.jurisdiction
        if spec.lifecycle:
            cloudflare.R2BucketLifecycle(
                self.child_name(f"bucket-{key}-lifecycle"),
                account_id=account_id, bucket_name=bucket.name, jurisdiction=jurisdiction,
                rules=[lifecycle_rule(rule) for rule in spec.lifecycle],
                opts=self.child_opts())
        if spec.cors:
            cloudflare.R2BucketCors(
                self.child_name(f"bucket-{key}-cors"),
                account_id=account_id, bucket_name=bucket.name, jurisdiction=jurisdiction,
                rules=[cors_rule(rule) for rule in spec.cors],
                opts=self.child_opts())
        cloudflare.R2ManagedDomain(
            self.child_name(f"bucket-{key}-r2dev"),
            account_id=account_id, bucket_name=bucket.name, jurisdiction=jurisdiction,
            enabled=spec.public_dev_url,
            opts=self.child_opts())

    def _database(self, key: str, spec: D1Database, account_id: str, environment: Environment,
                  protection: DataProtection, project: Project) -> None:
        adopt = spec.adopt
        database = cloudflare.D1Database(
            self.child_name(f"d1-{key}"),
            account_id=account_id,
            name=adopt.name if adopt else naming.database_name(key, environment),
            primary_location_hint=spec.primary_location_hint.value if spec.primary_location_hint else None,
            read_replication={"mode": spec.read_replication.value},
            # The location hint applies at creation only: an adopted database has none to match on import.
            opts=self.stateful_opts(protection, import_id=f"{account_id}/{adopt.id}" if adopt else None,
                                    ignore_changes=["primary_location_hint"] if adopt else None))
        self.databases[key] = database
        if spec.migrations:
            files = d1_migrations.load_directory(project.path(spec.migrations.directory))
            self.migrations[key] = D1Migrations(
                self.child_name(f"d1-{key}-migrations"),
                account_id=account_id,
                database_id=database.uuid,
                directory=spec.migrations.directory,
                migrations=d1_migrations.manifest(files),
                environment=Environment(environment).value,
                allow_destructive=spec.migrations.allow_destructive,
                config_key=f"d1Databases.{key}.migrations.allowDestructive",
                opts=self.child_opts(depends_on=[database]))
