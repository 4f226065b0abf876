"""Secrets: which ones a stack needs, and reading them only as Pulumi secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pulumi

from .errors import ConfigError
from .stack import StackConfig

WORKER_SECRETS_KEY = "workerSecrets"
SLACK_WEBHOOK_KEY = "slackWebhookUrl"
PAGERDUTY_KEY = "pagerdutyIntegrationKey"
SECRET_KEYS = (WORKER_SECRETS_KEY, SLACK_WEBHOOK_KEY, PAGERDUTY_KEY)


@dataclass(frozen=True)
class SecretSpec:
    """One secret the stack needs: the config key (a --path for worker secrets) and what it is for."""

    path: str
    purpose: str

    @property
    def top_key(self) -> str:
        return self.path.split(".", 1)[0]

    def set_command(self, project: str, stack: str) -> str:
        path_flag = " --path" if "." in self.path else ""
        return f"pulumi config set --secret{path_flag} '{self.path}' <value> --stack {stack}"


def required_secrets(config: StackConfig) -> list[SecretSpec]:
    specs = []
    for service_name, service in config.services.items():
        for name in service.secrets:
            specs.append(SecretSpec(f"{WORKER_SECRETS_KEY}.{service_name}.{name}",
                                    f"secret_text binding {name} of the {service_name} Worker"))
    if config.monitoring.slack and config.monitoring.alerts:
        specs.append(SecretSpec(SLACK_WEBHOOK_KEY, "Slack incoming-webhook URL for alerts"))
    if config.monitoring.pagerduty and any(a.severity == "critical" for a in config.monitoring.alerts):
        specs.append(SecretSpec(PAGERDUTY_KEY, "PagerDuty integration key (Custom Event Transformer) for critical alerts"))
    return specs


@dataclass(frozen=True)
class Secrets:
    """Secret values, each a secret `pulumi.Output`; never a plain string."""

    worker: Mapping[str, Mapping[str, pulumi.Output[str]]] = field(default_factory=dict)
    slack_webhook_url: pulumi.Output[str] | None = None
    pagerduty_integration_key: pulumi.Output[str] | None = None

    def for_service(self, service: str) -> Mapping[str, pulumi.Output[str]]:
        return self.worker.get(service, {})


def read_secrets(config: StackConfig, raw: Mapping[str, Any], is_secret: Callable[[str], bool],
                 stack: str, project: str) -> Secrets:
    """Check that every required secret is set, as a secret, then wrap each value as a secret Output."""
    problems = []
    for key in SECRET_KEYS:
        if key in raw and not is_secret(key):
            problems.append(f"{project}:{key} is stored in plain text; remove it and set it with "
                            f"`pulumi config set --secret ...` (see README, 'Secrets')")
    specs = required_secrets(config)
    values: dict[str, Any] = {}
    for spec in specs:
        value: Any = raw.get(spec.top_key)
        for part in spec.path.split(".")[1:]:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value in (None, ""):
            problems.append(f"missing secret {project}:{spec.path} ({spec.purpose}); run: "
                            f"{spec.set_command(project, stack)}")
        else:
            values[spec.path] = value
    worker_raw = raw.get(WORKER_SECRETS_KEY) or {}
    if isinstance(worker_raw, Mapping):
        for service_name, names in worker_raw.items():
            declared = config.services.get(service_name)
            for name in (names or {}):
                if declared is None or name not in declared.secrets:
                    problems.append(f"{project}:{WORKER_SECRETS_KEY}.{service_name}.{name} is set but "
                                    f"services.{service_name}.secrets does not declare it; declare it or remove it")
    if problems:
        raise ConfigError(problems)

    worker: dict[str, dict[str, pulumi.Output[str]]] = {}
    for path, value in values.items():
        if path.startswith(WORKER_SECRETS_KEY + "."):
            _, service_name, name = path.split(".", 2)
            worker.setdefault(service_name, {})[name] = pulumi.Output.secret(str(value))
    slack = values.get(SLACK_WEBHOOK_KEY)
    pagerduty = values.get(PAGERDUTY_KEY)
    return Secrets(
        worker=worker,
        slack_webhook_url=pulumi.Output.secret(str(slack)) if slack is not None else None,
        pagerduty_integration_key=pulumi.Output.secret(str(pagerduty)) if pagerduty is not None else None,
    )
