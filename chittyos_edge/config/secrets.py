"""Secrets: which ones a stack needs, and reading them only as Pulumi secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pulumi

from .errors import ConfigError, cut_key, shown
from .stack import StackConfig

WORKER_SECRETS_KEY = "workerSecrets"
SLACK_WEBHOOK_KEY = "slackWebhookUrl"
PAGERDUTY_KEY = "pagerdutyIntegrationKey"
SECRET_KEYS = (WORKER_SECRETS_KEY, SLACK_WEBHOOK_KEY, PAGERDUTY_KEY)
# The provider's credentials (pulumi_cloudflare/config/vars.py): secrets too when a stack file holds them.
PROVIDER_SECRET_KEYS = ("cloudflare:apiToken", "cloudflare:apiKey", "cloudflare:apiUserServiceKey")


def _is_ciphertext(value: Any) -> bool:
    """`{secure: <ciphertext>}`: how a stack file holds a value set with `pulumi config set --secret`."""
    return isinstance(value, Mapping) and set(value) == {"secure"} and isinstance(value["secure"], str)


def plain_secret_problems(file_config: Mapping[str, Any], source: str, project: str) -> list[str]:
    """Every secret key of a stack file's `config:` whose value is not a Pulumi secret, one line each.

    Checked on the file itself, before anything is planned: a secret typed in plain text is in the
    repository's history already, so it is refused whether or not this stack needs it.
    """
    problems = []

    def plain(key_path: str, fix: str) -> None:
        problems.append(f"{source}: {key_path}: is stored in plain text; remove it from the file, rotate the "
                        f"value, and {fix}")

    def command(path: str, stack_path: bool = False) -> str:
        return f"set it with `pulumi config set --secret{' --path' if stack_path else ''} '{path}' <value>`"

    for key in (f"{project}:{SLACK_WEBHOOK_KEY}", f"{project}:{PAGERDUTY_KEY}", *PROVIDER_SECRET_KEYS):
        if key in file_config and not _is_ciphertext(file_config[key]):
            plain(key, command(key.split(":", 1)[1] if key.startswith(project + ":") else key))
    worker_key = f"{project}:{WORKER_SECRETS_KEY}"
    if worker_key not in file_config:
        return problems
    services = file_config[worker_key]
    shape = (f"a mapping of <service>: {{<SECRET_NAME>: <secret>}}, each set with `pulumi config set --secret "
             f"--path '{WORKER_SECRETS_KEY}.<service>.<SECRET_NAME>' <value>`")
    if _is_ciphertext(services) or not isinstance(services, Mapping):
        problems.append(f"{source}: {worker_key}: is {'one secret' if _is_ciphertext(services) else shown(services)}"
                        f", not {shape}")
        return problems
    for service, names in services.items():
        service_path = f"{worker_key}.{cut_key(service)}"
        if _is_ciphertext(names) or not isinstance(names, Mapping):
            problems.append(f"{source}: {service_path}: is {'one secret' if _is_ciphertext(names) else 'not a mapping'}"
                            f", not {shape}")
            continue
        for name, value in names.items():
            if not _is_ciphertext(value):
                path = f"{WORKER_SECRETS_KEY}.{service}.{name}"
                plain(f"{service_path}.{cut_key(name)}", command(path, stack_path=True))
    return problems


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
    if not isinstance(worker_raw, Mapping):
        problems.append(f"{project}:{WORKER_SECRETS_KEY} must be a mapping of <service>: {{<SECRET_NAME>: <secret>}}; "
                        f"set each with `pulumi config set --secret --path '{WORKER_SECRETS_KEY}.<service>.<NAME>'`")
        worker_raw = {}
    for service_name, names in worker_raw.items():
        declared = config.services.get(service_name)
        if not isinstance(names, Mapping):
            problems.append(f"{project}:{WORKER_SECRETS_KEY}.{cut_key(service_name)} must be a mapping of "
                            "<SECRET_NAME>: <secret>")
            continue
        for name in names:
            if declared is None or name not in declared.secrets:
                problems.append(f"{project}:{WORKER_SECRETS_KEY}.{cut_key(service_name)}.{cut_key(name)} is set but "
                                f"services.{cut_key(service_name)}.secrets does not declare it; declare it or remove it")
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
