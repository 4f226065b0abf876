"""The shipped reference bundles run in the real Workers runtime (workerd via `wrangler dev`, loopback only).

Each bundle gets a wrangler config generated from the staging stack file (compatibility date and
flags, vars, Durable Object bindings and migration history, crons), so the runtime checks what a
fresh account would get: the module loads, exports every class the stack binds, and answers
`GET /health` with {"status":"healthy"}.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, stack_file_config

WRANGLER = ROOT / "node_modules" / ".bin" / "wrangler"
START_TIMEOUT = 60


def reference_bundle(service_key: str) -> Path:
    """The repo's reference bundle of a service (staging's ChittyConnect runs its live code instead)."""
    return ROOT / "workers" / service_key / "worker.mjs"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wrangler_config(service_key: str, bundle_name: str) -> dict:
    config = stack_file_config("staging")
    service = config["chittyos-edge:services"][service_key]
    host = next((h for h in config["chittyos-edge:durableObjects"].values() if h["hostService"] == service_key), None)
    crons = list(service.get("crons", [])) + ([host["cleanupSchedule"]] if host and host.get("cleanupSchedule") else [])
    generated: dict = {
        "name": f"{service['scriptName']}-reference-test",
        "main": bundle_name,
        "compatibility_date": service["compatibilityDate"],
        "compatibility_flags": service.get("compatibilityFlags", []),
        "vars": service.get("vars", {}),
        "workers_dev": False,
    }
    if host:
        generated["durable_objects"] = {"bindings": [
            {"name": binding, "class_name": cls} for binding, cls in host["classes"].items()]}
        generated["migrations"] = [
            {"tag": step["tag"], **{wrangler_key: step[key] for key, wrangler_key in (
                ("newSqliteClasses", "new_sqlite_classes"), ("newClasses", "new_classes"),
                ("deletedClasses", "deleted_classes")) if step.get(key)}}
            for step in host["migrations"]]
    if crons:
        generated["triggers"] = {"crons": crons}
    return generated


class _Dev:
    """`wrangler dev` on loopback for one bundle; always stopped (its whole process group) on exit."""

    def __init__(self, workdir: Path, port: int):
        env = dict(os.environ, WRANGLER_SEND_METRICS="false", CI="1", XDG_CONFIG_HOME=str(workdir / "xdg"),
                   NO_COLOR="1")
        self.log = (workdir / "dev.log").open("w")
        self.process = subprocess.Popen(
            [str(WRANGLER), "dev", "--ip", "127.0.0.1", "--port", str(port), "--persist-to", str(workdir / "state"),
             "--log-level", "info"],
            cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{port}"
        self.workdir = workdir

    def request(self, path: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                self.request("/health")
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.5)
        self.log.flush()
        pytest.fail("wrangler dev did not start:\n" + (self.workdir / "dev.log").read_text()[-3000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.log.close()


@pytest.fixture
def dev(tmp_path):
    started: list[_Dev] = []

    def start(service_key: str) -> _Dev:
        assert WRANGLER.exists(), "run `npm ci` first (wrangler is a dev dependency in package.json)"
        bundle = reference_bundle(service_key)
        workdir = tmp_path / service_key
        workdir.mkdir()
        shutil.copy(bundle, workdir / bundle.name)
        (workdir / "wrangler.json").write_text(json.dumps(_wrangler_config(service_key, bundle.name), indent=2))
        server = _Dev(workdir, _free_port())
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def test_chittyconnect_bundle_serves_health_sessions_and_cron(dev):
    server = dev("chittyconnect")
    status, body = server.request("/health")
    assert (status, json.loads(body)) == (200, {"status": "healthy"})
    headers = {"x-chittyid": "01-C-PROD-0001-P-2501-A-X", "content-type": "application/json"}
    status, body = server.request("/api/v1/sessions?session=s1", "PUT", b'{"topic": "test"}', headers)
    assert (status, json.loads(body)) == (200, {"ok": True, "sessionId": "s1"})
    status, body = server.request("/api/v1/sessions?session=s1", headers=headers)
    assert status == 200 and json.loads(body)["topic"] == "test", "SessionStateDO keeps the session"
    status, _ = server.request("/cdn-cgi/handler/scheduled?cron=0+*+*+*+*")
    assert status == 200, "the hourly cleanup trigger has a scheduled handler"


def test_project_awareness_bundle_serves_health_on_both_paths(dev):
    server = dev("project-awareness")
    for path in ("/health", "/project-awareness/health"):
        status, body = server.request(path)
        assert (status, json.loads(body)) == (200, {"status": "healthy"}), path
    status, _ = server.request("/nowhere")
    assert status == 404


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
