"""Monitoring: health checks for this stack's hostnames and alert routing to PagerDuty and Slack.

Creates, for one environment:
- one standalone `Healthcheck` (HTTPS) per `monitoring.healthChecks` entry: path, regions, interval,
  timeout, retries, expected status codes and body, `Host` header. A check with `behindAccess` sends the
  `healthcheck` Access service token's headers, which makes its `httpConfig` a secret input;
- webhook destinations: Slack (the secret `slackWebhookUrl`) and PagerDuty (a Custom Event Transformer
  integration, URL `https://events.pagerduty.com/integration/<key>/enqueue` built from the secret
  `pagerdutyIntegrationKey`, because Cloudflare's webhook body is not an Events API v2 event);
- one `NotificationPolicy` per alert route: critical -> PagerDuty and Slack, warning -> Slack. Health-check
  alerts are filtered to this stack's health checks (or the checks the route names), tunnel alerts to this
  stack's tunnel, zone-wide alerts to the zone; the route's own `filters` (thresholds such as `slos` or
  `limits`) are added. A critical alert with a health state (health checks, load-balancer health) pages
  only on the failure state; its recoveries go to a companion `<name>-recovered` policy, Slack only.
  Every policy's description ends with its runbook (docs/runbooks/<alert>.md).
- each health check turns unhealthy after `consecutiveFails` failed probes and healthy again after
  `consecutiveSuccesses` good ones, so one lost probe neither pages nor flaps.

Analytics Engine datasets have no API to create them: they are declared as Worker bindings (see the
services section) and appear on first write.

Operational costs: each health check probes from every listed region at its interval (Cloudflare bills
standalone health checks per check on Pro and above); a critical alert pages the on-call engineer.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.edge import RECOVERY_FILTERS, AlertRoute, HealthCheck, MonitoringConfig, Severity
from chittyos_edge.config.secrets import Secrets

from .base import Component

PAGERDUTY_CET_URL = "https://events.pagerduty.com/integration/{key}/enqueue"
ZONE_FILTERED_ALERTS = ("http_alert_origin_error", "http_alert_edge_error", "clickhouse_alert_fw_anomaly")


def pagerduty_webhook_url(integration_key: pulumi.Input[str]) -> pulumi.Output[str]:
    """PagerDuty's Custom Event Transformer endpoint: it accepts any JSON body, such as Cloudflare's."""
    return pulumi.Output.secret(pulumi.Output.from_input(integration_key).apply(
        lambda key: PAGERDUTY_CET_URL.format(key=key)))


class Monitoring(Component):
    """Health checks, alert destinations and notification policies of one stack."""

    def __init__(self, name: str, *, account_id: str, zone_id: pulumi.Input[str], environment: Environment,
                 monitoring: MonitoringConfig, secrets: Secrets,
                 access_headers: Mapping[str, Sequence[pulumi.Input[str]]] | None = None,
                 tunnel_id: pulumi.Input[str] | None = None,
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("monitoring", name, opts)

        self.health_checks: dict[str, cloudflare.Healthcheck] = {
            check.name: self._health_check(check, zone_id, environment, access_headers)
            for check in monitoring.health_checks
        }

        self.webhooks: dict[str, cloudflare.NotificationPolicyWebhooks] = {}
        needs = {d for alert in monitoring.alerts for d in monitoring.destinations(alert.severity)}
        if "slack" in needs:
            self.webhooks["slack"] = cloudflare.NotificationPolicyWebhooks(
                self.child_name("slack"), account_id=account_id,
                name=naming.label("slack-alerts", environment),
                url=self._secret(secrets.slack_webhook_url, "slackWebhookUrl"),
                opts=self.child_opts(additional_secret_outputs=["url"]))
        if "pagerduty" in needs:
            self.webhooks["pagerduty"] = cloudflare.NotificationPolicyWebhooks(
                self.child_name("pagerduty"), account_id=account_id,
                name=naming.label("pagerduty-critical", environment),
                url=pagerduty_webhook_url(self._secret(secrets.pagerduty_integration_key, "pagerdutyIntegrationKey")),
                opts=self.child_opts(additional_secret_outputs=["url"]))

        self.policies: dict[str, cloudflare.NotificationPolicy] = {}
        for alert in monitoring.alerts:
            filters: dict = {}
            if alert.alert_type == "health_check_status_notification":
                filters["health_check_ids"] = [self.health_checks[name].id for name in monitoring.checks_of(alert)]
            elif alert.alert_type == "tunnel_health_event" and tunnel_id is not None:
                filters["tunnel_ids"] = [tunnel_id]
            elif alert.alert_type in ZONE_FILTERED_ALERTS:
                filters["zones"] = [zone_id]
            filters.update({key: list(values) for key, values in alert.filters.items()})
            routes = monitoring.destinations(alert.severity)
            state = RECOVERY_FILTERS.get(alert.alert_type)
            if state and "pagerduty" in routes:
                key, failing, recovered = state
                self._policy(alert, alert.name, {**filters, key: failing}, routes, account_id, environment)
                self._policy(alert, f"{alert.name}-recovered", {**filters, key: recovered}, ["slack"],
                             account_id, environment, "recovered: ")
            else:
                if state:
                    filters[state[0]] = state[1] + state[2]
                self._policy(alert, alert.name, filters, routes, account_id, environment)

        self.register_outputs({
            "healthCheckIds": {name: check.id for name, check in self.health_checks.items()},
            "alertPolicies": sorted(self.policies),
        })

    def _policy(self, alert: AlertRoute, name: str, filters: dict, routes: list[str], account_id: str,
                environment: Environment, prefix: str = "") -> None:
        severity = alert.severity.value if not prefix else Severity.WARNING.value
        description = f"[{severity}] {prefix}{alert.description} Runbook: {alert.runbook_path}".replace("  ", " ")
        self.policies[name] = cloudflare.NotificationPolicy(
            self.child_name(f"alert-{name}"), account_id=account_id,
            name=naming.label(name, environment),
            description=description.strip(),
            alert_type=alert.alert_type, enabled=True,
            mechanisms={"webhooks": [{"id": self.webhooks[route].id} for route in routes]},
            filters=filters or None,
            opts=self.child_opts())

    def _health_check(self, check: HealthCheck, zone_id: pulumi.Input[str], environment: Environment,
                      access_headers: Mapping[str, Sequence[pulumi.Input[str]]] | None) -> cloudflare.Healthcheck:
        header: dict[str, Sequence[pulumi.Input[str]]] = {"Host": [check.hostname]}
        secret_outputs: list[str] = []
        if check.behind_access:
            if not access_headers:
                # Config validation refuses this earlier; kept so a wiring mistake fails loudly, not silently.
                raise ValueError(f"health check {check.name} is behindAccess but no service-token headers were given")
            header.update(access_headers)
            secret_outputs.append("httpConfig")
        http_config: dict = {
            "method": check.method, "path": check.path, "port": 443,
            "expected_codes": list(check.expected_codes), "follow_redirects": False, "allow_insecure": False,
            "header": header,
        }
        if check.expected_body:
            http_config["expected_body"] = check.expected_body
        return cloudflare.Healthcheck(
            self.child_name(f"check-{check.name}"), zone_id=zone_id,
            name=naming.label(check.name, environment),
            description=f"https://{check.hostname}{check.path}",
            address=check.hostname, type="HTTPS",
            check_regions=list(check.regions),
            interval=check.interval, timeout=check.timeout, retries=check.retries,
            consecutive_fails=check.consecutive_fails, consecutive_successes=check.consecutive_successes,
            http_config=http_config,
            opts=self.child_opts(additional_secret_outputs=secret_outputs or None))

    @staticmethod
    def _secret(value: pulumi.Output[str] | None, key: str) -> pulumi.Output[str]:
        if value is None:
            # read_secrets refuses a missing secret before any resource exists; this guards the wiring.
            raise ValueError(f"secret {key} is required by monitoring but was not loaded")
        return pulumi.Output.secret(value)
