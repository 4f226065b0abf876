"""D1 migrations on real SQLite (what D1 runs), the D1 HTTP executor, and the deploy-time resource."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from chittyos_edge import d1_migrations as dm
from components.d1_migration_runner import D1MigrationsProvider, edited_migrations, load_and_verify
from tests.conftest import ROOT, copy_project, plan_with, resource, resources

REPO_MIGRATIONS = ROOT / "migrations" / "chittyconnect"
GUIDE_TABLES = {"documents", "document_versions", "document_permissions", "document_tags",
               "document_relationships", "document_access_log", "storage_quotas"}
DYNAMIC = "pulumi-python:dynamic/d1:Migrations"
D1 = "cloudflare:index/d1Database:D1Database"


def _db() -> tuple[sqlite3.Connection, dm.SqliteExecutor]:
    connection = sqlite3.connect(":memory:")
    return connection, dm.SqliteExecutor(connection)


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def _recorded(connection: sqlite3.Connection) -> list[str]:
    return [name for (name,) in connection.execute("SELECT name FROM d1_migrations ORDER BY id")]


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_repo_migrations_are_numbered_and_create_the_guides_schema():
    files = dm.load_directory(REPO_MIGRATIONS)
    assert [m.number for m in files] == list(range(1, len(files) + 1)) and len(files) >= 2
    connection, executor = _db()
    applied = dm.apply_pending(executor, files, environment="production")
    assert applied == [m.name for m in files]
    assert _tables(connection) == GUIDE_TABLES | {"d1_migrations"}
    assert _recorded(connection) == applied
    # wrangler's own table definition, so `wrangler d1 migrations list` agrees with this runner.
    columns = connection.execute("PRAGMA table_info(d1_migrations)").fetchall()
    assert [(c[1], c[2], bool(c[3]), c[5]) for c in columns] == [
        ("id", "INTEGER", False, 1), ("name", "TEXT", False, 0), ("applied_at", "TIMESTAMP", True, 0)]
    assert all(not m.destructive_statements() for m in files), "the shipped migrations must be additive"


def test_reapplying_is_a_no_op():
    files = dm.load_directory(REPO_MIGRATIONS)
    connection, executor = _db()
    dm.apply_pending(executor, files, environment="staging")
    schema = connection.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    assert dm.apply_pending(executor, files, environment="staging") == []
    assert connection.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == schema
    assert _recorded(connection) == [m.name for m in files]


def test_upgrade_from_the_first_migration_only():
    files = dm.load_directory(REPO_MIGRATIONS)
    connection, executor = _db()
    assert dm.apply_pending(executor, files[:1], environment="production") == [files[0].name]
    connection.execute("INSERT INTO storage_quotas (chitty_id, used_bytes) VALUES ('01-C-PROD-0001', 42)")
    assert dm.apply_pending(executor, files, environment="production") == [m.name for m in files[1:]]
    row = connection.execute("SELECT used_bytes, warn_at_percent FROM storage_quotas").fetchone()
    assert row == (42, 80), "the upgrade keeps existing rows and fills the new column's default"
    indexes = {n for (n,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "idx_documents_status_updated" in indexes


def test_a_database_migrated_by_wrangler_continues_where_wrangler_stopped():
    files = dm.load_directory(REPO_MIGRATIONS)
    connection, executor = _db()
    connection.executescript(files[0].sql)
    connection.executescript(dm.CREATE_MIGRATIONS_TABLE)
    connection.execute("INSERT INTO d1_migrations (name) VALUES (?)", (files[0].name,))
    assert dm.apply_pending(executor, files, environment="production") == [m.name for m in files[1:]]


def test_a_failing_file_rolls_back_entirely(tmp_path):
    directory = _write(tmp_path / "m", {
        "0001_ok.sql": "CREATE TABLE a (id INTEGER PRIMARY KEY);",
        "0002_broken.sql": "CREATE TABLE b (id INTEGER);\nINSERT INTO a (id) VALUES (1);\nINSERT INTO missing VALUES (1);",
        "0003_after.sql": "CREATE TABLE c (id INTEGER);",
    })
    connection, executor = _db()
    with pytest.raises(dm.MigrationError, match="0002_broken.sql failed and was rolled back"):
        dm.apply_pending(executor, dm.load_directory(directory), environment="staging")
    assert _tables(connection) == {"a", "d1_migrations"}
    assert connection.execute("SELECT count(*) FROM a").fetchone() == (0,)
    assert _recorded(connection) == ["0001_ok.sql"]


def test_destructive_sql_is_refused_in_production_unless_allowed(tmp_path):
    directory = _write(tmp_path / "m", {
        "0001_create.sql": "CREATE TABLE a (id INTEGER, note TEXT);",
        "0002_cleanup.sql": "ALTER TABLE a DROP COLUMN note;\nDELETE FROM a WHERE id < 0;",
    })
    files = dm.load_directory(directory)
    connection, executor = _db()
    with pytest.raises(dm.DestructiveMigrationRefused) as refused:
        dm.apply_pending(executor, files, environment="production", config_key="d1Databases.x.migrations.allowDestructive")
    message = str(refused.value)
    assert "0002_cleanup.sql (DELETE FROM, ALTER TABLE ... DROP)" in message
    assert "d1Databases.x.migrations.allowDestructive" in message
    assert _tables(connection) == {"d1_migrations"}, "nothing is applied, not even the harmless file before it"

    assert dm.apply_pending(executor, files, environment="production", allow_destructive=True) == [
        "0001_create.sql", "0002_cleanup.sql"]
    _, staging = _db()
    assert dm.apply_pending(staging, files, environment="staging") == ["0001_create.sql", "0002_cleanup.sql"]


@pytest.mark.parametrize("sql, expected", [
    ("DROP TABLE documents;", ["DROP TABLE"]),
    ("drop index if exists idx;", ["DROP INDEX"]),
    ("DROP VIEW v; DROP TRIGGER t;", ["DROP VIEW", "DROP TRIGGER"]),
    ("ALTER TABLE documents DROP COLUMN etag;", ["ALTER TABLE ... DROP"]),
    ("DELETE FROM documents;", ["DELETE FROM"]),
    ("TRUNCATE TABLE documents;", ["TRUNCATE"]),
    ("-- DROP TABLE documents\nCREATE TABLE x (note TEXT DEFAULT 'DELETE FROM y');", []),
    ("/* DROP TABLE a */ ALTER TABLE a ADD COLUMN b TEXT; ALTER TABLE a RENAME TO c;", []),
])
def test_destructive_statement_detection(sql, expected):
    assert dm.destructive_statements(sql) == expected


def test_badly_named_duplicate_or_transactional_files_are_refused(tmp_path):
    directory = _write(tmp_path / "m", {
        "0001_a.sql": "SELECT 1;",
        "0001_b.sql": "SELECT 1;",
        "init.sql": "SELECT 1;",
        "0002_tx.sql": "BEGIN TRANSACTION;\nCREATE TABLE t (id INTEGER);\nCOMMIT;",
    })
    with pytest.raises(dm.MigrationError) as refused:
        dm.load_directory(directory)
    message = str(refused.value)
    assert "init.sql: name migrations" in message
    assert "0001_a.sql, 0001_b.sql: two files share number 0001" in message
    assert "0002_tx.sql: remove BEGIN/COMMIT" in message


def test_a_trigger_body_is_not_mistaken_for_a_transaction(tmp_path):
    directory = _write(tmp_path / "m", {"0001_trigger.sql": (
        "CREATE TABLE a (id INTEGER, updated TEXT);\n"
        "CREATE TRIGGER a_touch AFTER UPDATE ON a FOR EACH ROW BEGIN\n"
        "  UPDATE a SET updated = CURRENT_TIMESTAMP WHERE id = NEW.id;\nEND;")})
    connection, executor = _db()
    assert dm.apply_pending(executor, dm.load_directory(directory), environment="production") == ["0001_trigger.sql"]


def test_d1_http_executor_speaks_the_query_api():
    """The API path end to end, with D1 played by sqlite3 (one request = one atomic batch)."""
    connection = sqlite3.connect(":memory:")
    connection.isolation_level = None
    requests: list[tuple[str, dict, dict]] = []

    def transport(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        payload = json.loads(body)
        requests.append((url, headers, payload))
        try:
            connection.executescript(f"BEGIN;\n{payload['sql']}\n;COMMIT;")
        except sqlite3.Error as error:
            connection.execute("ROLLBACK")
            return 400, json.dumps({"success": False, "errors": [{"code": 7500, "message": str(error)}]}).encode()
        rows = []
        if payload["sql"].lstrip().upper().startswith("SELECT"):
            cursor = connection.execute(payload["sql"])
            rows = [dict(zip([c[0] for c in cursor.description], r)) for r in cursor.fetchall()]
        return 200, json.dumps({"success": True, "errors": [], "result": [{"results": rows, "success": True}]}).encode()

    executor = dm.D1HttpExecutor("a" * 32, "db-uuid", "token-value", transport=transport)
    files = dm.load_directory(REPO_MIGRATIONS)
    assert dm.apply_pending(executor, files, environment="production") == [m.name for m in files]
    url, headers, payload = requests[-1]
    assert url == f"https://api.cloudflare.com/client/v4/accounts/{'a' * 32}/d1/database/db-uuid/query"
    assert headers["Authorization"] == "Bearer token-value"
    assert payload["sql"].rstrip().endswith(f"INSERT INTO d1_migrations (name) VALUES ('{files[-1].name}');")
    assert _tables(connection) == GUIDE_TABLES | {"d1_migrations"}
    assert dm.apply_pending(executor, files, environment="production") == []

    broken = dm.Migration("0009_broken.sql", 9, "CREATE TABLE z (id INTEGER); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(dm.MigrationError, match="0009_broken.sql failed and was rolled back: D1 API refused"):
        dm.apply_pending(executor, [*files, broken], environment="production")
    assert "z" not in _tables(connection)


def test_provider_refuses_edited_files_and_missing_token(monkeypatch, tmp_path):
    files = dm.manifest(dm.load_directory(REPO_MIGRATIONS))
    edited = [dict(files[0], sha256="0" * 64), *files[1:]]
    assert edited_migrations(files, edited) == [files[0]["name"]]
    assert edited_migrations(files[:1], files) == []
    provider = D1MigrationsProvider()
    props = {"accountId": "a" * 32, "databaseId": "db", "directory": "migrations/chittyconnect",
             "migrations": files, "environment": "production", "allowDestructive": False}
    with pytest.raises(dm.MigrationError, match="were edited; applied files are immutable"):
        provider.update("id", props, dict(props, migrations=edited))
    with pytest.raises(dm.MigrationError, match="changed since the preview"):
        load_and_verify(REPO_MIGRATIONS, files[:1])
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(dm.MigrationError, match="export CLOUDFLARE_API_TOKEN"):
        provider.create(props)

    diff = provider.diff("id", props, dict(props, migrations=files + [{"name": "0003_x.sql", "sha256": "1" * 64}]))
    assert (diff.changes, diff.replaces) == (True, [])
    assert provider.diff("id", props, dict(props)).changes is False
    assert provider.diff("id", props, dict(props, databaseId="other")).replaces == ["databaseId"]


def test_provider_reads_the_files_of_the_project_it_runs_in(monkeypatch, tmp_path):
    """Under `pulumi up` the dynamic provider runs in the project's folder: the files it checks and
    applies are that checkout's, not those of the checkout it was installed from."""
    copy = copy_project(tmp_path / "checkout")
    (copy.path("migrations/chittyconnect") / "0099_only_in_the_copy.sql").write_text("CREATE TABLE t (id INTEGER);\n")
    files = dm.manifest(dm.load_directory(REPO_MIGRATIONS))
    props = {"accountId": "a" * 32, "databaseId": "db", "directory": "migrations/chittyconnect",
             "migrations": files, "environment": "production", "allowDestructive": False}
    monkeypatch.chdir(copy.path("workers"))   # any folder inside the project
    with pytest.raises(dm.MigrationError, match="changed since the preview") as error:
        D1MigrationsProvider().create(props)
    assert str(copy.path("migrations/chittyconnect")) in str(error.value)

