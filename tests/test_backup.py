"""`chittyos-edge backup` and `restore`, end to end on the local runtime (workerd's D1, KV and R2 through
wrangler --local): a D1 table and KV keys go into the backup bucket, the stores are lost, and the
restore brings back the same data. The rest checks the backup bucket's config and the refusals.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from chittyos_edge import cli
from chittyos_edge.ops import backup, wrangler
from chittyos_edge.ops.dev import prepare
from tests.conftest import PROJECT, config_problems, resource, stack_file_config, stack_view

BUCKET = "cloudflare:index/r2Bucket:R2Bucket"
LIFECYCLE = "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle"
KV = [
    {"key": "token:alice", "value": '{"scope": "read", "note": "it\'s ünïcode"}', "metadata": {"owner": "alice"}},
    {"key": "token:bob", "value": "plain text", "expiration": int(time.time()) + 86400},
]
ROW = ("doc-1", "01-C-PROD-0001-P-2501-A-X", "evidence", "O'Brien – report.pdf", "application/pdf", 1234,
       "chittyid/x/evidence/doc-1")


@pytest.fixture
def plan_outputs(monkeypatch, staging):
    """The commands read the session's staging plan instead of planning again."""
    from chittyos_edge.outputs import sources

    monkeypatch.setattr(sources, "from_plan", lambda stack, project=None: stack_view(staging).outputs)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    return stack_view(staging)


def test_backup_and_restore_round_trip_a_d1_table_and_kv_keys_through_the_backup_bucket(
        tmp_path, plan_outputs, capsys):
    view, state = plan_outputs, tmp_path / "local"
    # What `dev` does first: the service's config, and this repo's migrations applied to the local D1
    # (staging's ChittyConnect runs live code: the reference bundle stands in for it).
    _, workdir = prepare(view, "chittyconnect", state, bundle="workers/chittyconnect/worker.mjs")
    config, persist = workdir / "wrangler.json", wrangler.local_persistence(state)
    database = view.outputs.services["chittyconnect"].d1_databases["DB"].name  # the adopted `chittyconnect`
    local = ["--local", "--persist-to", str(persist)]
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(KV))
    insert = ("INSERT INTO documents (document_id, chitty_id, type, file_name, mime_type, size_bytes, r2_key) "
              f"VALUES ({', '.join(_sql(v) for v in ROW)})")
    _parallel(lambda: wrangler.run(view.project, ["d1", "execute", database, "--command", insert,
                                                  *local], config=config, what="seeding D1"),
              lambda: wrangler.run(view.project, ["kv", "bulk", "put", str(seed), "--binding", "TOKEN_KV", *local],
                                   config=config, what="seeding KV"))

    stores = ["--store", "d1:chittyconnect", "--store", "kv:chittyconnect-tokens"]
    assert cli.main(["backup", "--stack", "staging", "--local", "--state-dir", str(state), *stores]) == 0
    out = capsys.readouterr().out
    assert "d1:chittyconnect  " in out and "kv:chittyconnect-tokens  2 keys" in out, out
    archive_key = out.strip().splitlines()[-1].split("r2://chittyos-backups-staging/")[1].split()[0]

    # The disaster: the database and the namespaces are gone; the backup bucket (R2) is not.
    for lost in ("d1", "kv"):
        assert (persist / "v3" / lost).is_dir()
        shutil.rmtree(persist / "v3" / lost)
    assert (persist / "v3" / "r2").is_dir()

    assert cli.main(["restore", "--stack", "staging", "--local", "--state-dir", str(state), *stores]) == 0
    assert f"from r2://chittyos-backups-staging/{archive_key}: 2 stores" in capsys.readouterr().out

    rows, listed, values = _parallel(
        lambda: wrangler.run(view.project, ["d1", "execute", database, "--json", *local, "--command",
                                            "SELECT document_id, chitty_id, type, file_name, mime_type, size_bytes, "
                                            "r2_key FROM documents; SELECT name FROM d1_migrations ORDER BY id"],
                             config=config, what="reading D1"),
        lambda: wrangler.run(view.project, ["kv", "key", "list", "--binding", "TOKEN_KV", *local],
                             config=config, what="listing KV"),
        lambda: wrangler.run(view.project, ["kv", "bulk", "get", str(_keys(tmp_path)), "--binding", "TOKEN_KV",
                                            *local], config=config, what="reading KV"))
    documents, migrations = wrangler.json_output(rows, "D1")
    assert [tuple(r.values()) for r in documents["results"]] == [ROW]
    assert [r["name"] for r in migrations["results"]] == sorted(
        p.name for p in (view.project / "migrations" / "chittyconnect").glob("*.sql")), \
        "wrangler's d1_migrations table comes back too, so `wrangler d1 migrations apply` agrees after a restore"
    listed = {k["name"]: k for k in wrangler.json_output(listed, "KV")}
    values = wrangler.json_output(values, "KV")
    for entry in KV:
        assert values[entry["key"]]["value"] == entry["value"]
        assert listed[entry["key"]].get("metadata") == entry.get("metadata")
        assert listed[entry["key"]].get("expiration") == entry.get("expiration")



