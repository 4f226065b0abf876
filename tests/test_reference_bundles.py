"""The shipped reference bundles run in the real Workers runtime (workerd via `chittyos-edge dev`,
loopback only), with the wrangler config `dev` generates from the staging stack: compatibility date
and flags, vars, every binding, Durable Object migration history and crons. So the runtime checks what
a fresh account would get: the module loads, exports every class the stack binds, and answers
`GET /health` with {"status":"healthy"}. The dev servers are shared with tests/test_smoke.py.
"""

from __future__ import annotations

import json


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
