"""Start the policy pack the way the Pulumi CLI does and talk to it over the Analyzer protocol.

The CLI runs `python -u -m pulumi.policy <engine> .` in the pack's folder (which runs its
`__main__.py`), reads the gRPC port from the first line
of its stdout, then calls GetAnalyzerInfo, ConfigureStack, Configure (the reconciled policy
config), Analyze (each resource's inputs) and AnalyzeStack (every resource's outputs, with
parents and dependencies). This client does exactly that, with properties marshalled as the
engine marshals them: secrets wrapped in the secret signature, unknowns as the unknown sentinel.

One pack process serves a whole gate run (Configure is sent again per stack); it is stopped on
exit, also on error.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policies.chittyos_guard._rule import KEY_TAG

UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
START_TIMEOUT = 60.0
CALL_TIMEOUT = 120.0
# Analyze calls in flight at once: enough to keep the pack's 4 server threads busy while this
# process marshals the next requests, few enough that its queue never grows with the stack.
ANALYZE_WINDOW = 8
ENGINE_ADDRESS = "127.0.0.1:0"  # no engine: the gate plays its part
LEVELS = {0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate"}
LEVEL_CODES = {name: code for code, name in LEVELS.items()}
SEVERITIES = {0: "unspecified", 1: "low", 2: "medium", 3: "high", 4: "critical"}
_PATH_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


class PackError(Exception):
    """The policy pack could not be started or failed to answer: one line, exit 2."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement: str
    severity: str
    remediation: str
    tags: tuple[str, ...]
    checklist: str
    kind: str  # "resource" or "stack"
    config_schema: dict[str, Any]
    required: tuple[str, ...]

    @property
    def rule_id(self) -> str:
        return self.tags[0] if self.tags else self.name

    @property
    def keys(self) -> tuple[str, ...]:
        """The stack-file keys the rule's fix changes (its `key:<path>` tags, see policies/chittyos_guard/_rule.py)."""
        return tuple(tag[len(KEY_TAG):] for tag in self.tags if tag.startswith(KEY_TAG))


@dataclass(frozen=True)
class Diagnostic:
    policy: str
    message: str
    enforcement: str
    urn: str


# ---- marshalling ---------------------------------------------------------------------------

def _path_tokens(path: str) -> list[str | int]:
    return [int(index) if index else key for index, key in _PATH_TOKEN.findall(path)]


def _mark_unknowns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _mark_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_unknowns(v) for v in value]
    return UNKNOWN_STRING if value == "[unknown]" else value


def marshal(properties: dict[str, Any], secret_paths: list[str]) -> Any:
    """A google.protobuf Struct as the engine sends it (KeepSecrets, KeepUnknowns)."""
    from google.protobuf import struct_pb2

    value = _mark_unknowns(properties)
    wrapped: list[list[str | int]] = []
    for path in sorted(set(secret_paths), key=len):
        tokens = _path_tokens(path)
        if not tokens or any(tokens[:len(w)] == w for w in wrapped):
            continue
        node: Any = value
        try:
            for token in tokens[:-1]:
                node = node[token]
            last = tokens[-1]
            node[last] = {SECRET_SIG_KEY: SECRET_SIG, "value": node[last]}
        except (KeyError, IndexError, TypeError):
            continue
        wrapped.append(tokens)
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def _options(record: dict[str, Any]) -> Any:
    from pulumi.runtime.proto import analyzer_pb2

    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(record.get("protect")),
        deleteBeforeReplace=bool(record.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=bool(record.get("deleteBeforeReplace")),
        parent=record.get("parent") or "",
    )


# ---- the pack process ----------------------------------------------------------------------

