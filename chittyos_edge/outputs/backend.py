"""Read a stack's outputs from Pulumi's self-managed ("diy") backend in an S3-compatible bucket (R2).

The URL is the one given to `pulumi login`: `s3://<bucket>[/<prefix>]?endpoint=<url>&region=auto`.
The layout is Pulumi's (pkg/backend/diy): `<prefix>/.pulumi/meta.yaml` holds `version: 1` for the
project-scoped layout, where a stack's checkpoint is `.pulumi/stacks/<project>/<stack>.json`;
without that file (or with version 0) it is the legacy `.pulumi/stacks/<stack>.json`. A checkpoint
may be gzip-compressed (`.json.gz`). Its stack outputs are the `outputs` of the `pulumi:pulumi:Stack`
resource in `checkpoint.latest.resources`; secret values there are encrypted objects and are
printed as `[secret]`, never decrypted.

Credentials come from the usual AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`: for
R2, an R2 API token's S3 credentials) or `?profile=`, as for `pulumi login`.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from .errors import OutputsError
from .sources import REDACTED

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
STACK_TYPE = "pulumi:pulumi:Stack"
SUPPORTED_CHECKPOINT_VERSIONS = (1, 2, 3, 4)

_KNOWN_PARAMS = ("endpoint", "region", "profile", "s3ForcePathStyle", "awssdk")
_SUFFIXES = (".json", ".json.gz", ".json.zst")


@dataclass(frozen=True)
class BackendLocation:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None
    profile: str | None
    path_style: bool

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} at {self.endpoint}" if self.endpoint else where


def project_backend_url(project_root: Path) -> str:
    """The state backend the project declares (`backend.url` in its Pulumi.yaml), as pulumi uses it."""
    path = project_root / "Pulumi.yaml"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise OutputsError(f"--backend: cannot read the backend from {path}: {error}") from None
    url = (document.get("backend") or {}).get("url") if isinstance(document, dict) else None
    if not isinstance(url, str) or not url:
        raise OutputsError(f"--backend: {path} declares no backend.url; give the URL: --backend URL")
    return url


def parse_backend_url(url: str) -> BackendLocation:
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise OutputsError(f"--backend {url!r}: expected s3://<bucket>[/<prefix>]?endpoint=<url>&region=auto "
                           "(the URL given to `pulumi login`)")
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - set(_KNOWN_PARAMS))
    if unknown:
        raise OutputsError(f"--backend: unknown query parameter(s) {', '.join(unknown)}; "
                           f"known: {', '.join(_KNOWN_PARAMS)}")

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[-1] if values else None

    endpoint = one("endpoint")
    if endpoint and "://" not in endpoint:
        endpoint = f"https://{endpoint}"
    prefix = parts.path.strip("/")
    return BackendLocation(
        bucket=parts.netloc, prefix=f"{prefix}/" if prefix else "", endpoint=endpoint,
        region=one("region"), profile=one("profile"),
        # Custom endpoints (R2, MinIO, moto) serve path-style requests; AWS itself picks its default.
        path_style=(one("s3ForcePathStyle") or "").lower() == "true" or endpoint is not None)


def _client(location: BackendLocation):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=location.profile)
    except ProfileNotFound:
        raise OutputsError(f"--backend: AWS profile {location.profile!r} not found in ~/.aws/config") from None
    config = Config(s3={"addressing_style": "path" if location.path_style else "auto"},
                    retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    return session.client("s3", endpoint_url=location.endpoint, region_name=location.region or "auto",
                          config=config)


def _explain(error: Exception, location: BackendLocation, action: str) -> OutputsError:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    where = location.describe()
    if isinstance(error, NoCredentialsError):
        return OutputsError(f"no credentials to read {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                            "(for R2: the S3 credentials of an R2 API token) or add ?profile=<name>")
    if isinstance(error, EndpointConnectionError):
        return OutputsError(f"cannot reach the endpoint {location.endpoint or 'of AWS S3'} to read {where}; "
                            "check ?endpoint= (for R2: https://<account-id>.r2.cloudflarestorage.com)")
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in ("NoSuchBucket", "404", "NotFound"):
            return OutputsError(f"bucket {location.bucket!r} does not exist at {location.endpoint or 'AWS S3'}; "
                                "check the bucket name in --backend (the one given to `pulumi login`)")
        if code in ("AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return OutputsError(f"access denied while {action} in {where} ({code}); the credentials need "
                                "read access to the bucket")
        message = error.response.get("Error", {}).get("Message") or code
        return OutputsError(f"{action} in {where} failed: {message}")
    return OutputsError(f"{action} in {where} failed: {error}")


def read_stack_outputs(url: str, *, project: str, stack: str) -> tuple[dict[str, Any], str]:
    """The stack's outputs (secrets redacted) and a description of where they were read."""
    from botocore.exceptions import BotoCoreError, ClientError

    location = parse_backend_url(url)
    client = _client(location)
    try:
        client.head_bucket(Bucket=location.bucket)
        layout = _layout_version(client, location)
        base = (f".pulumi/stacks/{project}/{stack}" if layout >= 1 else f".pulumi/stacks/{stack}")
        key, body = _read_first(client, location, [f"{location.prefix}{base}{suffix}" for suffix in _SUFFIXES])
        if key is None:
            stacks = _list_stacks(client, location)
            raise OutputsError(
                f"no checkpoint for stack {stack!r} of project {project!r} in {location.describe()} "
                f"(looked for {location.prefix}{base}.json[.gz]); stacks there: {', '.join(stacks) or 'none'}")
    except (ClientError, BotoCoreError) as error:
        raise _explain(error, location, "reading the checkpoint") from None
    origin = f"s3://{location.bucket}/{key}"
    outputs = stack_outputs_of(_decode(body, key, origin), origin)
    return outputs, origin


