"""`chittyos-edge backup` and `restore`: every D1 database and KV namespace of a stack, through its
backup bucket (`backups.bucket`), with the project's wrangler: `d1 export`, `kv key list` +
`kv bulk get`, `r2 object put/get`, then `d1 execute --file` and `kv bulk put` to restore.

One run is one archive, `backups/<UTC time>.tar.gz` (a manifest, `d1/<key>.sql`, `kv/<key>.json` in
`wrangler kv bulk put` format), uploaded whole, then `backups/latest.json` names it: a half-finished
run never looks like a backup. `--local` works on the stores `chittyos-edge dev` uses (workerd's KV,
R2 and D1); `--remote` on the account, with the real ids of the deployed stack (--backend or --stdin)
and CLOUDFLARE_API_TOKEN.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import naming
from ..errors import EXIT_OK, UsageError
from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack
from . import wrangler
from .stack import StackView, add_source_arguments, default_state_dir, load

BACKEND_ENV = "PULUMI_BACKEND_URL"
ARCHIVE_FORMAT = 1
PREFIX = "backups"
LATEST = f"{PREFIX}/latest.json"
BULK_GET_MAX = 100          # keys per KV bulk read (the API's limit; wrangler does not split)
LOCAL_LIST_MAX = 1000       # wrangler lists at most this many keys of a local namespace
KV_MIN_TTL_S = 60           # KV refuses an expiration sooner than this
_USER_TABLES = ("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE '_cf_%' ORDER BY name")


@dataclass(frozen=True)
class Store:
    kind: str      # "d1" or "kv"
    key: str       # the logical name in the stack config
    name: str      # D1: database name; KV: namespace id
    database_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def member(self) -> str:
        return f"{self.kind}/{self.key}.{'sql' if self.kind == 'd1' else 'json'}"


def register(commands) -> None:
    for name in ("backup", "restore"):
        restore = name == "restore"
        parser = commands.add_parser(
            name, help=("restore D1 databases and KV namespaces of a stack from its backup bucket" if restore else
                        "export every D1 database and KV namespace of a stack to its backup bucket"),
            description=(
                "Restore D1 databases and KV namespaces of a stack from an archive in its backup bucket "
                "(`backups.bucket`; default: the archive backups/latest.json names), with `wrangler d1 execute "
                "--file` and `kv bulk put`. D1 restores into an empty database (or --replace its tables); KV "
                "keys are written over, keys that are not in the backup stay. For a D1 point in the last 30 days "
                "use Time Travel instead (`wrangler d1 time-travel restore`; see README, \"Backups and restore\")."
                if restore else
                "Export every D1 database (`wrangler d1 export`) and KV namespace (`wrangler kv key list` + "
                "`kv bulk get`) of a stack into one archive in its backup bucket (`backups.bucket`): "
                "backups/<time>.tar.gz (UTC), named by backups/latest.json once it is whole. Retention is the "
                "bucket's lifecycle rule.") + (
                "\n\n--local works on the stores `chittyos-edge dev` uses (ids from the offline plan); --remote on "
                "the account (CLOUDFLARE_API_TOKEN) with the deployed stack's ids (--backend or --stdin)."),
            formatter_class=HELP_FORMATTER,
            epilog=epilog(
                ["chittyos-edge restore -s production --remote --yes                # the latest archive",
                 "chittyos-edge restore -s production --remote --store d1:chittyconnect --replace "
                 "--backup backups/20261126T032300Z.tar.gz --yes",
                 "chittyos-edge restore -s staging --local"] if restore else
                ["chittyos-edge backup -s production --remote      # ids from the state backend of Pulumi.yaml",
                 "chittyos-edge backup -s production --remote --store d1:chittyconnect   # before a risky migration",
                 "chittyos-edge backup -s staging --local --dry-run"],
                ["0  done", "2  usage or config error, a refused restore, or a failed wrangler command"]))
        add_stack(parser, repeatable=False, what=f"the stack to {name}")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--local", action="store_true",
                           help="the local stores of `chittyos-edge dev` (workerd), ids from the offline plan")
        where.add_argument("--remote", action="store_true",
                           help="the Cloudflare account (CLOUDFLARE_API_TOKEN), ids from --backend or --stdin")
        add_source_arguments(parser)
        parser.add_argument("--state-dir", metavar="DIR",
                            help="with --local: folder of the local stores (default: .chittyos-edge/local/<stack>)")
        parser.add_argument("--store", action="append", metavar="KIND:KEY",
                            help="only this store, e.g. d1:chittyconnect or kv:chittyconnect-tokens (repeatable; "
                                 "default: every D1 database and KV namespace)")
        if restore:
            parser.add_argument("--backup", default="latest", metavar="OBJECT",
                                help="the archive's object key, e.g. backups/20261126T030000Z.tar.gz "
                                     "(default: latest, the one backups/latest.json names)")
            parser.add_argument("--replace", action="store_true",
                                help="drop the tables of a D1 database that is not empty before restoring it")
            parser.add_argument("--yes", action="store_true", help="confirm a --remote restore (it writes data)")
            parser.set_defaults(handler=_restore_command)
        else:
            parser.add_argument("--dry-run", action="store_true",
                                help="print the stores and the bucket, run nothing")
            parser.set_defaults(handler=_backup_command)


# ---- what to back up ---------------------------------------------------------------------------------

def stores_of(view: StackView) -> list[Store]:
    """Every D1 database and KV namespace of the stack, with the physical name or id the outputs give it."""
    kv_ids: dict[str, str] = {}
    databases: dict[str, tuple[str, str]] = {}
    for key, config in view.settings.services.items():
        outputs = view.outputs.services.get(key)
        if outputs is None:
            continue
        by_binding = dict(config.bindings.kv)
        for host in view.settings.durable_objects.values():
            if host.host_service == key and host.kv_fallback:
                by_binding[host.kv_fallback_binding] = host.kv_fallback
        for binding, namespace_id in outputs.kv_namespaces.items():
            if binding in by_binding:
                kv_ids[by_binding[binding]] = namespace_id
        for binding, ref in outputs.d1_databases.items():
            databases[config.bindings.d1[binding]] = (ref.name, ref.id)
    unbound = [f"kvNamespaces.{k}" for k in view.settings.kv_namespaces if k not in kv_ids]
    unbound += [f"d1Databases.{k}" for k in view.settings.d1_databases if k not in databases]
    if unbound:
        raise UsageError(f"{', '.join(unbound)}: bound to no Worker, so the stack outputs carry no id to back up; "
                         "bind it, or leave it out with --store")
    return ([Store("d1", k, *databases[k]) for k in view.settings.d1_databases]
            + [Store("kv", k, kv_ids[k]) for k in view.settings.kv_namespaces])


def _select(stores: list[Store], wanted: list[str] | None) -> list[Store]:
    if not wanted:
        return stores
    by_label = {s.label: s for s in stores}
    unknown = [w for w in wanted if w not in by_label]
    if unknown:
        raise UsageError(f"--store {', '.join(unknown)}: not a store of the stack; choose from "
                         f"{', '.join(by_label)}")
    return [by_label[w] for w in dict.fromkeys(wanted)]


def bucket_of(view: StackView) -> str:
    if view.settings.backups is None:
        raise UsageError(f"Pulumi.{view.stack}.yaml declares no backups.bucket; add `chittyos-edge:backups: "
                         "{bucket: <r2Buckets key>}` (see README, Backups and restore)")
    return naming.bucket_name(view.settings.backups.bucket, view.settings.environment)


# ---- the wrangler side ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Wrangler:
    """wrangler against one stack's stores: local (a state dir) or remote (the account)."""

    project: Path
    config: Path
    mode: str  # "--local" or "--remote"

    def run(self, *args: str, what: str) -> str:
        return wrangler.run(self.project, [*args, self.mode], config=self.config, what=what)


