"""D1 schema migrations, applied the way `wrangler d1 migrations apply` does, from Python.

The repo holds numbered SQL files (`migrations/<db>/0001_name.sql`, wrangler's naming). A database
records what it has applied in wrangler's own table,

    d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE,
                  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)

so this runner and `wrangler d1 migrations apply/list` can be used on the same database and agree
on what is pending: every file whose name is not in that table, in file-number order.

Each file is applied atomically together with its `d1_migrations` row (one batch, one
transaction): a failing statement leaves neither a half-built schema nor a record. Destructive
SQL (DROP TABLE/INDEX/VIEW/TRIGGER, DELETE, ALTER TABLE ... DROP, TRUNCATE) is refused in
production unless the stack sets `d1Databases.<db>.migrations.allowDestructive`; the check runs
on every pending file before the first one is applied.

Two executors implement the same small interface: `SqliteExecutor` (a local sqlite3 database:
the tests, and what D1 runs underneath) and `D1HttpExecutor` (the Cloudflare API, used at deploy
time by `components.d1_migration_runner`).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

MIGRATIONS_TABLE = "d1_migrations"

CREATE_MIGRATIONS_TABLE = f"""CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
);"""

_FILE_RE = re.compile(r"^(?P<number>\d{4,})_(?P<label>[a-z0-9][a-z0-9_-]*)\.sql$")

# Comments and string literals are blanked before any pattern below is matched, so a word in a
# comment or in a value never counts.
_STRIP_RE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.DOTALL)

_DESTRUCTIVE = [
    (re.compile(r"\bDROP\s+(TABLE|INDEX|VIEW|TRIGGER)\b", re.I), "DROP {0}"),
    (re.compile(r"\bDELETE\s+FROM\b", re.I), "DELETE FROM"),
    (re.compile(r"\bALTER\s+TABLE\s+\S+\s+DROP\b", re.I), "ALTER TABLE ... DROP"),
    (re.compile(r"\bTRUNCATE\b", re.I), "TRUNCATE"),
]

# D1 refuses explicit transaction control, and it would break the one-batch-per-file guarantee.
_TRANSACTION_RE = re.compile(
    r"(?:^|;)\s*(BEGIN(?:\s+(?:DEFERRED|IMMEDIATE|EXCLUSIVE))?(?:\s+TRANSACTION)?|COMMIT|END\s+TRANSACTION"
    r"|ROLLBACK|SAVEPOINT|RELEASE)\b\s*(?:\w+\s*)?(?:;|$)", re.I)


class MigrationError(Exception):
    """A migration could not be loaded or applied; the message says which file and what to do."""


class DestructiveMigrationRefused(MigrationError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str
    number: int
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def destructive_statements(self) -> list[str]:
        return destructive_statements(self.sql)


def _code_only(sql: str) -> str:
    return _STRIP_RE.sub(" ", sql)


def destructive_statements(sql: str) -> list[str]:
    """The kinds of destructive statement the SQL contains, e.g. ['DROP TABLE', 'DELETE FROM']."""
    code = _code_only(sql)
    found = []
    for pattern, label in _DESTRUCTIVE:
        for match in pattern.finditer(code):
            text = label.format(*(g.upper() for g in match.groups()))
            if text not in found:
                found.append(text)
    return found


def load_directory(directory: Path) -> list[Migration]:
    """The directory's migrations in number order; refuses badly named or duplicate-numbered files."""
    if not directory.is_dir():
        raise MigrationError(f"migration directory {directory} does not exist")
    migrations = []
    problems = []
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_RE.match(path.name)
        if not match:
            problems.append(f"{path.name}: name migrations '<number>_<label>.sql', e.g. 0003_add_index.sql")
            continue
        sql = path.read_text(encoding="utf-8")
        if _TRANSACTION_RE.search(_code_only(sql)):
            problems.append(f"{path.name}: remove BEGIN/COMMIT/ROLLBACK/SAVEPOINT; each file already runs "
                            "as one transaction (and D1 refuses explicit transactions)")
        migrations.append(Migration(path.name, int(match["number"]), sql))
    numbers = [m.number for m in migrations]
    for number in sorted({n for n in numbers if numbers.count(n) > 1}):
        names = [m.name for m in migrations if m.number == number]
        problems.append(f"{', '.join(names)}: two files share number {number:04d}; renumber one")
    if problems:
        raise MigrationError("; ".join(problems))
    return sorted(migrations, key=lambda m: (m.number, m.name))


