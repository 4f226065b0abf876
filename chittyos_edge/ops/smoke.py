"""`chittyos-edge smoke`: the post-deployment tests of the Project Awareness Cloudflare optimization
report, run against a URL or against every hostname a stack's services serve.

Each service lists the checks that apply to it in `services.<key>.smoke` (ChittyConnect: its health;
Project Awareness: all of them). Exit 0 when every check passes, 1 when one fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from ..config.services import SmokeCheck
from ..errors import EXIT_OK, EXIT_VIOLATIONS, UsageError
from ..usage import HELP_FORMATTER, add_stack, epilog, one_stack

# The report's thresholds: suggestions answer within 200 ms; the WebSocket test waits 30 s.
SUGGESTIONS_LATENCY_MS = 200
WEBSOCKET_TIMEOUT_S = 30
USER_AGENT = "chittyos-edge-smoke"
FORMATS = ("text", "markdown", "json")


@dataclass(frozen=True)
class Target:
    service: str
    base: str                      # scheme://host[/route prefix], no trailing slash
    checks: tuple[SmokeCheck, ...]
    health_path: str


@dataclass
class Result:
    service: str
    url: str
    check: str
    ok: bool
    detail: str
    ms: int


def register(commands) -> None:
    from .stack import add_source_arguments

    parser = commands.add_parser(
        "smoke", help="run the post-deployment tests against a URL or the stack's hostnames",
        description="Run the post-deployment tests of the Project Awareness Cloudflare optimization report: "
                    "/health answers 200 {\"status\":\"healthy\"}, /api/info 200 with name, version and endpoints, "
                    f"suggestions 200 within {SUGGESTIONS_LATENCY_MS} ms, session registration and sync 200, and /ws "
                    "upgrades to a WebSocket. Each service runs the checks its `smoke` list names, against --url or, "
                    "by default, against every hostname of the stack's outputs (a route's path prefix included).",
        formatter_class=HELP_FORMATTER,
        epilog=epilog(
            ["chittyos-edge smoke -s staging                                   # every hostname of the stack",
             "chittyos-edge smoke -s staging --service project-awareness --url http://127.0.0.1:8787",
             "pulumi stack output --json -s production | chittyos-edge smoke -s production --stdin --retry-for 180"],
            ["0  every check passed", "1  a check failed", "2  usage or config error"]))
    add_stack(parser, repeatable=False, what="the stack to test")
    parser.add_argument("--service", action="append", metavar="KEY",
                        help="only this service (repeatable; default: every service of the stack)")
    parser.add_argument("--url", help="test this base URL (http[s]://host[:port][/prefix]) instead of the hostnames; "
                                      "needs one --service when the stack has several")
    add_source_arguments(parser)
    parser.add_argument("--latency-ms", type=int, default=SUGGESTIONS_LATENCY_MS,
                        help=f"suggestions latency budget (default: {SUGGESTIONS_LATENCY_MS}, the report's SLA)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per HTTP check (default: 10)")
    parser.add_argument("--retry-for", type=float, default=0.0, metavar="SECONDS",
                        help="re-run failing checks until they pass or SECONDS have passed (a new custom domain can "
                             "take a while to get its certificate; default: 0, no retry)")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), markdown (for a job summary) or json")
    parser.set_defaults(handler=_smoke_command)


def _smoke_command(args: argparse.Namespace) -> int:
    args.stack = one_stack(args, args.project)
    if args.latency_ms < 0 or args.timeout <= 0 or args.retry_for < 0:
        raise UsageError("--latency-ms and --retry-for must be >= 0 and --timeout > 0")
    targets = _targets(args)
    results = run_all(targets, latency_ms=args.latency_ms, timeout=args.timeout)
    deadline = time.monotonic() + args.retry_for
    delay = 2.0
    while any(not r.ok for r in results) and time.monotonic() + delay <= deadline:
        failing = sum(not r.ok for r in results)
        print(f"chittyos-edge: {failing} check(s) failing; retrying in {delay:.0f} s", file=sys.stderr, flush=True)
        time.sleep(delay)
        delay = min(delay * 2, 15.0)
        results = [r if r.ok else _rerun(targets, r, args) for r in results]
    sys.stdout.write(render(results, args.stack, args.format))
    return EXIT_OK if all(r.ok for r in results) else EXIT_VIOLATIONS


def _rerun(targets: list[Target], failed: Result, args: argparse.Namespace) -> Result:
    target = next(t for t in targets if t.service == failed.service and t.base == failed.url)
    return run_check(target, SmokeCheck(failed.check), latency_ms=args.latency_ms, timeout=args.timeout)


def _targets(args: argparse.Namespace) -> list[Target]:
    from .stack import load, settings_of

    if args.url:
        parts = urlsplit(args.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--url {args.url!r}: give a base URL such as https://project-awareness-staging.chitty.cc "
                             "or http://127.0.0.1:8787")
        if args.backend or args.stdin:
            raise UsageError("--url replaces the hostnames of the outputs: drop --backend/--stdin, or drop --url")
        settings = settings_of(args.stack, args.project)
        keys = args.service or (list(settings.services) if len(settings.services) == 1 else None)
        if not keys or len(keys) != 1:
            raise UsageError(f"--url tests one service: add --service, one of {', '.join(sorted(settings.services))}")
        key = _known(keys[0], settings.services, args.stack)
        config = settings.services[key]
        return [Target(key, args.url.rstrip("/"), tuple(config.smoke), config.health_path)]
    view = load(args.stack, args.project, args)
    keys = args.service or list(view.settings.services)
    targets = []
    for key in keys:
        config, outputs = view.service(_known(key, view.settings.services, args.stack))
        for base in base_urls(config, outputs.hostnames):
            targets.append(Target(key, base, tuple(config.smoke), config.health_path))
    if not targets:
        raise UsageError(f"the {args.stack} stack's services serve no hostname to test; use --url")
    return targets


def _known(key: str, services: dict, stack: str) -> str:
    if key not in services:
        raise UsageError(f"--service {key!r} is not a service of the {stack} stack; choose one of: "
                         f"{', '.join(sorted(services)) or 'none'}")
    return key


def base_urls(config, hostnames: list[str]) -> list[str]:
    """https://<host> for a custom domain; https://<host>/<prefix> for a route `<host>/<prefix>/*`."""
    bases = []
    for host in hostnames:
        if host in config.custom_domains:
            bases.append(f"https://{host}")
            continue
        for route in config.routes:
            route_host, _, path = route.partition("/")
            if route_host == host and not host.startswith("*."):
                prefix = path.rstrip("*").strip("/")
                bases.append(f"https://{host}/{prefix}" if prefix else f"https://{host}")
    return list(dict.fromkeys(bases))