@pytest.mark.parametrize("stack", ["staging", "production"])
def test_plan_registers_the_runner_with_deterministic_inputs(plans, stack):
    plan = plans[stack]
    runner = resource(plan, DYNAMIC, f"{stack}-storage-d1-chittyconnect-migrations")
    database = resource(plan, D1, f"{stack}-storage-d1-chittyconnect")
    inputs = runner["inputs"]
    assert inputs["migrations"] == dm.manifest(dm.load_directory(REPO_MIGRATIONS))
    assert inputs["directory"] == "migrations/chittyconnect"
    assert inputs["environment"] == stack and inputs["allowDestructive"] is False
    assert inputs["configKey"] == "d1Databases.chittyconnect.migrations.allowDestructive"
    assert runner["secretInputs"] == [], "no token or secret may reach the plan"
    assert database["urn"] in runner["dependencies"]
    assert not any("token" in key.lower() for key in inputs)
    assert len(resources(plan, DYNAMIC)) == 1


def test_runner_inputs_are_byte_stable_between_runs(production):
    again = plan_with("production", lambda config: None)
    name = "production-storage-d1-chittyconnect-migrations"
    assert resource(again, DYNAMIC, name)["inputs"] == resource(production, DYNAMIC, name)["inputs"]


def test_allow_destructive_flag_reaches_the_runner():
    def allow(config):
        config["chittyos-edge:d1Databases"]["chittyconnect"]["migrations"]["allowDestructive"] = True

    plan = plan_with("production", allow)
    assert resource(plan, DYNAMIC, "production-storage-d1-chittyconnect-migrations")["inputs"]["allowDestructive"] is True


