"""The shipped reference bundles run in the real Workers runtime (workerd via `chittyos-edge dev`,
loopback only), with the wrangler config `dev` generates from the staging stack: compatibility date
and flags, vars, every binding, Durable Object migration history and crons. So the runtime checks what
a fresh account would get: the module loads, exports every class the stack binds, and answers
`GET /health` with {"status":"healthy"}. The dev servers are shared with tests/test_smoke.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT


def reference_bundle(service_key: str) -> Path:
    """The repo's reference bundle of a service."""
    return ROOT / "workers" / service_key / "worker.mjs"


def test_chittyconnect_bundle_serves_health_sessions_and_cron(local_dev):
    server = local_dev("chittyconnect")
    status, body = server.request("/health")
    assert (status, json.loads(body)) == (200, {"status": "healthy"})
    headers = {"x-chittyid": "01-C-PROD-0001-P-2501-A-X", "content-type": "application/json"}
    status, body = server.request("/api/v1/sessions?session=s1", "PUT", b'{"topic": "test"}', headers)
    assert (status, json.loads(body)) == (200, {"ok": True, "sessionId": "s1"})
    status, body = server.request("/api/v1/sessions?session=s1", headers=headers)
    assert status == 200 and json.loads(body)["topic"] == "test", "SessionStateDO keeps the session"
    status, _ = server.request("/cdn-cgi/handler/scheduled?cron=0+*+*+*+*")
    assert status == 200, "the hourly cleanup trigger has a scheduled handler"


def test_project_awareness_bundle_serves_health_on_both_paths(local_dev):
    server = local_dev("project-awareness")
    for path in ("/health", "/project-awareness/health"):
        status, body = server.request(path)
        assert (status, json.loads(body)) == (200, {"status": "healthy"}), path
    status, _ = server.request("/nowhere")
    assert status == 404
    status, body = server.request("/ws")
    assert status == 426, "a plain GET of /ws is refused with 426, which the /ws health check expects"


def test_project_awareness_keeps_registered_sessions_in_its_kv(local_dev):
    server = local_dev("project-awareness")
    payload = json.dumps({"platform": "claude-code", "session_id": "kept-1"}).encode()
    status, body = server.request("/project-awareness/api/sessions/register", "POST", payload,
                                  {"content-type": "application/json"})
    assert (status, json.loads(body)) == (200, {"ok": True, "sessionId": "kept-1"})
    status, _ = server.request("/api/sessions/register", "POST", b'{"platform": 1}',
                               {"content-type": "application/json"})
    assert status == 400


NODE = shutil.which("node")
QUEUE_PROBE = """
const m = await import(process.argv[1]);
const calls = [];
const messages = [1, 2].map((id) => ({ id: String(id), body: {}, ack: () => calls.push(`ack ${id}`),
                                       retry: (o) => calls.push(`retry ${id}`) }));
const batch = { queue: "github-events-staging", messages, ackAll: () => calls.push("ackAll"),
                retryAll: (o) => calls.push(`retryAll ${JSON.stringify(o ?? {})}`) };
await m.default.queue(batch, {}, {});
console.log(JSON.stringify(calls));
"""


def test_the_reference_queue_handler_retries_and_never_acknowledges():
    """A stub cannot process a webhook event: it must leave every message for retry and the dead-letter queue."""
    assert NODE, "Node.js runs the reference bundles (see README)"
    result = subprocess.run([NODE, "--input-type=module", "-e", QUEUE_PROBE,
                             reference_bundle("chittyconnect").as_uri()],
                            capture_output=True, text=True, timeout=60, check=True)
    calls = json.loads(result.stdout.strip().splitlines()[-1])
    assert calls and all(call.startswith("retry") for call in calls), calls
    assert not any("ack" in call for call in calls)


def test_every_reference_bundle_is_marked_as_one():
    from chittyos_edge.preflight import REFERENCE_MARKER, is_reference_bundle

    bundles = sorted((ROOT / "workers").glob("*/worker.mjs"))
    assert len(bundles) == 2
    for bundle in bundles:
        assert bundle.read_text().splitlines()[0] == f"// {REFERENCE_MARKER} (a stub: staging only; production refuses it, see workers/README.md)"
        assert is_reference_bundle(bundle)
