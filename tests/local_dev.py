"""`chittyos-edge dev` started once per service per test session (wrangler start costs seconds).

The servers run what `dev` runs (`chittyos_edge.ops.dev.prepare`: the generated wrangler config, the
D1 migrations applied, `wrangler dev --local` on loopback), built from the session's staging plan
instead of planning again in a new process. Readiness is read from wrangler's own "Ready on
http://..." line, so nothing polls or sleeps; each process group is stopped at the end.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DevServer:
    def __init__(self, view, service: str, state_dir: Path, bundle: str | None = None):
        from chittyos_edge.ops.dev import prepare

        self.service = service
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self._ready = threading.Event()
        command, workdir = prepare(view, service, state_dir, port=self.port, bundle=bundle)
        self.process = subprocess.Popen(
            command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, start_new_session=True,
            env=dict(os.environ, WRANGLER_SEND_METRICS="false", NO_COLOR="1", XDG_CONFIG_HOME=str(state_dir / "xdg")))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            if "Ready on http" in line:
                self._ready.set()
        self._ready.set()  # the process ended: wake the waiter, which sees it is not running

    def wait_ready(self) -> None:
        self._ready.wait(START_TIMEOUT)
        if self.process.poll() is not None or not any("Ready on http" in line for line in self.lines):
            raise AssertionError(f"chittyos-edge dev {self.service} did not start:\n{self.log[-4000:]}")

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def request(self, path: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self._reader.join(timeout=5)