def _check_where(args: argparse.Namespace) -> None:
    if args.remote and not (args.backend or args.stdin):
        # As `pulumi` and `outputs` find it: $PULUMI_BACKEND_URL, else backend.url of Pulumi.yaml.
        args.backend = os.environ.get(BACKEND_ENV) or _project_backend(args.project)
    if args.local and (args.backend or args.stdin):
        raise UsageError("--backend and --stdin read the deployed stack's ids, for --remote; --local uses the plan's")
    if args.remote and not (args.backend or args.stdin):
        raise UsageError(f"--remote needs the deployed stack's ids: add --backend '<state bucket URL>' (or set "
                         f"{BACKEND_ENV}, or backend.url in Pulumi.yaml), or pipe `pulumi stack output --json` "
                         "into --stdin")
    if args.remote and args.state_dir:
        raise UsageError("--state-dir is for --local")


def _project_backend(project) -> str | None:
    from ..outputs.backend import project_backend_url
    from ..outputs.errors import OutputsError

    try:
        return project_backend_url(project.root)
    except OutputsError:
        return None


def _wrangler_for(view: StackView, args: argparse.Namespace, stores: list[Store], scratch: Path) -> Wrangler:
    if args.local:
        folder = Path(args.state_dir).resolve() if args.state_dir else default_state_dir(view)
    else:
        folder = scratch
    # One config naming every store, so `d1 export/execute <name>` resolve by name, locally by id.
    table: dict[str, Any] = {
        "name": f"chittyos-edge-backup-{view.stack}",
        "compatibility_date": "2025-01-01",
        "account_id": view.settings.account.id,
        "d1_databases": [{"binding": f"DB_{i}", "database_name": s.name, "database_id": s.database_id}
                         for i, s in enumerate(stores) if s.kind == "d1"],
        "kv_namespaces": [{"binding": f"KV_{i}", "id": s.name} for i, s in enumerate(stores) if s.kind == "kv"],
    }
    config = wrangler.write_config(folder / "wrangler.json", table)
    return Wrangler(view.project, config, "--local" if args.local else "--remote")