def _sql(value) -> str:
    return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def _keys(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([e["key"] for e in KV]))
    return path


def _parallel(*calls):
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_backup_covers_every_d1_database_and_kv_namespace_of_the_stack(plans, stack):
    config = stack_file_config(stack)
    stores = backup.stores_of(stack_view(plans[stack]))
    assert [s.label for s in stores] == ([f"d1:{k}" for k in config["chittyos-edge:d1Databases"]]
                                         + [f"kv:{k}" for k in config["chittyos-edge:kvNamespaces"]])
    # the ids the Workers are bound to (the outputs carry each Worker's final binding list)
    bound = {namespace_id for service in stack_view(plans[stack]).outputs.services.values()
             for namespace_id in service.kv_namespaces.values()}
    assert {s.name for s in stores if s.kind == "kv"} == bound, "the ids the Workers are bound to"
    assert backup.bucket_of(stack_view(plans[stack])) == f"chittyos-backups-{stack}"


def test_the_backup_bucket_has_a_retention_rule_and_production_protects_it(plans):
    for stack, days in (("staging", 14), ("production", 90)):
        bucket = resource(plans[stack], BUCKET, f"{stack}-storage-bucket-chittyos-backups")
        lifecycle = resource(plans[stack], LIFECYCLE, f"{stack}-storage-bucket-chittyos-backups-lifecycle")
        deletes = [r["deleteObjectsTransition"]["condition"]["maxAge"] for r in lifecycle["inputs"]["rules"]
                   if r.get("deleteObjectsTransition")]
        assert deletes == [days * 86400]
        assert bucket["protect"] is bucket["retainOnDelete"] is (stack == "production")