def run_all(targets: list[Target], *, latency_ms: int, timeout: float) -> list[Result]:
    return [run_check(t, check, latency_ms=latency_ms, timeout=timeout) for t in targets for check in t.checks]


def run_check(target: Target, check: SmokeCheck, *, latency_ms: int, timeout: float) -> Result:
    def result(ok: bool, detail: str, ms: int) -> Result:
        return Result(target.service, target.base, check.value, ok, detail, ms)

    base = target.base
    if check is SmokeCheck.WEBSOCKET:
        return result(*_websocket(base + "/ws", timeout=max(timeout, WEBSOCKET_TIMEOUT_S)))
    if check is SmokeCheck.HEALTH:
        status, body, ms, error = _http("GET", base + target.health_path, timeout=timeout)
        if error:
            return result(False, error, ms)
        document = _json(body)
        ok = status == 200 and isinstance(document, dict) and document.get("status") == "healthy"
        return result(ok, f"{status} {_snippet(body)}" if not ok else f"{status} healthy", ms)
    if check is SmokeCheck.INFO:
        status, body, ms, error = _http("GET", base + "/api/info", timeout=timeout)
        if error:
            return result(False, error, ms)
        document = _json(body)
        missing = [k for k in ("name", "version", "endpoints") if not isinstance(document, dict) or k not in document]
        if status != 200 or missing:
            return result(False, f"{status}, missing {', '.join(missing) or 'nothing'}: {_snippet(body)}", ms)
        return result(True, f"{status} {document['name']} {document['version']}", ms)
    if check is SmokeCheck.SUGGESTIONS:
        url = base + "/api/projects/suggestions?platform=claude-code&working_directory=%2Ftest"
        status, body, ms, error = _http("GET", url, timeout=timeout)
        if error:
            return result(False, error, ms)
        if status != 200:
            return result(False, f"{status} {_snippet(body)}", ms)
        if ms > latency_ms:
            return result(False, f"{status} in {ms} ms, over the {latency_ms} ms budget", ms)
        return result(True, f"{status} within {latency_ms} ms", ms)
    payload = ({"platform": "test", "session_id": "test123"} if check is SmokeCheck.SESSION_REGISTRATION
               else {"source_platform": "claude-code", "sync_type": "project_switch"})
    path = "/api/sessions/register" if check is SmokeCheck.SESSION_REGISTRATION else "/api/projects/sync"
    status, body, ms, error = _http("POST", base + path, payload, timeout=timeout)
    if error:
        return result(False, error, ms)
    return result(status == 200, f"{status}" if status == 200 else f"{status} {_snippet(body)}", ms)


