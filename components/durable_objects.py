"""Durable Object classes hosted by one Worker, and the migrations uploaded with that Worker.

A `durableObjects` entry (e.g. `session-state`: `SessionStateDO`, one object per ChittyID) does
not create a resource of its own: a Durable Object namespace exists because the host Worker's
code exports the class and its upload carries the migration that creates it. So this
component contributes to the host's `WorkerVersion` (see `WorkerService`):

- `bindings`: one `durable_object_namespace` binding per class, the KV fallback namespace
  (`kvFallback`, bound as `kvFallbackBinding`) and the snapshot bucket (`snapshots.bucket`, bound
  as `snapshots.binding`; the bucket and its lifecycle rule are declared in `r2Buckets`);
- `schedules`: the cleanup cron (`cleanupSchedule`), merged into the host's one
  `WorkersCronTrigger` (that resource owns every schedule of a script);
- `migrations_input(...)`: the `migrations` input of the version (applied when it is deployed).

A host whose code is `live` (adopted, never uploaded by this program) gets no migrations from
here: they ship with the application's own deploy (wrangler reads the live tag the same way);
its bindings are still part of the host's binding list, which the stack outputs publish.

Migrations against the live tag. The Workers API applies a script upload's migrations only if
their `old_tag` equals the script's current migration tag, and rejects the upload otherwise.
Declaring fixed `old_tag`/`new_tag` in code therefore breaks the second deploy: the provider
re-sends the same tags and the API answers "migration tag precondition failed"
(pulumi/pulumi-cloudflare#1215). Wrangler avoids it by reading the script's live `migration_tag`
and sending only the steps after it; this component does the same. `migrations` in config is the
whole ordered history (append-only); at each preview/update the program reads the live tag with
the `getWorkersScripts` data source (its results carry each script's `migrationTag`) and uploads:

- no script yet / no tag (fresh account): every step, `new_tag` = the last tag, no `old_tag`;
- live tag = step k: the steps after k with `old_tag` = k, `new_tag` = the last tag;
- live tag = the last step: no `migrations` input at all (nothing to apply);
- live tag not in the history: the deploy stops, naming the tag (never guess, never replay).

The offline plan answers that data source from `chittyos_edge.plan.mocks` (fresh account: no
scripts). Consequence to expect: the first `pulumi up` after a new step shows a diff that adds the
step; the next one shows its removal from the inputs (the step is now live), then nothing.

Migrations ride only on a 100 % deployment. A migration applies to the whole namespace when a version
carrying it is deployed, and every object of the namespace runs one of the deployment's versions:
split between a stable and a canary version, some objects would run the old code on a migrated
namespace (a deleted or renamed class under code that still uses it). Cloudflare keeps versions
carrying new migrations out of gradual deployments for that reason (migrations are atomic: Workers
documentation, "Gradual deployments", section "Gradual deployments for Durable Objects > Migrations").
So while the host has a canary
(`services.<key>.canary`) the upload computed here must be empty: a pending step stops the deploy,
naming the canary to promote or roll back first.

Deleting a class deletes every object of it and its stored data. Config validation refuses a
`deletedClasses` step in production unless the class is in `acknowledgeDeletedClasses`, and the
upload computed here re-checks the steps actually sent. Renames keep the data (`renamedClasses`).
A host Worker holds this data, so its script is protected/retained like the other stores.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge.config.base import Environment
from chittyos_edge.config.services import DurableObjectHost as HostConfig
from chittyos_edge.config.services import MigrationStep

from .base import Component


class MigrationHistoryError(pulumi.RunError):
    """The live script and the declared migration history disagree: stop before uploading."""


def step_input(step: MigrationStep) -> dict[str, Any]:
    """One history step as a provider migration step (only the keys it uses)."""
    out: dict[str, Any] = {}
    if step.new_sqlite_classes:
        out["new_sqlite_classes"] = list(step.new_sqlite_classes)
    if step.new_classes:
        out["new_classes"] = list(step.new_classes)
    if step.renamed_classes:
        out["renamed_classes"] = [{"from_": old, "to": new} for old, new in step.renamed_classes.items()]
    if step.deleted_classes:
        out["deleted_classes"] = list(step.deleted_classes)
    return out


def migrations_to_upload(steps: Sequence[MigrationStep], live_tag: Optional[str], *, where: str,
                         environment: Environment | str, acknowledged: Sequence[str] = (),
                         split_by: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The `migrations` input for a script whose live migration tag is `live_tag` (None: none yet).

    `split_by` names the config key of a canary that splits the script's traffic: then any step to
    upload stops the deploy (migrations ride only on a 100 % deployment)."""
    tags = [step.tag for step in steps]
    if not live_tag:
        todo, old_tag = list(steps), None
    elif live_tag in tags:
        todo, old_tag = list(steps[tags.index(live_tag) + 1:]), live_tag
    else:
        raise MigrationHistoryError(
            f"{where}.migrations: the live script is at migration tag {live_tag!r}, which the history "
            f"{tags} does not contain; restore the missing steps (the history is append-only) before deploying")
    if not todo:
        return None
    if split_by:
        pending = [step.tag for step in todo]
        state = f"the live script is at migration tag {live_tag!r}" if live_tag else "the script has no migration yet"
        raise MigrationHistoryError(
            f"{where}.migrations: {state}, so this deploy would apply {pending}, but {split_by} splits the "
            "traffic between two versions: a migration applies to every object at once, so it ships only with a "
            "100 % deployment; "
            "remove the canary (`chittyos-edge rollback`) or promote it (`chittyos-edge rollout --percent 100`), "
            "`pulumi up` the migration, then start the canary again")
    if Environment(environment) is Environment.PRODUCTION:
        deleted = sorted({cls for step in todo for cls in step.deleted_classes} - set(acknowledged))
        if deleted:
            raise MigrationHistoryError(
                f"{where}: the upload would delete {deleted} and all their stored data in production; list them "
                f"in {where}.acknowledgeDeletedClasses to accept that")
    payload: dict[str, Any] = {"new_tag": todo[-1].tag, "steps": [step_input(step) for step in todo]}
    if old_tag:
        payload["old_tag"] = old_tag
    return payload