def _layout_version(client, location: BackendLocation) -> int:
    key = f"{location.prefix}.pulumi/meta.yaml"
    _, body = _read_first(client, location, [key])
    if body is None:
        return 0
    try:
        meta = yaml.safe_load(body) or {}
        version = meta["version"]
    except (yaml.YAMLError, TypeError, KeyError):
        raise OutputsError(f"s3://{location.bucket}/{key} is malformed: expected 'version: <n>'") from None
    if not isinstance(version, int) or version not in (0, 1):
        raise OutputsError(f"s3://{location.bucket}/{key}: state layout version {version!r} is not supported "
                           "(known: 0 legacy, 1 project-scoped)")
    return version


def _read_first(client, location: BackendLocation, keys: list[str]) -> tuple[str | None, bytes | None]:
    from botocore.exceptions import ClientError

    for key in keys:
        try:
            return key, client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) not in ("NoSuchKey", "404", "NotFound"):
                raise
    return None, None


def _list_stacks(client, location: BackendLocation) -> list[str]:
    prefix = f"{location.prefix}.pulumi/stacks/"
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix):]
            for suffix in _SUFFIXES:
                if name.endswith(suffix):
                    names.append(name[: -len(suffix)])
    return sorted(set(names))


def _decode(body: bytes, key: str, origin: str) -> Any:
    if key.endswith(".zst"):
        raise OutputsError(f"{origin} is zstd-compressed, which this tool does not read; "
                           "use PULUMI_DIY_BACKEND_GZIP=true (gzip) or no compression for the backend")
    try:
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        return json.loads(body)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OutputsError(f"malformed checkpoint {origin}: not {'gzip-compressed ' if key.endswith('.gz') else ''}"
                           f"JSON ({error}); restore it from .pulumi/backups/ or `pulumi stack import`") from None


def stack_outputs_of(document: Any, origin: str) -> dict[str, Any]:
    """The `outputs` of the stack resource of a checkpoint document, secrets redacted."""

    def malformed(reason: str) -> OutputsError:
        return OutputsError(f"malformed checkpoint {origin}: {reason}")

    if not isinstance(document, dict) or not isinstance(document.get("checkpoint"), dict):
        raise malformed("expected {\"version\": 3, \"checkpoint\": {...}} as `pulumi stack export` writes")
    version = document.get("version")
    if version not in SUPPORTED_CHECKPOINT_VERSIONS:
        raise malformed(f"checkpoint version {version!r} is not one of {SUPPORTED_CHECKPOINT_VERSIONS}")
    latest = document["checkpoint"].get("latest")
    if latest is None:
        raise OutputsError(f"{origin}: the stack has no deployment yet; run `pulumi up` first")
    if not isinstance(latest, dict) or not isinstance(latest.get("resources") or [], list):
        raise malformed("checkpoint.latest.resources is not a list")
    stacks = [r for r in latest.get("resources") or [] if isinstance(r, dict) and r.get("type") == STACK_TYPE]
    if not stacks:
        raise OutputsError(f"{origin}: the checkpoint holds no {STACK_TYPE} resource, so no outputs; "
                           "run `pulumi up` first")
    outputs = stacks[0].get("outputs") or {}
    if not isinstance(outputs, dict):
        raise malformed("the stack resource's outputs are not an object")
    return redact(outputs)


def redact(value: Any) -> Any:
    """Replace every secret (an object tagged with Pulumi's secret signature) with `[secret]`."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            return REDACTED
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value