# ---- the adopted staging database: migrations on top of what it already holds ---------------

# The ChittyConnect status report: staging's `chittyconnect` database holds `contexts` and `installations`
# (with indexes), created by the ChittyConnect repository's own wrangler migrations.
EXISTING_SCHEMA = """
CREATE TABLE contexts (id TEXT PRIMARY KEY, chitty_id TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}',
                       created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_contexts_chitty_id ON contexts (chitty_id);
CREATE TABLE installations (installation_id INTEGER PRIMARY KEY, account_login TEXT NOT NULL,
                            created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_installations_account ON installations (account_login);
INSERT INTO contexts (id, chitty_id, data) VALUES ('ctx-1', '01-C-PROD-0001-P-2501-A-X', '{"theme":"dark"}');
INSERT INTO installations (installation_id, account_login) VALUES (42, 'chittyos');
"""


@pytest.mark.parametrize("app_migrations", [False, True], ids=["no-d1_migrations-table", "app-rows-in-d1_migrations"])
def test_staging_migrations_apply_cleanly_on_the_adopted_database(app_migrations, staging):
    """Real SQLite, the adopted database's tables and rows first, then this repo's files: all apply, nothing
    of the existing data changes, and a second run finds nothing pending."""
    database = resource(staging, D1, "staging-storage-d1-chittyconnect")
    assert database["importId"].endswith("/29473911-4c5b-47d8-a3e7-d1be2370edf6")
    connection = sqlite3.connect(":memory:")
    connection.executescript(EXISTING_SCHEMA)
    if app_migrations:  # the application repo's own `wrangler d1 migrations apply` history
        connection.executescript(dm.CREATE_MIGRATIONS_TABLE
                                 + "INSERT INTO d1_migrations (name) VALUES ('0001_contexts.sql'), ('0002_installations.sql');")
    executor = dm.SqliteExecutor(connection)
    files = dm.load_directory(REPO_MIGRATIONS)
    applied = dm.apply_pending(executor, files, environment="staging")
    assert applied == [f.name for f in files]
    assert {"contexts", "installations", "documents", "storage_quotas"} <= _tables(connection)
    assert connection.execute("SELECT data FROM contexts WHERE id = 'ctx-1'").fetchone() == ('{"theme":"dark"}',)
    assert connection.execute("SELECT account_login FROM installations").fetchall() == [("chittyos",)]
    recorded = [row[0] for row in connection.execute("SELECT name FROM d1_migrations ORDER BY id")]
    assert recorded[-len(files):] == [f.name for f in files]
    assert dm.apply_pending(executor, files, environment="staging") == []
