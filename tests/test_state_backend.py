"""`chittyos-edge outputs --backend s3://...`: a stack's outputs from its checkpoint in an S3-compatible bucket.

moto's S3 server stands in for R2's S3 API, on 127.0.0.1. The checkpoints are laid out as Pulumi's
self-managed backend writes them (pkg/backend/diy): `.pulumi/meta.yaml` (`version: 1`) and
`.pulumi/stacks/<project>/<stack>.json`, or the legacy `.pulumi/stacks/<stack>.json`, holding
`{"version": 3, "checkpoint": {..., "latest": {"resources": [...]}}}` with the stack outputs on the
`pulumi:pulumi:Stack` resource and secrets as encrypted, signature-tagged objects.
"""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chittyos_edge import PROJECT, cli
from chittyos_edge.outputs import OutputsError, from_backend
from chittyos_edge.outputs.backend import SECRET_SIG, SECRET_SIG_KEY, parse_backend_url

BUCKET = "chittyos-pulumi-state"
CIPHERTEXT = "v1:Zm9vYmFyYmF6:c2VjcmV0LXRva2VuLWNpcGhlcnRleHQ="


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "r2-access-key-id")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "r2-secret-access-key")
        yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="r2-access-key-id", aws_secret_access_key="r2-secret-access-key")
    client.create_bucket(Bucket=BUCKET)
    return client


def checkpoint(plan: dict, *, stack_ref: str, secret: bool = True) -> dict:
    """The checkpoint `pulumi up` would leave for this plan: resources with ids, outputs on the stack."""
    outputs = dict(plan["outputs"])
    if secret:
        outputs["tunnelToken"] = {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": CIPHERTEXT}
    resources = []
    for record in plan["resources"]:
        entry = {"urn": record["urn"], "custom": record["custom"], "type": record["type"],
                 "inputs": record["inputs"], "outputs": record["inputs"] if record["custom"] else {}}
        if record["custom"]:
            entry["id"] = record["urn"].rsplit("::", 1)[-1]
        if record["parent"]:
            entry["parent"] = record["parent"]
        if record["protect"]:
            entry["protect"] = True
        if record["type"] == "pulumi:pulumi:Stack":
            entry["outputs"] = outputs
        resources.append(entry)
    return {"version": 3, "checkpoint": {
        "stack": stack_ref,
        "latest": {
            "manifest": {"time": "2025-01-15T10:00:00Z", "magic": "0" * 64, "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:c2FsdA==:v1:aXY=:Y3Q="}},
            "resources": resources,
        },
    }}


def put(s3, key: str, body: bytes | str) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode() if isinstance(body, str) else body)


def url(endpoint: str, prefix: str = "", bucket: str = BUCKET) -> str:
    return f"s3://{bucket}{'/' + prefix if prefix else ''}?endpoint={endpoint}&region=auto"


@pytest.fixture(scope="module")
def backend(s3, s3_endpoint, production, staging):
    """Prefix `project/`: project-scoped layout with both stacks. Prefix `legacy/`: the pre-project layout."""
    put(s3, "project/.pulumi/meta.yaml", "version: 1\n")
    put(s3, f"project/.pulumi/stacks/{PROJECT}/production.json",
        json.dumps(checkpoint(production, stack_ref=f"organization/{PROJECT}/production")))
    put(s3, f"project/.pulumi/stacks/{PROJECT}/staging.json.gz",
        gzip.compress(json.dumps(checkpoint(staging, stack_ref=f"organization/{PROJECT}/staging")).encode()))
    put(s3, "legacy/.pulumi/stacks/production.json", json.dumps(checkpoint(production, stack_ref="production")))
    return s3_endpoint


def test_reads_outputs_from_the_project_layout(backend, production):
    outputs = from_backend(url(backend, "project"), stack="production")
    assert outputs.services["chittyconnect"].kv_namespaces["IDEMP_KV"] == "ea43bc974b894701a069e4804be765ba"
    assert outputs.services["chittyconnect"].d1_databases["DB"].id == "39f76706-5d67-401f-b1bf-9a212de4da0b"
    assert outputs.tunnel.access_aud == production["outputs"]["tunnel"]["accessAud"]
    assert outputs.tunnel_token == "[secret]"


def test_reads_gzip_and_legacy_checkpoints(backend, staging):
    assert from_backend(url(backend, "project"), stack="staging").services["chittyconnect"].script_name == \
        "chittyconnect-staging"
    assert from_backend(url(backend, "legacy"), stack="production").environment.value == "production"


