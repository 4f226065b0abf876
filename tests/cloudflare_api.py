"""Check planned resource inputs against the request types of Cloudflare's official Python SDK.

The `cloudflare` SDK (a test dependency) is generated from Cloudflare's OpenAPI schema: every endpoint's
request body is a TypedDict whose enums are `Literal`s (alert types, health-check and load-balancer
regions, ruleset phases and actions, zone setting values...). `check(type_token, inputs)` maps a v6
resource's camelCase inputs from the plan to the SDK's snake_case request params and walks them by
type: an unknown key, a value outside a Literal, a wrong scalar type or a missing required key is a
problem, reported with its path.

Pulumi's bridged names differ from the API's in known ways, handled here: list names are plural
(`healthCheckIds` for `health_check_id`, `ingresses` for `ingress`), and some inputs exist only in the
provider (`contentFile`, `contentSha256`): those are listed per resource type in PROVIDER_ONLY.
"""

from __future__ import annotations

import importlib
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from typing_extensions import is_typeddict


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def singular(name: str) -> list[str]:
    """Candidate API names for a bridged (pluralised) list name."""
    found = []
    if name.endswith("ies"):
        found.append(name[:-3] + "y")
    if name.endswith("ses") or name.endswith("xes"):
        found.append(name[:-2])
    if name.endswith("s"):
        found.append(name[:-1])
    if name.endswith("_bies"):
        found.append(name[:-4] + "by")
    return found


@dataclass(frozen=True)
class Target:
    """Where a resource type's inputs go in the SDK: module, params class, and what to leave out or nest."""

    module: str
    name: str
    provider_only: frozenset[str] = frozenset()
    into: str | None = None  # nest every input except `keep` under this key (multipart metadata)
    keep: frozenset[str] = frozenset()


T = Target
TARGETS: dict[str, Target] = {
    "cloudflare:index/ruleset:Ruleset": T("rulesets.ruleset_create_params", "RulesetCreateParams"),
    "cloudflare:index/zoneDnssec:ZoneDnssec": T("dns.dnssec_edit_params", "DNSSECEditParams"),
    "cloudflare:index/healthcheck:Healthcheck": T("healthchecks.healthcheck_create_params", "HealthcheckCreateParams"),
    "cloudflare:index/notificationPolicy:NotificationPolicy": T("alerting.policy_create_params", "PolicyCreateParams"),
    "cloudflare:index/notificationPolicyWebhooks:NotificationPolicyWebhooks": T(
        "alerting.destinations.webhook_create_params", "WebhookCreateParams"),
    "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor": T(
        "load_balancers.monitor_create_params", "MonitorCreateParams"),
    "cloudflare:index/loadBalancerPool:LoadBalancerPool": T("load_balancers.pool_update_params", "PoolUpdateParams"),
    "cloudflare:index/loadBalancer:LoadBalancer": T(
        "load_balancers.load_balancer_create_params", "LoadBalancerCreateParams"),
    "cloudflare:index/r2Bucket:R2Bucket": T("r2.bucket_create_params", "BucketCreateParams"),
    "cloudflare:index/r2BucketLifecycle:R2BucketLifecycle": T(
        "r2.buckets.lifecycle_update_params", "LifecycleUpdateParams", frozenset({"bucketName"})),
    "cloudflare:index/r2BucketCors:R2BucketCors": T(
        "r2.buckets.cors_update_params", "CORSUpdateParams", frozenset({"bucketName"})),
    "cloudflare:index/r2ManagedDomain:R2ManagedDomain": T(
        "r2.buckets.domains.managed_update_params", "ManagedUpdateParams", frozenset({"bucketName"})),
    "cloudflare:index/workersKvNamespace:WorkersKvNamespace": T("kv.namespace_create_params", "NamespaceCreateParams"),
    "cloudflare:index/queue:Queue": T("queues.queue_create_params", "QueueCreateParams"),
    "cloudflare:index/queueConsumer:QueueConsumer": T(
        "queues.consumer_create_params", "ConsumerCreateParams", frozenset({"queueId"})),
    "cloudflare:index/d1Database:D1Database": T("d1.database_create_params", "DatabaseCreateParams"),
    "cloudflare:index/workersCustomDomain:WorkersCustomDomain": T("workers.domain_update_params", "DomainUpdateParams"),
    "cloudflare:index/workersRoute:WorkersRoute": T("workers.route_create_params", "RouteCreateParams"),
    "cloudflare:index/workersCronTrigger:WorkersCronTrigger": T(
        "workers.scripts.schedule_update_params", "ScheduleUpdateParams", frozenset({"scriptName"})),
    "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain": T(
        "workers.scripts.subdomain_create_params", "SubdomainCreateParams", frozenset({"scriptName"})),
    "cloudflare:index/workersScript:WorkersScript": T(
        "workers.script_update_params", "ScriptUpdateParams",
        frozenset({"scriptName", "content", "contentFile", "contentSha256"}), into="metadata",
        keep=frozenset({"account_id"})),
    # Workers' split API (a Worker, its versions, a deployment), as WorkerService registers it.
    "cloudflare:index/worker:Worker": T("workers.beta.worker_create_params", "WorkerCreateParams"),
    "cloudflare:index/workerVersion:WorkerVersion": T(
        "workers.beta.workers.version_create_params", "VersionCreateParams",
        frozenset({"workerId", "modules[].contentFile", "modules[].contentSha256"})),
    "cloudflare:index/workersDeployment:WorkersDeployment": T(
        "workers.scripts.deployment_create_params", "DeploymentCreateParams", frozenset({"scriptName"})),
    "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared": T(
        "zero_trust.tunnels.cloudflared_create_params", "CloudflaredCreateParams"),
    "cloudflare:index/zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig": T(
        "zero_trust.tunnels.cloudflared.configuration_update_params", "ConfigurationUpdateParams",
        frozenset({"tunnelId", "source"})),
    "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication": T(
        "zero_trust.access.application_create_params", "ApplicationCreateParams"),
    "cloudflare:index/zeroTrustAccessPolicy:ZeroTrustAccessPolicy": T(
        "zero_trust.access.policy_create_params", "PolicyCreateParams"),
    "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken": T(
        "zero_trust.access.service_token_create_params", "ServiceTokenCreateParams"),
    "cloudflare:index/dnsRecord:DnsRecord": T("dns.record_create_params", "RecordCreateParams"),
}
ZONE_SETTING = "cloudflare:index/zoneSetting:ZoneSetting"