def _export(w: Wrangler, store: Store, out: Path, local: bool) -> tuple[bytes, int]:
    """A store's content as archive bytes, and how many rows (statements) or keys it holds."""
    if store.kind == "d1":
        target = out / f"{store.key}.sql"
        extra = [] if local else ["--skip-confirmation"]
        w.run("d1", "export", store.name, "--output", str(target), *extra, what=f"exporting D1 {store.name}")
        data = target.read_bytes()
        return data, sum(line.startswith(b"INSERT INTO ") for line in data.splitlines())
    listed = wrangler.json_output(w.run("kv", "key", "list", "--namespace-id", store.name,
                                        what=f"listing KV {store.key}"), f"listing KV {store.key}")
    if local and len(listed) >= LOCAL_LIST_MAX:
        raise UsageError(f"KV {store.key}: wrangler lists at most {LOCAL_LIST_MAX} keys of a local namespace; "
                         "this one holds more, so a local backup would be incomplete")
    entries = []
    for start in range(0, len(listed), BULK_GET_MAX):
        chunk = listed[start:start + BULK_GET_MAX]
        keys_file = out / f"{store.key}.keys.json"
        keys_file.write_text(json.dumps([item["name"] for item in chunk]))
        values = wrangler.json_output(w.run("kv", "bulk", "get", str(keys_file), "--namespace-id", store.name,
                                            what=f"reading KV {store.key}"), f"reading KV {store.key}")
        for item in chunk:
            value = values.get(item["name"])
            value = value.get("value") if isinstance(value, dict) else value  # local: {"value": ...}
            if value is None:  # deleted between the list and the read
                continue
            entry: dict[str, Any] = {"key": item["name"], "value": value}
            if item.get("expiration"):
                entry["expiration"] = item["expiration"]
            if item.get("metadata") is not None:
                entry["metadata"] = item["metadata"]
            entries.append(entry)
    return json.dumps(entries, indent=1, ensure_ascii=False).encode(), len(entries)