@pytest.mark.parametrize("mutate,message", [
    (lambda c: c["chittyos-edge:backups"].update(bucket="nope"), "backups.bucket refers to r2Buckets 'nope'"),
    (lambda c: c["chittyos-edge:r2Buckets"]["chittyos-backups"].update(lifecycle=[{"id": "ia",
                                                                                  "transitionToInfrequentAccessDays": 30}]),
     "r2Buckets.chittyos-backups holds the backups: give it a lifecycle rule with deleteAfterDays"),
    (lambda c: c["chittyos-edge:services"]["chittyconnect"]["bindings"]["r2"].update(BACKUPS="chittyos-backups"),
     "must be bound to no Worker; remove services.chittyconnect.bindings.r2.BACKUPS"),
])
def test_the_backup_bucket_config_is_checked(mutate, message):
    problems = config_problems("production", mutate)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize("args,message", [
    (["-C", "{bare}", "backup", "--stack", "production", "--remote", "--dry-run"],
     "--remote needs the deployed stack's ids"),
    (["backup", "--stack", "staging", "--local", "--backend", "s3://x?endpoint=http://127.0.0.1:1"],
     "--backend and --stdin read the deployed stack's ids, for --remote"),
    (["restore", "--stack", "production", "--remote", "--backend", "s3://x"], "add --yes to confirm"),
    (["backup", "--stack", "staging", "--local", "--dry-run", "--store", "kv:nope"],
     "--store kv:nope: not a store of the stack"),
])
def test_bad_backup_input_is_a_usage_error(plan_outputs, capsys, tmp_path, args, message):
    # {bare}: this project without backend.url in its Pulumi.yaml (stack files only)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "Pulumi.yaml").write_text("name: chittyos-edge\nruntime: python\n")
    for stack in ("staging", "production"):
        shutil.copy(PROJECT.stack_file(stack), bare)
    assert cli.main([a.replace("{bare}", str(bare)) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_dry_run_names_the_stores_and_the_bucket(plan_outputs, capsys):
    assert cli.main(["backup", "--stack", "staging", "--local", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "d1:chittyconnect  chittyconnect\n" in out and "kv:chittyops-sync  " in out  # the adopted D1 keeps its name
    assert "-> r2://chittyos-backups-staging/backups/" in out and out.rstrip().endswith("ids from the offline plan)")


def _archive(tmp_path, manifest: dict, files: dict[str, bytes]):
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in {**files, "manifest.json": json.dumps(manifest).encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_restore_refuses_another_stacks_or_a_damaged_archive(tmp_path):
    data = b'[{"key": "k", "value": "v"}]'
    entry = {"kind": "kv", "key": "x", "name": "id", "file": "kv/x.json", "sha256": hashlib.sha256(data).hexdigest()}
    good = {"formatVersion": 1, "stack": "staging", "stores": [entry]}
    manifest, members = backup._read_archive(_archive(tmp_path, good, {"kv/x.json": data}), "k", "staging")
    assert members["kv/x.json"] == data
    with pytest.raises(cli.UsageError, match="a backup of the 'staging' stack"):
        backup._read_archive(_archive(tmp_path, good, {"kv/x.json": data}), "k", "production")
    with pytest.raises(cli.UsageError, match="does not match its checksum"):
        backup._read_archive(_archive(tmp_path, good, {"kv/x.json": b"[]"}), "k", "staging")
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tarball")
    with pytest.raises(cli.UsageError, match="is not a chittyos-edge backup archive"):
        backup._read_archive(tmp_path / "junk.tar.gz", "k", "staging")


def test_expired_kv_entries_are_skipped_on_restore():
    now = int(time.time())
    live, skipped = backup._live_entries([{"key": "a", "value": "1"}, {"key": "b", "value": "2", "expiration": now},
                                          {"key": "c", "value": "3", "expiration": now + 3600}])
    assert [e["key"] for e in live] == ["a", "c"] and skipped == 1


class _Tables:
    """Stands in for wrangler where only the table check of a D1 restore is under test."""

    def __init__(self, tables):
        self.tables, self.calls = tables, []

    def run(self, *args, what):
        self.calls.append(args)
        return json.dumps([{"results": [{"name": t} for t in self.tables], "success": True}])


def test_a_d1_restore_refuses_a_database_with_tables_unless_replace():
    store = backup.Store("d1", "chittyconnect", "chittyconnect-staging")
    assert backup._d1_tables(_Tables(["documents", "t"]), store) == ["documents", "t"]
    dump = b"PRAGMA defer_foreign_keys=TRUE;\nCREATE TABLE t(a);\n"
    assert backup._restore_sql(store, [], dump, replace=False) == dump
    with pytest.raises(cli.UsageError, match=r"chittyconnect-staging already has tables \(documents, t\); .*--replace"):
        backup._restore_sql(store, ["documents", "t"], dump, replace=False)
    replaced = backup._restore_sql(store, ["documents", "t"], dump, replace=True).decode()
    assert replaced.index('DROP TABLE IF EXISTS "documents";') < replaced.index("CREATE TABLE t(a);")


def test_wrangler_json_is_found_after_a_banner_and_before_a_trailer():
    out = 'Resource location: local\n[WARNING] something\n[\n  {"name": "k"}\n]\n\nSuccess!\n'
    assert wrangler.json_output(out, "listing") == [{"name": "k"}]
    with pytest.raises(cli.UsageError, match="listing: wrangler printed no JSON"):
        wrangler.json_output("✘ [ERROR] no such namespace\n", "listing")


def test_remote_backups_read_the_ids_from_the_projects_backend_by_default(plan_outputs, monkeypatch, capsys):
    from chittyos_edge.outputs import sources

    seen = []
    monkeypatch.setattr(sources, "from_backend", lambda url, stack: seen.append(url) or plan_outputs.outputs)
    assert cli.main(["backup", "--stack", "staging", "--remote", "--dry-run"]) == 0
    assert seen == [yaml.safe_load((PROJECT.root / "Pulumi.yaml").read_text())["backend"]["url"]]
    assert "(remote, ids from the state backend)" in capsys.readouterr().out