def _http(method: str, url: str, payload: dict | None = None, *, timeout: float):
    """(status, body, elapsed ms, error or None): an HTTP error status is an answer, not an error."""
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"user-agent": USER_AGENT, "accept": "application/json"}
    if data is not None:
        headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(1 << 20)
            return response.status, body, _since(started), None
    except urllib.error.HTTPError as error:
        return error.code, error.read(1 << 20), _since(started), None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return 0, b"", _since(started), f"unreachable: {reason}"


def _websocket(url: str, *, timeout: float) -> tuple[bool, str, int]:
    from websockets.exceptions import InvalidHandshake, InvalidStatus
    from websockets.sync.client import connect

    ws_url = "ws" + url[len("http"):]  # http -> ws, https -> wss
    started = time.perf_counter()
    try:
        with connect(ws_url, open_timeout=timeout, close_timeout=2, user_agent_header=USER_AGENT):
            pass
    except InvalidStatus as error:
        return False, f"upgrade refused: HTTP {error.response.status_code}", _since(started)
    except (InvalidHandshake, OSError, TimeoutError) as error:
        return False, f"no WebSocket: {error}", _since(started)
    return True, "101 upgraded", _since(started)


def _since(started: float) -> int:
    return math.ceil((time.perf_counter() - started) * 1000)  # a started millisecond counts


def _json(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return None


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:120] + ("..." if len(text) > 120 else "") if text else "(empty body)"


def render(results: list[Result], stack: str, fmt: str) -> str:
    passed = sum(r.ok for r in results)
    summary = f"smoke of {stack}: {passed} of {len(results)} checks passed"
    if fmt == "json":
        return json.dumps({"stack": stack, "passed": passed == len(results),
                           "results": [asdict(r) for r in results]}, indent=2) + "\n"
    if fmt == "markdown":
        rows = [f"| {'pass' if r.ok else '**FAIL**'} | {r.service} | {r.url} | {r.check} | {r.ms} ms | "
                f"{r.detail.replace('|', '/')} |" for r in results]
        return "\n".join([f"### {summary}", "", "| result | service | url | check | time | detail |",
                          "| --- | --- | --- | --- | --- | --- |", *rows]) + "\n"
    lines = [f"{'PASS' if r.ok else 'FAIL'}  {r.service:<18} {r.check:<21} {r.url}  {r.detail} ({r.ms} ms)"
             for r in results]
    return "\n".join([*lines, summary]) + "\n"
