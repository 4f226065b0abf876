"""Typed stack config: bad input is refused with one line naming the key path and the fix.

Pure config tests: no Pulumi runtime involved.
"""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError, parse_stack_config
from chittyos_edge.config.secrets import read_secrets, required_secrets
from tests.conftest import config_problems, stack_file_config

PREFIX = "chittyos-edge:"


def parse(stack: str, config: dict) -> object:
    raw = {k[len(PREFIX):]: v for k, v in config.items() if k.startswith(PREFIX)}
    return parse_stack_config(raw, f"Pulumi.{stack}.yaml")


problems_of = config_problems


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_both_stack_files_validate(stack):
    settings = parse(stack, stack_file_config(stack))
    assert settings.environment.value == stack


def test_typo_in_nested_key_names_the_path_and_the_closest_key():
    def typo(c):
        c[f"{PREFIX}services"]["chittyconnect"]["compatibilityFlag"] = ["nodejs_compat"]
    problems = problems_of("production", typo)
    assert problems == ["Pulumi.production.yaml: chittyos-edge:services.chittyconnect.compatibilityFlag: "
                        "unknown key; did you mean 'compatibilityFlags'?"]


def test_typo_in_top_level_key_suggests_the_namespace_key():
    def typo(c):
        c[f"{PREFIX}kvNamespace"] = c.pop(f"{PREFIX}kvNamespaces")
    (problem,) = problems_of("staging", typo)
    assert "chittyos-edge:kvNamespace: unknown key; did you mean 'chittyos-edge:kvNamespaces'?" in problem


def test_malformed_hostname_names_the_list_item():
    def bad(c):
        c[f"{PREFIX}services"]["project-awareness"]["customDomains"] = ["https://project-awareness.chitty.cc/"]
    (problem,) = problems_of("production", bad)
    assert "chittyos-edge:services.project-awareness.customDomains[0]" in problem
    assert "is not a hostname" in problem


def test_wrong_enum_value_names_the_allowed_values():
    def bad(c):
        c[f"{PREFIX}edgeSecurity"]["tls"]["minTlsVersion"] = "1.4"
    (problem,) = problems_of("production", bad)
    assert "chittyos-edge:edgeSecurity.tls.minTlsVersion" in problem and "'1.3'" in problem


def test_binding_to_an_undeclared_store_is_refused():
    def bad(c):
        c[f"{PREFIX}services"]["chittyconnect"]["bindings"]["kv"]["IDEMP_KV"] = "chittyconnect-idempotensy"
    (problem,) = problems_of("staging", bad)
    assert "services.chittyconnect.bindings.kv.IDEMP_KV: refers to kvNamespaces 'chittyconnect-idempotensy'" in problem
    assert "did you mean 'chittyconnect-idempotency'?" in problem


def test_staging_may_not_own_zone_wide_singletons():
    def bad(c):
        c[f"{PREFIX}edgeSecurity"] = stack_file_config("production")[f"{PREFIX}edgeSecurity"]
    (problem,) = problems_of("staging", bad)
    assert "chittyos-edge:edgeSecurity: holds zone-wide singletons owned by the production stack" in problem


def test_production_refuses_wildcard_cors_and_unprotected_data():
    def bad(c):
        c[f"{PREFIX}r2Buckets"]["chittyops-project-data"]["cors"][0]["allowedOrigins"] = ["*"]
        c[f"{PREFIX}dataProtection"]["protect"] = False
    problems = problems_of("production", bad)
    assert problems == [
        "Pulumi.production.yaml: chittyos-edge:dataProtection.protect: must be true in production",
        "Pulumi.production.yaml: chittyos-edge:r2Buckets.chittyops-project-data.cors[0].allowedOrigins: '*' origin "
        "(ai-platforms) is not allowed in production; list the exact origins",
    ]


def test_production_refuses_an_unacknowledged_durable_object_deletion():
    def delete(c):
        c[f"{PREFIX}durableObjects"]["project-awareness"]["migrations"].append(
            {"tag": "v2", "deletedClasses": ["SessionSyncDurableObject"]})
        del c[f"{PREFIX}durableObjects"]["project-awareness"]["classes"]["SESSION_SYNC_DO"]
    (problem,) = problems_of("production", delete)
    assert "deletes ['SessionSyncDurableObject']" in problem
    assert "acknowledgeDeletedClasses" in problem

    def acknowledged(c):
        delete(c)
        c[f"{PREFIX}durableObjects"]["project-awareness"]["acknowledgeDeletedClasses"] = ["SessionSyncDurableObject"]
    config = stack_file_config("production")
    acknowledged(config)
    assert parse("production", config).durable_objects["project-awareness"].deleted_classes() == [
        "SessionSyncDurableObject"]


def test_staging_hostnames_must_be_staging_hostnames():
    def bad(c):
        c[f"{PREFIX}services"]["chittyconnect"]["customDomains"] = ["connect.chitty.cc"]
    (problem,) = problems_of("staging", bad)
    assert "staging hostname 'connect.chitty.cc' must be '<name>-staging.chitty.cc'" in problem


def test_missing_secret_names_the_key_and_the_command():
    settings = parse("production", stack_file_config("production"))
    raw = {"workerSecrets": {"chittyconnect": {name: "x" for name in settings.services["chittyconnect"].secrets}},
           "slackWebhookUrl": "https://hooks.slack.invalid/T/B/x"}
    raw["workerSecrets"]["chittyconnect"].pop("ONEPASSWORD_CONNECT_TOKEN")
    with pytest.raises(ConfigError) as caught:
        read_secrets(settings, raw, lambda key: True, "production", "chittyos-edge")
    assert caught.value.problems == [
        "missing secret chittyos-edge:workerSecrets.chittyconnect.ONEPASSWORD_CONNECT_TOKEN (secret_text binding "
        "ONEPASSWORD_CONNECT_TOKEN of the chittyconnect Worker); run: pulumi config set --secret --path "
        "'workerSecrets.chittyconnect.ONEPASSWORD_CONNECT_TOKEN' <value> --stack production",
        "missing secret chittyos-edge:pagerdutyIntegrationKey (PagerDuty integration key (Custom Event Transformer) "
        "for critical alerts); run: pulumi config set --secret 'pagerdutyIntegrationKey' <value> --stack production",
    ]


def test_a_secret_stored_in_plain_text_is_refused():
    settings = parse("staging", stack_file_config("staging"))
    raw = {spec.path: "value" for spec in required_secrets(settings) if "." not in spec.path}
    with pytest.raises(ConfigError) as caught:
        read_secrets(settings, raw, lambda key: False, "staging", "chittyos-edge")
    assert any("chittyos-edge:slackWebhookUrl is stored in plain text" in p for p in caught.value.problems)


def test_staging_and_production_need_their_own_secrets():
    staging = {s.path for s in required_secrets(parse("staging", stack_file_config("staging")))}
    production = {s.path for s in required_secrets(parse("production", stack_file_config("production")))}
    assert "pagerdutyIntegrationKey" in production and "pagerdutyIntegrationKey" not in staging
    assert "workerSecrets.chittyconnect.ONEPASSWORD_CONNECT_TOKEN" in staging & production
