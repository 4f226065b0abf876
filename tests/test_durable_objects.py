"""Durable Object hosts: bindings, cleanup cron, and migrations computed against the live tag."""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError
from chittyos_edge.config.services import MigrationStep
from chittyos_edge.plan import mocks
from components.durable_objects import MigrationHistoryError, live_migration_tag, migrations_to_upload
from tests.conftest import plan_with, resource, resources, uploaded_code

VERSION = "cloudflare:index/workerVersion:WorkerVersion"
WORKER = "cloudflare:index/worker:Worker"
SECRETS = "pulumi-python:dynamic/workers:Secrets"
CRON = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"

HISTORY = [
    MigrationStep(tag="v1", new_sqlite_classes=["SessionStateDO"]),
    MigrationStep(tag="v2", new_sqlite_classes=["LegacyDO"]),
    MigrationStep(tag="v3", renamed_classes={"LegacyDO": "ArchiveDO"}),
    MigrationStep(tag="v4", deleted_classes=["ArchiveDO"]),
]


def _upload(live, environment="staging", acknowledged=()):
    return migrations_to_upload(HISTORY, live, where="durableObjects.x", environment=environment,
                                acknowledged=acknowledged)


def test_fresh_script_gets_every_step_without_old_tag():
    payload = _upload(None)
    assert payload["new_tag"] == "v4" and "old_tag" not in payload
    assert payload["steps"] == [
        {"new_sqlite_classes": ["SessionStateDO"]}, {"new_sqlite_classes": ["LegacyDO"]},
        {"renamed_classes": [{"from_": "LegacyDO", "to": "ArchiveDO"}]}, {"deleted_classes": ["ArchiveDO"]}]


def test_script_at_a_tag_gets_only_the_later_steps():
    payload = _upload("v2")
    assert (payload["old_tag"], payload["new_tag"]) == ("v2", "v4")
    assert payload["steps"] == [{"renamed_classes": [{"from_": "LegacyDO", "to": "ArchiveDO"}]},
                                {"deleted_classes": ["ArchiveDO"]}]
    assert _upload("v4") is None, "a script at the last tag needs no migrations at all"


def test_unknown_live_tag_stops_the_deploy():
    with pytest.raises(MigrationHistoryError, match="live script is at migration tag 'v9'"):
        _upload("v9")


def test_uploaded_deletions_need_acknowledgement_in_production():
    with pytest.raises(MigrationHistoryError, match=r"would delete \['ArchiveDO'\].*acknowledgeDeletedClasses"):
        _upload("v3", environment="production")
    assert _upload("v3", environment="production", acknowledged=["ArchiveDO"])["steps"] == [
        {"deleted_classes": ["ArchiveDO"]}]
    assert _upload("v3", environment="staging")["new_tag"] == "v4"


def test_live_tag_lookup_reads_the_scripts_data_source():
    results = [{"id": "other", "migrationTag": "v7"}, {"id": "chittyconnect-production", "migrationTag": "v1"}]
    assert live_migration_tag(results, "chittyconnect-production") == "v1"
    assert live_migration_tag(results, "missing") is None
    assert live_migration_tag([{"id": "x", "migrationTag": ""}], "x") is None


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_session_state_contributes_to_the_chittyconnect_worker(built, stack):
    plan = built[stack]
    version = resource(plan, VERSION, f"{stack}-chittyconnect-version-stable")
    inputs = version["inputs"]
    # fresh account (the offline plan's default): the whole history, no old tag
    assert inputs["migrations"] == {"newTag": "v1", "steps": [{"newSqliteClasses": ["SessionStateDO"]}]}
    by_name = {b["name"]: b for b in inputs["bindings"]}
    assert by_name["SESSION_STATE"] == {"type": "durable_object_namespace", "name": "SESSION_STATE",
                                        "className": "SessionStateDO"}
    fallback = resource(plan, KV, f"{stack}-data-kv-chittyconnect-session-fallback")
    assert by_name["SESSION_FALLBACK_KV"]["type"] == "kv_namespace"
    assert fallback["urn"] in version["propertyDependencies"]["bindings"]
    assert by_name["SESSION_SNAPSHOTS"] == {"type": "r2_bucket", "name": "SESSION_SNAPSHOTS",
                                            "bucketName": f"chittyconnect-session-snapshots-{stack}"}
    cron = resource(plan, CRON, f"{stack}-chittyconnect-crons")
    assert {"cron": "0 * * * *"} in cron["inputs"]["schedules"]
    live_name = {"staging": "chittyconnect-staging", "production": "chittyconnect"}[stack]
    assert cron["inputs"]["scriptName"] == version["inputs"]["workerId"] == live_name
    # the host holds the objects' data: protected as the stack says, retained (it is also adopted)
    worker = resource(plan, WORKER, f"{stack}-chittyconnect-worker")
    assert (worker["protect"], worker["retainOnDelete"]) == (stack == "production", True)


