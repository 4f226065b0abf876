"""Stateful stores: KV namespaces, queues, R2 buckets and D1 databases, keyed by logical name.

A logical name (e.g. `chittyconnect-idempotency`) is what bindings refer to; the physical
name adds the environment (see `chittyos_edge.naming`), so two stacks can never share one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import CloudflareId, ConfigModel, Uuid


class AdoptKv(ConfigModel):
    """An existing namespace to import instead of create (`pulumi up` adopts it by id).

    An import fails when a declared input differs from the live resource, and the titles of the
    namespaces that exist today are not recorded anywhere this program can read. So:
    - `title` set: it is declared verbatim (copy it from `wrangler kv namespace list`); a wrong
      value makes the import fail at preview, before anything changes.
    - `title` omitted: the namespace keeps the title it has. The component declares the naming
      module's title but registers the namespace with `ignore_changes=["title"]`; Pulumi then takes
      the title from the live namespace on import and never renames it afterwards.
    The id is what Workers bind to; the title is a label, so either way no data moves.
    """

    id: CloudflareId = Field(description="The namespace id, as `wrangler kv namespace list` shows it.")
    title: str | None = Field(
        None, min_length=1,
        description="Its current title, declared verbatim (the import fails if it differs). Omit it to keep "
                    "the live title: the title is then ignored on import and on every later update.")

    @property
    def ignored_inputs(self) -> list[str]:
        """Inputs the component must pass as `ignore_changes` for this import to be sound."""
        return [] if self.title else ["title"]


class KvNamespace(ConfigModel):
    description: str = Field("", description="What the namespace holds (documentation only).")
    adopt: AdoptKv | None = Field(None, description="Import this existing namespace rather than create one.")


class AdoptQueue(ConfigModel):
    """An existing queue to import; it keeps its name (no environment suffix)."""

    id: CloudflareId = Field(description="The queue id.")
    name: str = Field(description="Its current name; a queue cannot be renamed without replacement.")


class Queue(ConfigModel):
    description: str = ""
    delivery_delay: int | None = Field(None, ge=0, le=43200, description="Seconds before a message is delivered.")
    message_retention_period: int | None = Field(
        None, ge=60, le=1209600, description="Seconds a message is kept (60 s to 14 days).")
    adopt: AdoptQueue | None = None


class R2Location(StrEnum):
    APAC = "apac"
    EEUR = "eeur"
    ENAM = "enam"
    WEUR = "weur"
    WNAM = "wnam"
    OC = "oc"


class R2Jurisdiction(StrEnum):
    DEFAULT = "default"
    EU = "eu"
    FEDRAMP = "fedramp"


class StorageClass(StrEnum):
    STANDARD = "Standard"
    INFREQUENT_ACCESS = "InfrequentAccess"


class LifecycleRule(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", description="Stable rule id.")
    prefix: str = Field("", description="Object key prefix the rule applies to; '' is the whole bucket.")
    transition_to_infrequent_access_days: int | None = Field(None, ge=1)
    delete_after_days: int | None = Field(None, ge=1)
    abort_multipart_after_days: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> "LifecycleRule":
        if not any((self.transition_to_infrequent_access_days, self.delete_after_days,
                    self.abort_multipart_after_days)):
            raise ValueError("a lifecycle rule needs at least one of transitionToInfrequentAccessDays, "
                             "deleteAfterDays, abortMultipartAfterDays")
        if (self.transition_to_infrequent_access_days and self.delete_after_days
                and self.delete_after_days <= self.transition_to_infrequent_access_days):
            raise ValueError("deleteAfterDays must be later than transitionToInfrequentAccessDays")
        return self


HttpMethod = Literal["GET", "HEAD", "PUT", "POST", "DELETE"]


class CorsRule(ConfigModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    allowed_origins: list[str] = Field(min_length=1, description="Exact origins, e.g. https://claude.ai; '*' only in staging.")
    allowed_methods: list[HttpMethod] = Field(min_length=1)
    allowed_headers: list[str] = Field(default_factory=list)
    expose_headers: list[str] = Field(default_factory=list)
    max_age_seconds: int = Field(3600, ge=0, le=86400)


class AdoptR2(ConfigModel):
    """An existing bucket to import (`<account>/<name>/<jurisdiction>`); it keeps its name."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", description="The live bucket's name, verbatim.")


class R2Bucket(ConfigModel):
    description: str = ""
    adopt: AdoptR2 | None = Field(None, description="Import this existing bucket rather than create one.")
    location: R2Location | None = Field(None, description="Location hint, used only when the bucket is created.")
    jurisdiction: R2Jurisdiction = Field(R2Jurisdiction.DEFAULT, description="Data residency; passed to every sub-resource.")
    storage_class: StorageClass = StorageClass.STANDARD
    lifecycle: list[LifecycleRule] = Field(default_factory=list)
    cors: list[CorsRule] = Field(default_factory=list)
    public_dev_url: bool = Field(False, description="Expose the public r2.dev URL (never in production).")


class ReadReplication(StrEnum):
    AUTO = "auto"
    DISABLED = "disabled"


class AdoptD1(ConfigModel):
    """An existing database to import; it keeps its name."""

    id: Uuid = Field(description="The database uuid.")
    name: str = Field(description="Its current name; a D1 database cannot be renamed.")


class D1Migrations(ConfigModel):
    directory: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$",
        description="Folder of numbered .sql files (wrangler naming, `0001_name.sql`), relative to the project "
                    "root. Files are append-only: an applied file must never change; add a new number instead.")
    allow_destructive: bool = Field(
        False, description="Allow DROP/DELETE/ALTER ... DROP in production migrations. Costs data: set only for the run that needs it.")

    @field_validator("directory")
    @classmethod
    def _inside_project(cls, value: str) -> str:
        if ".." in value.split("/"):
            raise ValueError("use a folder inside the project, without '..', e.g. 'migrations/chittyconnect'")
        return value


class D1Database(ConfigModel):
    description: str = ""
    primary_location_hint: R2Location | None = None
    read_replication: ReadReplication = ReadReplication.DISABLED
    migrations: D1Migrations | None = None
    adopt: AdoptD1 | None = None


class Backups(ConfigModel):
    """Where `chittyos-edge backup` writes each D1 export and KV dump of the stack."""

    bucket: str = Field(description="r2Buckets key of the backup bucket. It is bound to no Worker, and its "
                                    "lifecycle rule with deleteAfterDays is the retention.")