# Bridged names that are neither the camelCase nor the plural of the API's name.
RENAMES = {
    "jurisdiction": "cf-r2-jurisdiction",  # an HTTP header of the R2 API
    "location": "locationHint",
    "serviceAuth401Redirect": "service_auth_401_redirect",
    "schedules": "body",  # cron triggers: the request body is the list of schedules
    "hosts": "Host",  # load-balancer origin header
}


def params_type(target: Target) -> Any:
    module = importlib.import_module(f"cloudflare.types.{target.module}")
    return getattr(module, target.name)


@dataclass
class Walk:
    problems: list[str] = field(default_factory=list)

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- type structure ----------------------------------------------------------------------

    @staticmethod
    def fields(tp: Any) -> dict[str, tuple[Any, bool]]:
        """name -> (annotation, required) of a TypedDict or a pydantic model (wire names)."""
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return {(f.alias or name): (f.annotation, f.is_required()) for name, f in tp.model_fields.items()}
        hints = typing.get_type_hints(tp, include_extras=True)
        found = {}
        for name, annotation in hints.items():
            wire = name
            if typing.get_origin(annotation) is typing.Annotated:
                for meta in typing.get_args(annotation)[1:]:
                    alias = getattr(meta, "alias", None)
                    if alias:
                        wire = alias
            found[wire] = (annotation, name in getattr(tp, "__required_keys__", set()))
        return found

    @staticmethod
    def strip(tp: Any) -> Any:
        while True:
            origin = typing.get_origin(tp)
            if origin is typing.Annotated:
                tp = typing.get_args(tp)[0]
            elif origin in (typing_extensions_required(), typing_extensions_notrequired()):
                tp = typing.get_args(tp)[0]
            else:
                return tp

    def check(self, tp: Any, value: Any, path: str) -> None:
        tp = self.strip(tp)
        origin = typing.get_origin(tp)
        if tp is Any or tp is object:
            return
        if tp is type(None):
            if value is not None:
                self.fail(path, f"expected null, got {value!r}")
            return
        if origin in (typing.Union, types.UnionType):
            self.union(typing.get_args(tp), value, path)
            return
        if origin is typing.Literal:
            if value not in typing.get_args(tp):
                allowed = ", ".join(repr(v) for v in typing.get_args(tp)[:20])
                self.fail(path, f"{value!r} is not one of {allowed}")
            return
        if value is None:
            return
        if is_typeddict(tp) or (isinstance(tp, type) and issubclass(tp, BaseModel)):
            self.mapping(tp, value, path)
            return
        if origin in (dict, typing.Dict) or (isinstance(origin, type) and issubclass(origin, typing.Mapping)):
            if not isinstance(value, dict):
                self.fail(path, f"expected a mapping, got {value!r}")
                return
            _, item = typing.get_args(tp) or (str, Any)
            for key, inner in value.items():
                self.check(item, inner, f"{path}.{key}")
            return
        if origin in (list, tuple, set, typing.List) or (
                isinstance(origin, type) and issubclass(origin, typing.Iterable) and origin is not str):
            if not isinstance(value, list):
                self.fail(path, f"expected a list, got {value!r}")
                return
            args = typing.get_args(tp)
            for i, inner in enumerate(value):
                self.check(args[0] if args else Any, inner, f"{path}[{i}]")
            return
        if getattr(tp, "__name__", "") == "SequenceNotStr":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.fail(path, f"expected a list of strings, got {value!r}")
            return
        if tp is bool:
            if not isinstance(value, bool):
                self.fail(path, f"expected a boolean, got {value!r}")
        elif tp is int:
            if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
                self.fail(path, f"expected an integer, got {value!r}")
        elif tp is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(path, f"expected a number, got {value!r}")
        elif tp is str:
            if not isinstance(value, str):
                self.fail(path, f"expected a string, got {value!r}")

    def union(self, options: tuple[Any, ...], value: Any, path: str) -> None:
        failures = []
        for option in options:
            attempt = Walk()
            attempt.check(option, value, path)
            if not attempt.problems:
                return
            failures.append(attempt.problems)
        # Report the closest member: the one with the fewest problems.
        self.problems.extend(min(failures, key=len))

    def mapping(self, tp: Any, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {value!r}")
            return
        fields = self.fields(tp)
        seen = set()
        for key, inner in value.items():
            key_in = RENAMES.get(key, key)
            name = key_in if key_in in fields else snake(key_in)
            if name not in fields:
                name = next((c for c in singular(name) if c in fields), name)
            if name not in fields:
                self.fail(f"{path}.{key}", f"unknown field (valid: {', '.join(sorted(fields))})")
                continue
            seen.add(name)
            self.check(fields[name][0], inner, f"{path}.{key}")
        for name, (_, required) in fields.items():
            if required and name not in seen:
                self.fail(path, f"required field {name} is missing")


def typing_extensions_required() -> Any:
    import typing_extensions

    return typing.get_origin(typing_extensions.Required[int])


def typing_extensions_notrequired() -> Any:
    import typing_extensions

    return typing.get_origin(typing_extensions.NotRequired[int])


def check(type_token: str, inputs: dict[str, Any], where: str) -> list[str]:
    """Problems of one planned resource against Cloudflare's request types ([] when it conforms)."""
    if type_token == ZONE_SETTING:
        return check_zone_setting(inputs, where)
    target = TARGETS.get(type_token)
    if target is None:
        return [f"{where}: no Cloudflare request type is mapped for {type_token}; add it to tests/cloudflare_api.py"]
    body = {RENAMES.get(k, k): v for k, v in inputs.items() if k not in target.provider_only}
    # `<list>[].<key>`: a provider-only key of every item of a list input (a version's module files).
    for entry in target.provider_only:
        if "[]." in entry:
            name, key = entry.split("[].", 1)
            if isinstance(body.get(name), list):
                body[name] = [{k: v for k, v in item.items() if k != key} for item in body[name]]
    if target.into:
        body = {**{k: v for k, v in body.items() if snake(k) in target.keep},
                target.into: {k: v for k, v in body.items() if snake(k) not in target.keep}}
    walk = Walk()
    walk.check(params_type(target), body, where)
    return walk.problems


def zone_setting_models() -> dict[str, Any]:
    """setting id -> the SDK's model of that setting (its `value` annotation holds the allowed values)."""
    from cloudflare.types.zones import setting_get_response

    union = setting_get_response.SettingGetResponse
    models = {}
    for member in typing.get_args(union):
        member = Walk.strip(member)
        if not (isinstance(member, type) and issubclass(member, BaseModel)):
            continue
        annotation = member.model_fields.get("id")
        if annotation is None:
            continue
        for literal in _literals(annotation.annotation):
            models[literal] = member
    return models


def _literals(tp: Any) -> list[Any]:
    tp = Walk.strip(tp)
    if typing.get_origin(tp) is typing.Literal:
        return list(typing.get_args(tp))
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [v for arg in typing.get_args(tp) for v in _literals(arg)]
    return []


def check_zone_setting(inputs: dict[str, Any], where: str) -> list[str]:
    models = zone_setting_models()
    setting_id = inputs.get("settingId")
    model = models.get(setting_id)
    if model is None:
        return [f"{where}.settingId: {setting_id!r} is not a zone setting id (known: {', '.join(sorted(models))})"]
    walk = Walk()
    walk.check(model.model_fields["value"].annotation, inputs.get("value"), f"{where}.value")
    return walk.problems