def test_cli_prints_outputs_with_secrets_redacted(backend, capsys):
    assert cli.main(["outputs", "--backend", url(backend, "project"), "--stack", "production", "--format", "env"]) == 0
    out = capsys.readouterr().out
    assert "CHITTYCONNECT_QUEUE_GITHUB_EVENTS_NAME=github-events\n" in out
    assert "# TUNNEL_TOKEN left out: a secret the source did not reveal" in out   # never exported as '[secret]'
    assert "TUNNEL_TOKEN=" not in out and "[secret" not in out.replace("# TUNNEL_TOKEN left out", "")
    assert CIPHERTEXT not in out and SECRET_SIG not in out
    assert cli.main(["outputs", "--backend", url(backend, "project"), "--stack", "production", "--format", "wrangler",
                     "--service", "chittyconnect"]) == 0
    out, err = capsys.readouterr()
    assert 'id = "ea43bc974b894701a069e4804be765ba"' in out and "stand-in" not in out + err   # real state


def test_the_backend_is_the_default_source_named_by_pulumi_backend_url(backend, capsys, monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", url(backend, "project"))
    monkeypatch.setenv("PULUMI_STACK", "production")
    assert cli.main(["outputs", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["environment"] == "production" and "standIns" not in document


@pytest.mark.parametrize("arguments, message", [
    (lambda e: [url(e, bucket="no-such-bucket"), "production"], "bucket 'no-such-bucket' does not exist"),
    (lambda e: [url(e, "empty"), "production"],
     "no checkpoint for stack 'production' of project 'chittyos-edge' in s3://chittyos-pulumi-state/empty"),
    (lambda e: [url(e, "legacy"), "staging"], "stacks there: production"),
    (lambda e: [url(e, "broken-json"), "production"], "malformed checkpoint s3://chittyos-pulumi-state/broken-json/"),
    (lambda e: [url(e, "broken-shape"), "production"], "malformed checkpoint"),
    (lambda e: [url(e, "broken-gzip"), "production"], "not gzip-compressed JSON"),
    (lambda e: [url(e, "never-deployed"), "production"], "the stack has no deployment yet; run `pulumi up` first"),
    (lambda e: [url(e, "other-program"), "production"], "no 'contractVersion' output"),
    (lambda e: [url(e, "bad-meta"), "production"], "state layout version 7 is not supported"),
    (lambda e: ["s3://?endpoint=x", "production"], "expected s3://<bucket>"),
    (lambda e: [url(e, "project") + "&acl=private", "production"], "unknown query parameter(s) acl"),
    (lambda e: ["s3://some-bucket?endpoint=http://127.0.0.1:9&region=auto", "production"], "cannot reach the endpoint"),
])
def test_bad_backends_give_one_clear_line(backend, s3, capsys, arguments, message):
    put(s3, "broken-json/.pulumi/stacks/production.json", '{"version": 3, "checkpoint": ')
    put(s3, "broken-shape/.pulumi/stacks/production.json", '{"version": 3, "checkpoint": []}')
    put(s3, "broken-gzip/.pulumi/stacks/production.json.gz", b"not gzip at all")
    put(s3, "never-deployed/.pulumi/stacks/production.json",
        json.dumps({"version": 3, "checkpoint": {"stack": "production", "latest": None}}))
    put(s3, "other-program/.pulumi/stacks/production.json", json.dumps({"version": 3, "checkpoint": {
        "stack": "production", "latest": {"resources": [
            {"urn": "urn:pulumi:production::other::pulumi:pulumi:Stack::other-production", "custom": False,
             "type": "pulumi:pulumi:Stack", "outputs": {"bucketName": "x"}}]}}}))
    put(s3, "bad-meta/.pulumi/meta.yaml", "version: 7\n")
    backend_url, stack = arguments(backend)
    assert cli.main(["outputs", "--backend", backend_url, "--stack", stack]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("chittyos-edge: error: "), captured.err
    assert message in lines[0], lines[0]


def test_missing_credentials_are_explained(backend, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(OutputsError, match="no credentials .* set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        from_backend(url(backend, "project"), stack="production")


def test_backend_url_is_the_pulumi_login_url():
    location = parse_backend_url("s3://state/team/edge?endpoint=abc123.r2.cloudflarestorage.com&region=auto")
    assert (location.bucket, location.prefix, location.region) == ("state", "team/edge/", "auto")
    assert location.endpoint == "https://abc123.r2.cloudflarestorage.com" and location.path_style


def test_the_default_backend_is_the_one_pulumi_yaml_names(monkeypatch, capsys):
    import yaml

    from chittyos_edge.outputs import sources

    seen = {}

    def read(url: str, *, stack: str):
        seen.update(url=url, stack=stack)
        raise OutputsError("stop here")

    monkeypatch.setattr(sources, "from_backend", read)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    code = cli.main(["outputs", "--stack", "production"])
    assert code == 2 and "stop here" in capsys.readouterr().err
    declared = yaml.safe_load((Path(__file__).resolve().parents[1] / "Pulumi.yaml").read_text())["backend"]["url"]
    assert seen == {"url": declared, "stack": "production"}
    assert parse_backend_url(declared).bucket == BUCKET
