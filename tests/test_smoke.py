"""`chittyos-edge dev` and `chittyos-edge smoke`.

smoke passes against `dev` on the reference bundles (the session's shared dev servers) and fails
against a server that answers /health with 500 (a tiny local http.server); dev's wrangler config
holds exactly the bindings the plan uploads with each script.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chittyos_edge import cli
from chittyos_edge.config.services import SmokeCheck
from tests.conftest import resources, stack_file_config, stack_view, uploaded_code

VERSION = "cloudflare:index/workerVersion:WorkerVersion"
# A loaded CI machine is no measure of the edge's latency: the budget is checked in
# test_the_latency_budget_is_enforced, not here.
GENEROUS_MS = "60000"


def _smoke(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["smoke", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("service", ["chittyconnect", "project-awareness"])
def test_smoke_passes_against_dev_on_the_reference_bundles(local_dev, capsys, service):
    server = local_dev(service)
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", service, "--url", server.base,
                          "--latency-ms", GENEROUS_MS, "--format", "json")
    report = json.loads(out)
    assert code == 0, out
    declared = stack_file_config("staging")["chittyos-edge:services"][service]["smoke"]
    assert [r["check"] for r in report["results"]] == declared
    assert all(r["ok"] for r in report["results"]) and report["passed"]


def test_project_awareness_runs_every_post_deployment_test_also_under_its_route(local_dev, capsys):
    server = local_dev("project-awareness")
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", "project-awareness",
                          "--url", server.base + "/project-awareness", "--latency-ms", GENEROUS_MS)
    assert code == 0, out
    assert {line.split()[2] for line in out.splitlines() if line.startswith("PASS")} == {c.value for c in SmokeCheck}


class _Scripted(BaseHTTPRequestHandler):
    """Answers each path with the status and JSON body in `answers` (404 otherwise)."""

    answers: dict[str, tuple[int, object]] = {}
    protocol_version = "HTTP/1.1"  # what a WebSocket client needs to read the refusal

    def _answer(self) -> None:
        status, body = self.answers.get(self.path.split("?")[0], (404, {"error": "not found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted():
    """A loopback http.server whose answers the test sets; its base URL."""
    servers = []

    def start(answers: dict[str, tuple[int, object]]) -> str:
        handler = type("Handler", (_Scripted,), {"answers": answers})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


HEALTHY = {"/health": (200, {"status": "healthy"}),
           "/api/info": (200, {"name": "project-awareness", "version": "1", "endpoints": []}),
           "/api/projects/suggestions": (200, {"suggestions": []}),
           "/api/sessions/register": (200, {"ok": True}),
           "/api/projects/sync": (200, {"ok": True})}


def test_smoke_fails_against_a_server_answering_health_with_500(scripted, capsys):
    base = scripted({"/health": (500, {"status": "unhealthy"})})
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", "chittyconnect", "--url", base)
    assert code == 1
    assert out.splitlines()[0].startswith("FAIL  chittyconnect") and " health " in out and "500" in out
    assert "0 of 1 checks passed" in out


def test_smoke_passes_against_a_healthy_scripted_server(scripted, capsys):
    base = scripted({"/health": (200, {"status": "healthy"})})
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", "chittyconnect", "--url", base)
    assert code == 0, out


@pytest.mark.parametrize("check,answers,detail", [
    ("health", {"/health": (200, {"status": "degraded"})}, '"degraded"'),
    ("info", {"/api/info": (200, {"name": "x", "version": "1"})}, "missing endpoints"),
    ("suggestions", {"/api/projects/suggestions": (503, {})}, "503"),
    ("session-registration", {"/api/sessions/register": (401, {"error": "auth"})}, "401"),
    ("sync", {"/api/projects/sync": (500, {})}, "500"),
    ("websocket", {}, "upgrade refused: HTTP"),     # http.server never upgrades
])
def test_each_check_can_fail(scripted, capsys, check, answers, detail):
    base = scripted({**HEALTHY, **answers})
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", "project-awareness", "--url", base,
                          "--format", "json")
    results = {r["check"]: r for r in json.loads(out)["results"]}
    assert code == 1
    assert not results[check]["ok"] and detail in results[check]["detail"], results[check]
    assert all(r["ok"] for name, r in results.items() if name not in (check, "websocket"))


def test_the_latency_budget_is_enforced(scripted, capsys):
    base = scripted(HEALTHY)
    code, out, _ = _smoke(capsys, "--stack", "staging", "--service", "project-awareness", "--url", base,
                          "--latency-ms", "0", "--format", "json")
    suggestions = next(r for r in json.loads(out)["results"] if r["check"] == "suggestions")
    assert code == 1 and not suggestions["ok"] and "over the 0 ms budget" in suggestions["detail"]


def test_by_default_smoke_targets_every_hostname_of_the_outputs(monkeypatch, production):
    from chittyos_edge.ops import smoke
    from chittyos_edge.outputs import sources

    seen = []
    monkeypatch.setattr(sources, "from_plan", lambda stack, project=None: stack_view(production).outputs)
    monkeypatch.setattr(smoke, "run_all", lambda targets, **_: seen.extend(targets) or [])
    assert cli.main(["smoke", "--stack", "production"]) == 0
    assert {(t.service, t.base) for t in seen} == {
        ("chittyconnect", "https://connect.chitty.cc"),
        ("project-awareness", "https://project-awareness.chitty.cc"),
        ("project-awareness", "https://api.chitty.cc/project-awareness"),  # the route keeps its path prefix
    }
    assert next(t for t in seen if t.service == "chittyconnect").checks == (SmokeCheck.HEALTH,)


@pytest.mark.parametrize("args,message", [
    (["--url", "http://127.0.0.1:1"], "--url tests one service: add --service"),
    (["--url", "ftp://x", "--service", "chittyconnect"], "give a base URL"),
    (["--service", "nope"], "--service 'nope' is not a service of the staging stack"),
    (["--latency-ms", "-1"], "--latency-ms and --retry-for must be >= 0"),
    (["--url", "http://127.0.0.1:1", "--service", "chittyconnect", "--stdin"], "--url replaces the hostnames"),
])
def test_bad_smoke_input_is_a_usage_error(capsys, args, message):
    code, _, err = _smoke(capsys, "--stack", "staging", *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_smoke_list_with_an_unknown_check_is_refused():
    from tests.conftest import config_problems

    problems = config_problems("staging", lambda c: c["chittyos-edge:services"]["chittyconnect"].update(
        smoke=["health", "healthz"]))
    assert any("services.chittyconnect.smoke" in p and "healthz" in p for p in problems), problems


def _binding_names(table: dict) -> set[tuple[str, str]]:
    """(kind, binding name) of a wrangler config."""
    names = {("kv", b["binding"]) for b in table.get("kv_namespaces", [])}
    names |= {("r2", b["binding"]) for b in table.get("r2_buckets", [])}
    names |= {("d1", b["binding"]) for b in table.get("d1_databases", [])}
    names |= {("do", b["name"]) for b in table.get("durable_objects", {}).get("bindings", [])}
    names |= {("queue", b["binding"]) for b in table.get("queues", {}).get("producers", [])}
    names |= {("ae", b["binding"]) for b in table.get("analytics_engine_datasets", [])}
    names |= {("var", name) for name in table.get("vars", {})}
    if table.get("ai"):
        names.add(("ai", table["ai"]["binding"]))
    return names


KINDS = {"kv_namespace": "kv", "r2_bucket": "r2", "d1": "d1", "durable_object_namespace": "do", "queue": "queue",
         "analytics_engine": "ae", "plain_text": "var", "ai": "ai"}


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_dev_runs_each_service_with_exactly_the_bindings_the_plan_uploads(built, stack):
    """Every Worker version the plan uploads (ChittyConnect's code is uploaded in the `built` variant;
    the committed stacks keep it live) runs locally with the same bindings, ids and bundle."""
    from chittyos_edge.ops.stack import worker_config

    plan = built[stack]
    view = stack_view(plan, uploaded_code(stack, "chittyconnect"))
    versions = resources(plan, VERSION)
    assert {v["name"] for v in versions} == {f"{stack}-{key}-version-stable" for key in view.settings.services}
    for version in versions:
        service = version["name"][len(stack) + 1:version["name"].index("-version-")]
        # A pinned production build is fetched, not committed: the reference bundle runs in its place.
        bundle = view.settings.services[service].code.bundle
        if not (view.project / bundle).is_file():
            bundle = f"workers/{service}/worker.mjs"
        table = worker_config(view, service, None if bundle == view.settings.services[service].code.bundle else bundle)
        uploaded = {(KINDS[b["type"]], b["name"]) for b in version["inputs"]["bindings"] if b["type"] != "secret_text"}
        assert _binding_names(table) == uploaded, service
        kv_ids = {b["name"]: b["namespaceId"] for b in version["inputs"]["bindings"] if b["type"] == "kv_namespace"}
        assert {b["binding"]: b["id"] for b in table.get("kv_namespaces", [])} == kv_ids
        assert table["main"].endswith(bundle)


def test_dev_print_config_is_the_generated_wrangler_config(staging, capsys):
    from chittyos_edge.ops.stack import worker_config

    reference = "workers/chittyconnect/worker.mjs"  # staging's ChittyConnect runs live code: name a bundle
    assert cli.main(["dev", "--stack", "staging", "--service", "chittyconnect", "--print-config"]) == 2
    assert "--bundle PATH" in capsys.readouterr().err
    assert cli.main(["dev", "--stack", "staging", "--service", "chittyconnect", "--bundle", reference,
                     "--print-config"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table == worker_config(stack_view(staging), "chittyconnect", reference)
    assert table["main"].endswith(reference)
    assert table["d1_databases"][0]["migrations_dir"].endswith("migrations/chittyconnect")
    assert table["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["SessionStateDO"]}]
    assert table["triggers"] == {"crons": ["0 * * * *"]}


def test_dev_refuses_an_unknown_service(capsys):
    assert cli.main(["dev", "--stack", "staging", "--service", "nope", "--print-config"]) == 2
    assert "--service 'nope' is not a service of the staging stack" in capsys.readouterr().err


def test_dev_writes_durable_object_migrations_in_wrangler_keys():
    from chittyos_edge.config.services import DurableObjectHost
    from chittyos_edge.ops.stack import migration_steps

    host = DurableObjectHost.model_validate({
        "hostService": "x", "classes": {"B": "New"},
        "migrations": [{"tag": "v1", "newSqliteClasses": ["Old"]},
                       {"tag": "v2", "renamedClasses": {"Old": "New"}}]})
    assert migration_steps(host) == [{"tag": "v1", "new_sqlite_classes": ["Old"]},
                                     {"tag": "v2", "renamed_classes": [{"from": "Old", "to": "New"}]}]