def manifest(migrations: Sequence[Migration]) -> list[dict[str, str]]:
    """What the deploy-time resource takes as input: names and content hashes, in order."""
    return [{"name": m.name, "sha256": m.sha256} for m in migrations]


class Executor(Protocol):
    """Where migrations run: a sqlite3 connection or a D1 database over the Cloudflare API."""

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run one statement; return the rows of its result."""

    def apply(self, sql: str, name: str) -> None:
        """Run the file's SQL and record `name` in d1_migrations, all or nothing."""


def _record(name: str) -> str:
    quoted = name.replace("'", "''")
    return f"INSERT INTO {MIGRATIONS_TABLE} (name) VALUES ('{quoted}');"


class SqliteExecutor:
    """A local sqlite3 database. Each file runs inside BEGIN ... COMMIT; any error rolls back."""

    def __init__(self, connection: sqlite3.Connection):
        connection.isolation_level = None  # we issue BEGIN/COMMIT ourselves
        self.connection = connection

    def query(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql)
        columns = [c[0] for c in cursor.description or ()]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def apply(self, sql: str, name: str) -> None:
        script = f"BEGIN;\n{sql}\n;\n{_record(name)}\nCOMMIT;"
        try:
            self.connection.executescript(script)
        except sqlite3.Error as error:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise MigrationError(f"{name} failed and was rolled back: {error}") from error


Transport = Callable[[str, dict[str, str], bytes], tuple[int, bytes]]


def _urllib_transport(url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class D1HttpExecutor:
    """A D1 database over `POST /accounts/{account}/d1/database/{id}/query`.

    All statements of one request run as one batch, which D1 executes in one implicit transaction:
    this is what `wrangler d1 migrations apply --remote` relies on too (file SQL + the
    d1_migrations INSERT in a single query).
    """

    API = "https://api.cloudflare.com/client/v4"

    def __init__(self, account_id: str, database_id: str, api_token: str,
                 transport: Transport | None = None, api: str | None = None):
        self.url = f"{api or self.API}/accounts/{account_id}/d1/database/{database_id}/query"
        self._headers = {"Authorization": f"Bearer {api_token}", "Content-Type": "application/json"}
        self._transport = transport or _urllib_transport

    def _post(self, sql: str) -> list[dict[str, Any]]:
        status, body = self._transport(self.url, dict(self._headers), json.dumps({"sql": sql}).encode())
        try:
            payload = json.loads(body or b"{}")
        except json.JSONDecodeError:
            payload = {}
        if status >= 400 or not payload.get("success", False):
            errors = "; ".join(str(e.get("message", e)) for e in payload.get("errors") or []) or f"HTTP {status}"
            raise MigrationError(f"D1 API refused the query: {errors}")
        return payload.get("result") or []

    def query(self, sql: str) -> list[dict[str, Any]]:
        results = self._post(sql)
        return list(results[-1].get("results") or []) if results else []

    def apply(self, sql: str, name: str) -> None:
        try:
            self._post(f"{sql}\n;\n{_record(name)}")
        except MigrationError as error:
            raise MigrationError(f"{name} failed and was rolled back: {error}") from error


def applied_names(executor: Executor) -> list[str]:
    executor.query(CREATE_MIGRATIONS_TABLE)
    return [row["name"] for row in executor.query(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY id")]


def pending(migrations: Sequence[Migration], applied: Sequence[str]) -> list[Migration]:
    done = set(applied)
    return [m for m in migrations if m.name not in done]


def check_destructive(migrations: Sequence[Migration], *, environment: str, allow_destructive: bool,
                      config_key: str = "d1Databases.<db>.migrations.allowDestructive") -> None:
    """Refuse destructive SQL in production unless explicitly allowed (checked for all files first)."""
    if environment != "production" or allow_destructive:
        return
    offending = [f"{m.name} ({', '.join(kinds)})" for m in migrations if (kinds := m.destructive_statements())]
    if offending:
        raise DestructiveMigrationRefused(
            f"production migrations {'; '.join(offending)} would delete data; nothing was applied. "
            f"Set {config_key}: true for the run that needs it, after a backup")


def apply_pending(executor: Executor, migrations: Sequence[Migration], *, environment: str,
                  allow_destructive: bool = False,
                  config_key: str = "d1Databases.<db>.migrations.allowDestructive") -> list[str]:
    """Apply every pending migration in order; return the names applied (empty: nothing to do)."""
    todo = pending(migrations, applied_names(executor))
    check_destructive(todo, environment=environment, allow_destructive=allow_destructive, config_key=config_key)
    done = []
    for migration in todo:
        executor.apply(migration.sql, migration.name)
        done.append(migration.name)
    return done