def test_a_live_code_host_uploads_no_migrations(plans):
    """Live code is never uploaded here: the classes and migrations ship with the application's deploy."""
    for stack, plan in plans.items():
        assert not [r for r in resources(plan, VERSION) if r["name"].startswith(f"{stack}-chittyconnect")]
        assert "migrations" not in resource(plan, WORKER, f"{stack}-chittyconnect-worker")["inputs"]
        # nor its cleanup schedule: the live code may have no `scheduled` handler, and the cron trigger would
        # replace whatever schedules the running Worker has
        assert not [r for r in resources(plan, CRON) if r["name"].startswith(f"{stack}-chittyconnect")]


def test_project_awareness_objects_on_their_host(production):
    version = resource(production, VERSION, "production-project-awareness-version-stable")
    assert version["inputs"]["migrations"] == {
        "newTag": "v1", "steps": [{"newSqliteClasses": ["ProjectAwarenessDurableObject", "SessionSyncDurableObject"]}]}
    classes = {b["name"]: b["className"] for b in version["inputs"]["bindings"]
               if b["type"] == "durable_object_namespace"}
    assert classes == {"PROJECT_AWARENESS_DO": "ProjectAwarenessDurableObject",
                       "SESSION_SYNC_DO": "SessionSyncDurableObject"}
    worker = resource(production, WORKER, "production-project-awareness-worker")
    assert (worker["protect"], worker["retainOnDelete"]) == (True, True)


def _add_steps(*steps, stack="staging"):
    def mutate(config):
        uploaded_code(stack, "chittyconnect")(config)
        config["chittyos-edge:durableObjects"]["session-state"]["migrations"].extend(steps)
    return mutate


def test_redeploy_over_a_live_script_sends_only_the_new_steps(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyconnect-staging", "v1")
    plan = plan_with("staging", _add_steps({"tag": "v2", "newSqliteClasses": ["AuditDO"]}))
    assert resource(plan, VERSION, "staging-chittyconnect-version-stable")["inputs"]["migrations"] == {
        "oldTag": "v1", "newTag": "v2", "steps": [{"newSqliteClasses": ["AuditDO"]}]}
    # the other host is untouched by the live tag of this one
    assert resource(plan, VERSION, "staging-project-awareness-version-stable")["inputs"]["migrations"]["newTag"] == "v1"


def test_redeploy_at_the_last_tag_uploads_no_migrations(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyconnect-staging", "v1")
    plan = plan_with("staging", uploaded_code("staging", "chittyconnect"))
    assert "migrations" not in resource(plan, VERSION, "staging-chittyconnect-version-stable")["inputs"]


def test_live_tag_missing_from_the_history_is_refused(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyconnect-staging", "v7")
    with pytest.raises(ConfigError, match="durableObjects.session-state.migrations: the live script is at migration tag 'v7'"):
        plan_with("staging", uploaded_code("staging", "chittyconnect"))


DELETE_STEPS = ({"tag": "v2", "newSqliteClasses": ["LegacyDO"]}, {"tag": "v3", "deletedClasses": ["LegacyDO"]})


def test_deleting_a_class_in_production_is_refused_without_acknowledgement():
    with pytest.raises(ConfigError, match=r"durableObjects.session-state.migrations\[2\].deletedClasses: deletes \['LegacyDO'\]"
                       r".*acknowledgeDeletedClasses"):
        plan_with("production", _add_steps(*DELETE_STEPS, stack="production"))


def test_acknowledged_deletion_is_uploaded_in_production(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyconnect", "v2")

    def acknowledged(config):
        _add_steps(*DELETE_STEPS, stack="production")(config)
        config["chittyos-edge:durableObjects"]["session-state"]["acknowledgeDeletedClasses"] = ["LegacyDO"]

    plan = plan_with("production", acknowledged)
    assert resource(plan, VERSION, "production-chittyconnect-version-stable")["inputs"]["migrations"] == {
        "oldTag": "v2", "newTag": "v3", "steps": [{"deletedClasses": ["LegacyDO"]}]}


def test_staging_may_delete_classes_freely():
    plan = plan_with("staging", _add_steps(*DELETE_STEPS))
    steps = resource(plan, VERSION, "staging-chittyconnect-version-stable")["inputs"]["migrations"]["steps"]
    assert steps[-1] == {"deletedClasses": ["LegacyDO"]}


def test_renames_are_uploaded_with_the_wire_name_from(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyconnect-staging", "v1")

    def rename(config):
        uploaded_code("staging", "chittyconnect")(config)
        host = config["chittyos-edge:durableObjects"]["session-state"]
        host["migrations"].append({"tag": "v2", "renamedClasses": {"SessionStateDO": "SessionStateV2"}})
        host["classes"] = {"SESSION_STATE": "SessionStateV2"}

    plan = plan_with("staging", rename)
    assert resource(plan, VERSION, "staging-chittyconnect-version-stable")["inputs"]["migrations"]["steps"] == [
        {"renamedClasses": [{"from": "SessionStateDO", "to": "SessionStateV2"}]}]