class PolicyPackProcess:
    """`with PolicyPackProcess(project, stack) as pack:` starts the pack; leaving stops it.

    `pack_dir` defaults to the `policies/` folder of the project the working directory is in.
    """

    def __init__(self, project: str, stack: str, pack_dir: Path | None = None, python: str = sys.executable):
        if pack_dir is None:
            from ..project import Project

            pack_dir = Project.discover().policies_dir
        self.pack_dir = pack_dir
        self.project = project
        self.stack = stack
        self.python = python
        self._proc: subprocess.Popen | None = None
        self._stderr = None
        self._channel = None
        self.stub = None
        self._info: Any = None

    # Start in two halves so the caller can plan while the pack boots.
    def launch(self) -> "PolicyPackProcess":
        main = self.pack_dir / "__main__.py"
        if not main.is_file() or not (self.pack_dir / "PulumiPolicy.yaml").is_file():
            raise PackError(f"no policy pack at {self.pack_dir} (expected PulumiPolicy.yaml and __main__.py)")
        env = dict(os.environ, PULUMI_PROJECT=self.project, PULUMI_STACK=self.stack, PULUMI_DRY_RUN="true",
                   PULUMI_ORGANIZATION="organization", PYTHONDONTWRITEBYTECODE=os.environ.get(
                       "PYTHONDONTWRITEBYTECODE", ""))
        env.pop("PULUMI_CONFIG", None)
        self._stderr = tempfile.TemporaryFile()
        # Exactly what the CLI's `pulumi-analyzer-policy-python` runs, in the pack's folder: the
        # engine address is not used by the pack, `.` is run as a program (its __main__.py).
        command = [self.python, "-u", "-m", "pulumi.policy", ENGINE_ADDRESS, "."]
        self._proc = subprocess.Popen(command, cwd=self.pack_dir, env=env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr)
        return self

    def connect(self, timeout: float = START_TIMEOUT) -> "PolicyPackProcess":
        import grpc
        from pulumi.runtime.proto import analyzer_pb2_grpc

        assert self._proc and self._proc.stdout
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PackError(f"the policy pack did not report its port within {timeout:.0f} s")
            ready, _, _ = select.select([self._proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self._proc.stdout.fileno(), 64)
                if not chunk:
                    raise PackError(f"the policy pack failed to start: {self._last_error()}")
                line += chunk
        try:
            port = int(line.strip().splitlines()[0])
        except ValueError:
            raise PackError(f"the policy pack printed {line.strip()[:80]!r} instead of its port") from None
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}",
                                              options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
        try:
            grpc.channel_ready_future(self._channel).result(timeout=max(1.0, deadline - time.monotonic()))
        except grpc.FutureTimeoutError:
            raise PackError(f"the policy pack's port {port} did not accept a connection") from None
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        return self

    def __enter__(self) -> "PolicyPackProcess":
        if self._proc is None:
            self.launch()
        if self.stub is None:
            try:
                self.connect()
            except BaseException:
                self.close()
                raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            if self._proc.stdout:
                self._proc.stdout.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _last_error(self) -> str:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        text = b""
        if self._stderr is not None:
            self._stderr.seek(0)
            text = self._stderr.read()
        lines = [l for l in text.decode(errors="replace").splitlines() if l.strip()]
        return lines[-1].strip() if lines else f"exit status {self._proc.returncode if self._proc else '?'}"

    def _call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return getattr(self.stub, method)(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as error:
            detail = error.details() if hasattr(error, "details") else str(error)
            raise PackError(f"the policy pack failed in {method}: {(detail or '').splitlines()[-1:] or error}") from None

    # ---- the Analyzer protocol ----

    def info(self) -> tuple[str, str, list[PolicyInfo]]:
        """(pack name, version, policies) from GetAnalyzerInfo."""
        from google.protobuf import empty_pb2, json_format

        if self._info is None:
            self._info = self._call("GetAnalyzerInfo", empty_pb2.Empty())
        info = self._info
        policies = []
        version = self.pack_version() or info.version
        for p in info.policies:
            schema = json_format.MessageToDict(p.configSchema.properties) if p.HasField("configSchema") else {}
            policies.append(PolicyInfo(
                name=p.name, description=p.description, enforcement=LEVELS.get(p.enforcementLevel, "advisory"),
                severity=SEVERITIES.get(p.severity, "unspecified"), remediation=p.remediation_steps,
                tags=tuple(p.tags), checklist=p.framework.reference if p.HasField("framework") else "",
                kind="stack" if p.policy_type == 2 else "resource", config_schema=schema,
                required=tuple(p.configSchema.required) if p.HasField("configSchema") else ()))
        return info.name, version, policies

    def pack_version(self) -> str:
        """The version in PulumiPolicy.yaml, which the CLI uses over the pack's own (always 0.0.1 in Python)."""
        import yaml

        try:
            document = yaml.safe_load((self.pack_dir / "PulumiPolicy.yaml").read_text()) or {}
        except (OSError, yaml.YAMLError):
            return ""
        return str(document.get("version") or "")

    def configure(self, stack: str, project: str, policy_config: dict[str, tuple[str, dict[str, Any]]]) -> None:
        from google.protobuf import struct_pb2
        from pulumi.runtime.proto import analyzer_pb2

        self._call("ConfigureStack", analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=stack, project=project, organization="organization", dry_run=True))
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, (level, properties) in policy_config.items():
            props = struct_pb2.Struct()
            props.update(properties or {})
            request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(
                enforcementLevel=LEVEL_CODES[level], properties=props))
        self._call("Configure", request)

    def analyze(self, record: dict[str, Any]) -> list[Diagnostic]:
        return self.analyze_each([record])

    def analyze_each(self, records: list[dict[str, Any]]) -> list[Diagnostic]:
        """Analyze every resource (its inputs), as the engine does at each registration.

        At most ANALYZE_WINDOW calls are in flight (the engine also analyzes resources concurrently,
        a few at a time): the pack's gRPC server cancels requests once thousands are pending, so
        starting them all at once fails big stacks at random. Results keep the records' order."""
        from pulumi.runtime.proto import analyzer_pb2

        def start(record: dict[str, Any]) -> tuple[str, Any]:
            return record["urn"], self.stub.Analyze.future(analyzer_pb2.AnalyzeRequest(
                type=record["type"], urn=record["urn"], name=record["name"],
                properties=marshal(record["inputs"], record.get("secretInputs") or []),
                options=_options(record)), timeout=CALL_TIMEOUT)

        diagnostics: list[Diagnostic] = []
        in_flight: deque[tuple[str, Any]] = deque()
        try:
            for record in records:
                in_flight.append(start(record))
                if len(in_flight) >= ANALYZE_WINDOW:
                    diagnostics += self._analyzed(*in_flight.popleft())
            while in_flight:
                diagnostics += self._analyzed(*in_flight.popleft())
        finally:
            for _, future in in_flight:  # only after a failure: nothing is left to wait for
                future.cancel()
        return diagnostics

    def _analyzed(self, urn: str, future: Any) -> list[Diagnostic]:
        import grpc

        try:
            response = future.result()
        except grpc.RpcError as error:
            detail = (error.details() if hasattr(error, "details") else "") or str(error)
            raise PackError(f"the policy pack failed in Analyze of {urn}: {detail.splitlines()[-1]}") from None
        return [self._diagnostic(d, urn) for d in response.diagnostics]

    def analyze_stack(self, records: list[dict[str, Any]]) -> list[Diagnostic]:
        from pulumi.runtime.proto import analyzer_pb2

        request = analyzer_pb2.AnalyzeStackRequest()
        for record in records:
            resource = request.resources.add(
                type=record["type"], urn=record["urn"], name=record["name"],
                properties=marshal(record.get("outputs", record["inputs"]),
                                   record.get("secretOutputs", record.get("secretInputs")) or []),
                options=_options(record), parent=record.get("parent") or "",
                dependencies=record.get("dependencies") or [])
            for key, urns in (record.get("propertyDependencies") or {}).items():
                if urns:
                    resource.propertyDependencies[key].urns.extend(urns)
        response = self._call("AnalyzeStack", request)
        return [self._diagnostic(d, "") for d in response.diagnostics]

    @staticmethod
    def _diagnostic(d: Any, urn: str) -> Diagnostic:
        message = d.message
        if message.startswith(d.description):
            message = message[len(d.description):].lstrip("\n")
        return Diagnostic(policy=d.policyName, message=message or d.description,
                          enforcement=LEVELS.get(d.enforcementLevel, "advisory"), urn=d.urn or urn)