def live_migration_tag(results: Sequence[Any], script_name: str) -> Optional[str]:
    """The `migrationTag` of `script_name` among getWorkersScripts results (None when absent)."""
    for item in results or []:
        get = item.get if isinstance(item, Mapping) else (lambda key, _item=item: getattr(_item, key, None))
        if get("id") == script_name:
            return get("migration_tag") or get("migrationTag") or None
    return None


class DurableObjectHost(Component):
    """Contributes bindings, schedules and migrations to the Worker named by `hostService`."""

    def __init__(self, name: str, *, environment: Environment, host: HostConfig,
                 kv_namespaces: Mapping[str, cloudflare.WorkersKvNamespace],
                 buckets: Mapping[str, cloudflare.R2Bucket],
                 config_key: Optional[str] = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("durable_objects", name, opts)
        self.environment = Environment(environment)
        self.host_service = host.host_service
        self.classes: dict[str, str] = dict(host.classes)
        self.where = f"durableObjects.{config_key}" if config_key else "durableObjects"
        self._config = host

        bindings: list[dict[str, Any]] = [
            {"type": "durable_object_namespace", "name": binding, "class_name": class_name}
            for binding, class_name in host.classes.items()]
        if host.kv_fallback:
            bindings.append({"type": "kv_namespace", "name": host.kv_fallback_binding,
                             "namespace_id": kv_namespaces[host.kv_fallback].id})
        if host.snapshots:
            bindings.append({"type": "r2_bucket", "name": host.snapshots.binding,
                             "bucket_name": buckets[host.snapshots.bucket].name})
        self.bindings = bindings
        self.schedules: list[str] = [host.cleanup_schedule] if host.cleanup_schedule else []

        self.register_outputs({"hostService": self.host_service, "classes": self.classes})

    def migrations_input(self, account_id: pulumi.Input[str], script_name: str,
                         split_by: Optional[str] = None) -> pulumi.Output:
        """The host script's `migrations` input, computed against its live migration tag; with `split_by`
        (the key of a canary) it must be empty (see the module docstring)."""
        live = cloudflare.get_workers_scripts_output(
            account_id=account_id, opts=pulumi.InvokeOutputOptions(parent=self))
        return live.results.apply(lambda results: migrations_to_upload(
            self._config.migrations, live_migration_tag(results, script_name), where=self.where,
            environment=self.environment, acknowledged=self._config.acknowledge_deleted_classes, split_by=split_by))
