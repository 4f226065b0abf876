"""Which input changes make Pulumi replace a resource (delete and create it) instead of updating it.

pulumi-cloudflare v6 is bridged from terraform-provider-cloudflare v5, whose resources are built on
the Terraform Plugin Framework. Its Pulumi schema carries no `replaceOnChanges`: at preview the
bridge asks the upstream provider's plan, and the upstream schema marks force-new attributes with
the `RequiresReplace()` and `RequiresReplaceIfConfigured()` plan modifiers. The table below lists
those attributes, as Pulumi input names, for every resource type this program registers. It was
read from `internal/services/<resource>/schema.go` of terraform-provider-cloudflare v5.19.1 (the
upstream of pulumi-cloudflare 6.17) and v5.22.0, which agree for every type here. Computed-only
attributes (`id`) are left out: the program never sets them. The Pulumi dynamic resource that
applies D1 migrations declares its own replacements in `diff()`
(components/d1_migration_runner.py).

Limits (also in the README): the table is re-checked by hand when the provider pin moves (a test
fails when the program registers a type that is not listed); "if configured" means a change to a
value the program sets; and a provider can still replace for reasons outside its schema (an API
error on update), which no offline view can see.
"""

from __future__ import annotations

from typing import Any

ALWAYS = "always"
IF_CONFIGURED = "if configured"

_CF = "cloudflare:index/"

REPLACE_ON_CHANGES: dict[str, dict[str, str]] = {
    f"{_CF}workersKvNamespace:WorkersKvNamespace": {"accountId": ALWAYS},
    f"{_CF}r2Bucket:R2Bucket": {"accountId": ALWAYS, "name": ALWAYS, "location": IF_CONFIGURED},
    f"{_CF}d1Database:D1Database": {"accountId": ALWAYS, "name": ALWAYS, "jurisdiction": ALWAYS,
                                     "primaryLocationHint": ALWAYS},
    f"{_CF}queue:Queue": {"accountId": ALWAYS},
    f"{_CF}queueConsumer:QueueConsumer": {"accountId": ALWAYS, "queueId": ALWAYS},
    f"{_CF}workersScript:WorkersScript": {"accountId": ALWAYS, "scriptName": ALWAYS},
    # Workers' split API. A version is immutable: every input the program sets forces a new one
    # (worker_version/schema.go marks each RequiresReplace); a deployment is a new record per change.
    f"{_CF}worker:Worker": {"accountId": ALWAYS},
    f"{_CF}workerVersion:WorkerVersion": {key: ALWAYS for key in (
        "accountId", "workerId", "bindings", "compatibilityDate", "compatibilityFlags", "limits", "mainModule",
        "migrations", "modules", "placement")},
    f"{_CF}workersDeployment:WorkersDeployment": {key: ALWAYS for key in (
        "accountId", "scriptName", "strategy", "versions")},
    f"{_CF}workersCustomDomain:WorkersCustomDomain": {
        "accountId": ALWAYS, "hostname": ALWAYS, "service": ALWAYS, "environment": ALWAYS, "zoneId": ALWAYS,
        "zoneName": ALWAYS},
    f"{_CF}workersRoute:WorkersRoute": {"zoneId": ALWAYS},
    f"{_CF}workersCronTrigger:WorkersCronTrigger": {"accountId": ALWAYS, "scriptName": ALWAYS},
    f"{_CF}workersScriptSubdomain:WorkersScriptSubdomain": {"accountId": ALWAYS, "scriptName": ALWAYS},
    f"{_CF}r2BucketCors:R2BucketCors": {"accountId": ALWAYS, "bucketName": ALWAYS},
    f"{_CF}r2BucketLifecycle:R2BucketLifecycle": {"accountId": ALWAYS, "bucketName": ALWAYS},
    f"{_CF}r2ManagedDomain:R2ManagedDomain": {"accountId": ALWAYS, "bucketName": ALWAYS},
    f"{_CF}ruleset:Ruleset": {"accountId": ALWAYS, "zoneId": ALWAYS, "kind": ALWAYS, "name": ALWAYS,
                              "phase": ALWAYS},
    f"{_CF}zoneDnssec:ZoneDnssec": {"zoneId": ALWAYS},
    f"{_CF}zoneSetting:ZoneSetting": {"settingId": ALWAYS, "zoneId": ALWAYS},
    f"{_CF}loadBalancer:LoadBalancer": {"zoneId": ALWAYS},
    f"{_CF}loadBalancerMonitor:LoadBalancerMonitor": {"accountId": ALWAYS},
    f"{_CF}loadBalancerPool:LoadBalancerPool": {"accountId": ALWAYS},
    f"{_CF}healthcheck:Healthcheck": {"zoneId": ALWAYS},
    f"{_CF}notificationPolicy:NotificationPolicy": {"accountId": ALWAYS},
    f"{_CF}notificationPolicyWebhooks:NotificationPolicyWebhooks": {"accountId": ALWAYS},
    f"{_CF}dnsRecord:DnsRecord": {"zoneId": ALWAYS, "type": ALWAYS},
    f"{_CF}zeroTrustAccessApplication:ZeroTrustAccessApplication": {"accountId": ALWAYS, "zoneId": ALWAYS},
    f"{_CF}zeroTrustAccessPolicy:ZeroTrustAccessPolicy": {"accountId": ALWAYS},
    f"{_CF}zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken": {"accountId": ALWAYS, "zoneId": ALWAYS},
    f"{_CF}zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared": {"accountId": ALWAYS,
                                                                     "configSrc": IF_CONFIGURED},
    f"{_CF}zeroTrustTunnelCloudflaredConfig:ZeroTrustTunnelCloudflaredConfig": {"accountId": ALWAYS,
                                                                                 "tunnelId": ALWAYS},
    "pulumi-python:dynamic/d1:Migrations": {"accountId": ALWAYS, "databaseId": ALWAYS},
    # components/worker_secrets.py declares its replacements in `diff()` the same way.
    "pulumi-python:dynamic/workers:Secrets": {"accountId": ALWAYS, "scriptName": ALWAYS},
}


def known(type_token: str) -> bool:
    return type_token in REPLACE_ON_CHANGES


def forcing(type_token: str, changed: list[str], new_inputs: dict[str, Any]) -> list[str]:
    """The changed input paths that force a replacement of a resource of this type."""
    table = REPLACE_ON_CHANGES.get(type_token, {})
    forced = []
    for path in changed:
        top = path.split(".", 1)[0].split("[", 1)[0]
        mode = table.get(top)
        if mode == ALWAYS or (mode == IF_CONFIGURED and new_inputs.get(top) is not None):
            forced.append(path)
    return forced