def _backup_command(args: argparse.Namespace) -> int:
    args.stack = one_stack(args, args.project)
    _check_where(args)
    view = load(args.stack, args.project, args)
    stores = _select(stores_of(view), args.store)
    bucket = bucket_of(view)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    object_key = f"{PREFIX}/{stamp}.tar.gz"
    if args.dry_run:
        for store in stores:
            print(f"{store.label}  {store.name}")
        print(f"-> r2://{bucket}/{object_key} ({'local' if args.local else 'remote'}, ids from {view.source})")
        return EXIT_OK
    with tempfile.TemporaryDirectory(prefix="chittyos-backup-") as tmp:
        scratch = Path(tmp)
        w = _wrangler_for(view, args, stores, scratch)
        exports = scratch / "exports"
        exports.mkdir()
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:  # each wrangler call is mostly start-up and waiting
            results = list(pool.map(lambda s: _export(w, s, exports, args.local), stores))
        manifest = {"formatVersion": ARCHIVE_FORMAT, "stack": args.stack, "createdAt": stamp,
                    "idsFrom": view.source, "stores": []}
        archive = scratch / "backup.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for store, (data, count) in zip(stores, results):
                _add(tar, store.member, data)
                manifest["stores"].append({"kind": store.kind, "key": store.key, "name": store.name,
                                           "file": store.member, "sha256": hashlib.sha256(data).hexdigest(),
                                           "items": count})
            _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
        w.run("r2", "object", "put", f"{bucket}/{object_key}", "--file", str(archive),
              "--content-type", "application/gzip", what="uploading the backup")
        pointer = scratch / "latest.json"
        pointer.write_text(json.dumps({"object": object_key, "createdAt": stamp,
                                       "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}))
        w.run("r2", "object", "put", f"{bucket}/{LATEST}", "--file", str(pointer),
              "--content-type", "application/json", what="recording the latest backup")
    for entry in manifest["stores"]:
        print(f"{entry['kind']}:{entry['key']}  {entry['items']} {'rows' if entry['kind'] == 'd1' else 'keys'}")
    print(f"backup of {args.stack}: r2://{bucket}/{object_key} ({len(stores)} stores, "
          f"{time.monotonic() - started:.0f} s)")
    return EXIT_OK


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


# ---- restore ------------------------------------------------------------------------------------------

def _restore_command(args: argparse.Namespace) -> int:
    args.stack = one_stack(args, args.project)
    if args.remote and not args.yes:
        raise UsageError(f"a --remote restore writes into the {args.stack} stack's live databases and namespaces; "
                         "add --yes to confirm")
    _check_where(args)
    view = load(args.stack, args.project, args)
    stores = _select(stores_of(view), args.store)
    bucket = bucket_of(view)
    with tempfile.TemporaryDirectory(prefix="chittyos-restore-") as tmp, ThreadPoolExecutor(max_workers=4) as pool:
        scratch = Path(tmp)
        w = _wrangler_for(view, args, stores, scratch)
        # The databases' tables are read while the archive downloads.
        tables = {s.label: pool.submit(_d1_tables, w, s) for s in stores if s.kind == "d1"}
        object_key = args.backup
        if object_key == "latest":
            pointer = scratch / "latest.json"
            w.run("r2", "object", "get", f"{bucket}/{LATEST}", "--file", str(pointer),
                  what=f"reading {LATEST} (is there a backup yet?)")
            object_key = json.loads(pointer.read_text())["object"]
        archive = scratch / "backup.tar.gz"
        w.run("r2", "object", "get", f"{bucket}/{object_key}", "--file", str(archive),
              what=f"downloading {object_key}")
        manifest, members = _read_archive(archive, object_key, args.stack)
        in_archive = {(e["kind"], e["key"]) for e in manifest["stores"]}
        missing = [s.label for s in stores if (s.kind, s.key) not in in_archive]
        if missing and args.store:
            raise UsageError(f"{object_key} holds no {', '.join(missing)}")
        chosen = [s for s in stores if (s.kind, s.key) in in_archive]
        # Every D1 database is checked before anything is written, so a refusal leaves all untouched.
        content = {s.label: _restore_sql(s, tables[s.label].result(), members[s.member], args.replace)
                   if s.kind == "d1" else members[s.member] for s in chosen}
        for line in pool.map(lambda s: _restore_store(w, s, content[s.label], scratch), chosen):
            print(line)
    print(f"restore of {args.stack} from r2://{bucket}/{object_key}: {len(chosen)} stores")
    return EXIT_OK


def _restore_store(w: Wrangler, store: Store, content: bytes, scratch: Path) -> str:
    data = scratch / store.member.replace("/", "-")
    if store.kind == "d1":
        data.write_bytes(content)
        w.run("d1", "execute", store.name, "--file", str(data), "--yes", what=f"restoring D1 {store.name}")
        return f"{store.label}  restored into {store.name}"
    entries, skipped = _live_entries(json.loads(content))
    data.write_text(json.dumps(entries))
    if entries:
        w.run("kv", "bulk", "put", str(data), "--namespace-id", store.name, what=f"restoring KV {store.key}")
    return f"{store.label}  {len(entries)} keys restored" + (f" ({skipped} already expired, skipped)" if skipped else "")


def _read_archive(path: Path, object_key: str, stack: str) -> tuple[dict, dict[str, bytes]]:
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        manifest = json.loads(members["manifest.json"])
    except (tarfile.TarError, KeyError, ValueError, OSError) as error:
        raise UsageError(f"{object_key} is not a chittyos-edge backup archive ({error})") from None
    if manifest.get("formatVersion") != ARCHIVE_FORMAT or manifest.get("stack") != stack:
        raise UsageError(f"{object_key} is a backup of the {manifest.get('stack')!r} stack (format "
                         f"{manifest.get('formatVersion')}); restore it into that stack")
    for entry in manifest["stores"]:
        if hashlib.sha256(members.get(entry["file"], b"")).hexdigest() != entry["sha256"]:
            raise UsageError(f"{object_key}: {entry['file']} does not match its checksum; the archive is damaged")
    return manifest, members


def _d1_tables(w: Wrangler, store: Store) -> list[str]:
    """The tables a D1 database holds now (D1's own `_cf_*` and SQLite's excepted)."""
    out = w.run("d1", "execute", store.name, "--command", _USER_TABLES, "--json",
                what=f"reading the tables of D1 {store.name}")
    return [row["name"] for result in wrangler.json_output(out, f"D1 {store.name}") for row in result["results"]]


def _restore_sql(store: Store, tables: list[str], dump: bytes, replace: bool) -> bytes:
    """The export, preceded by DROPs of the database's tables with --replace; refuses a database that
    holds tables without it (the export's CREATE TABLE statements would fail half-way)."""
    if tables and not replace:
        raise UsageError(f"D1 {store.name} already has tables ({', '.join(tables)}); restore into it with --replace "
                         "(its tables are dropped first), or roll it back with D1 Time Travel (see README)")
    drops = "".join(f'DROP TABLE IF EXISTS "{t}";\n' for t in tables)
    return (f"PRAGMA defer_foreign_keys=TRUE;\n{drops}".encode() + dump) if drops else dump


def _live_entries(entries: list[dict]) -> tuple[list[dict], int]:
    """KV entries that have not expired yet (KV refuses an expiration in the past)."""
    cutoff = time.time() + KV_MIN_TTL_S
    live = [e for e in entries if not e.get("expiration") or e["expiration"] > cutoff]
    return live, len(entries) - len(live)
