"""Strict values: no coercion, bounded integers, real dates, Cloudflare's cron syntax and enums, RFC
hostname limits, stack-wide uniqueness, and secrets that are secrets.

Pure config tests (no Pulumi runtime), except the last group, which drives `chittyos-edge plan`
in-process on the issue's examples of bad stack files.
"""

from __future__ import annotations

import typing

import pytest

from chittyos_edge import cli
from chittyos_edge.config import ConfigError
from chittyos_edge.config.cron import cron_problem
from chittyos_edge.config.secrets import read_secrets
from chittyos_edge.plan import runtime_config
from tests.conftest import ROOT, config_problems, copy_project, stack_file_config

PREFIX = "chittyos-edge:"


def only_problem(stack, mutate) -> str:
    problems = config_problems(stack, mutate)
    assert len(problems) == 1, problems
    return problems[0]


# ---- strict scalars -----------------------------------------------------------------------------

@pytest.mark.parametrize("value, gist", [
    (True, "Input should be a valid integer (got True)"),
    ("31536000", "Input should be a valid integer"),
    (31536000.0, "Input should be a valid integer"),
    (2**63, "is out of range; integers here are at most 2147483647"),
    (2**31, "is out of range"),
])
def test_an_integer_is_an_integer_and_bounded(value, gist):
    def bad(c):
        c[f"{PREFIX}edgeSecurity"]["tls"]["hsts"]["maxAge"] = value
    problem = only_problem("production", bad)
    assert "chittyos-edge:edgeSecurity.tls.hsts.maxAge: " in problem and gist in problem


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_a_boolean_is_a_boolean(value):
    def bad(c):
        c[f"{PREFIX}edgeSecurity"]["tls"]["http3"] = value
    assert "chittyos-edge:edgeSecurity.tls.http3: Input should be a valid boolean" in only_problem("production", bad)


@pytest.mark.parametrize("value", ["2025-13-01", "2025-02-30", "2025-1-1", "20250101"])
def test_compatibility_date_is_a_real_calendar_date(value):
    def bad(c):
        c[f"{PREFIX}services"]["chittyconnect"]["compatibilityDate"] = value
    problem = only_problem("production", bad)
    assert "services.chittyconnect.compatibilityDate: " in problem and "is not a calendar date" in problem


@pytest.mark.parametrize("expression", [
    "* * * * *", "*/30 * * * *", "45 * * * *", "0 17 * * sun", "0 17 * * 1", "10 7 * * mon-fri", "10 7 * * 2-6",
    "0 15 1 * *", "0 18 * * 6L", "0 18 * * friL", "59 23 LW * *", "0 10 * * MON#2", "0 0 15W * *",
    "0 0 1 jan,jul *", "0-30/5 9-17 * * *", "0 0 L * *",
])
def test_cloudflare_cron_syntax_is_accepted(expression):
    assert cron_problem(expression) is None


@pytest.mark.parametrize("expression, gist", [
    ("61 * * * *", "minute '61' is not 0-59"),
    ("0 24 * * *", "hour '24' is not 0-23"),
    ("0 0 0 * *", "day of month '0' is not 1-31"),
    ("0 0 * 13 *", "month '13' is not 1-12 or JAN-DEC"),
    ("0 0 * * 0", "day of week '0' is not 1-7 or SUN-SAT (1 = Sunday)"),
    ("0 0 * * 8", "day of week '8' is not"),
    ("* * * *", "has 4 fields"),
    ("@daily", "has 1 fields"),
    ("*/0 * * * *", "minute step '0'"),
    ("5-1 * * * *", "runs backwards"),
    ("0 0 * * MON#6", "day of week 'MON#6'"),
    ("0 0 32W * *", "day of month '32W'"),
    ("0 0 * * ?", "day of week '?' is not"),
    ("1,,2 * * * *", "empty list item"),
])
def test_cron_field_ranges_and_syntax_are_checked(expression, gist):
    problem = cron_problem(expression)
    assert problem is not None and gist in problem


def test_a_bad_cron_names_its_key():
    def bad(c):
        c[f"{PREFIX}durableObjects"]["session-state"]["cleanupSchedule"] = "61 * * * *"
    problem = only_problem("production", bad)
    assert "chittyos-edge:durableObjects.session-state.cleanupSchedule: '61 * * * *': minute '61' is not 0-59" in problem


@pytest.mark.parametrize("mutate, path, gist", [
    (lambda c: c[f"{PREFIX}monitoring"]["alerts"][0].update(alertType="dos_attack_l8"),
     "monitoring.alerts[0].alertType", "not a notification alert type Cloudflare has; did you mean 'dos_attack_l7'?"),
    (lambda c: c[f"{PREFIX}monitoring"]["healthChecks"][0].update(regions=["WNAM", "APAC"]),
     "monitoring.healthChecks[0].regions[1]", "not a health-check region Cloudflare has"),
    (lambda c: c[f"{PREFIX}loadBalancing"]["pools"]["primary-workers"].update(checkRegions=["EU"]),
     "loadBalancing.pools.primary-workers.checkRegions[0]", "not a load-balancer check region"),
    (lambda c: c[f"{PREFIX}loadBalancing"]["regionPools"].update(APAC=["primary-workers"]),
     "loadBalancing.regionPools.APAC", "not a load-balancer region"),
])
def test_cloudflare_enums_are_cloudflares(mutate, path, gist):
    problem = only_problem("production", mutate)
    assert f"chittyos-edge:{path}" in problem and gist in problem


@pytest.mark.parametrize("host, gist", [
    ("a" * 64 + ".chitty.cc", "a label has at most 63 (RFC 1035)"),
    (("a" * 61 + ".") * 4 + "chitty.cc", "is 257 characters; a hostname has at most 253"),
])
def test_hostnames_keep_rfc_limits_and_the_error_names_the_key(host, gist):
    def bad(c):
        c[f"{PREFIX}services"]["chittyconnect"]["customDomains"] = [host]
    problem = only_problem("production", bad)
    assert "chittyos-edge:services.chittyconnect.customDomains[0]: " in problem and gist in problem
    assert len(problem) < 300, "the value is cut to a readable length"


# ---- uniqueness across the stack ----------------------------------------------------------------

@pytest.mark.parametrize("mutate, path, gist", [
    (lambda c: c[f"{PREFIX}services"]["project-awareness"].update(scriptName="chittyconnect"),
     "services.project-awareness.scriptName", "already used at services.chittyconnect.scriptName"),
    (lambda c: c[f"{PREFIX}services"]["project-awareness"].update(customDomains=["connect.chitty.cc"]),
     "services.project-awareness.customDomains[0]", "already used at services.chittyconnect.customDomains[0]"),
    (lambda c: c[f"{PREFIX}services"]["chittyconnect"].update(routes=["api.chitty.cc/project-awareness/*"]),
     "services.project-awareness.routes[0]", "already used at services.chittyconnect.routes[0]"),
    (lambda c: c[f"{PREFIX}services"]["chittyconnect"].update(routes=["project-awareness.chitty.cc/x/*"]),
     "services.chittyconnect.routes[0]", "taken whole by services.project-awareness.customDomains[0]"),
    (lambda c: c[f"{PREFIX}tunnel"].update(hostname="connect.chitty.cc"),
     "tunnel.hostname", "already used at services.chittyconnect.customDomains[0]"),
    (lambda c: c[f"{PREFIX}kvNamespaces"]["chittyops-sessions"].update(
        adopt={"id": "d8051882226b470ba10035b30447a8b7"}),
     "kvNamespaces.chittyops-sessions.adopt.id", "already used at kvNamespaces.chittyconnect-tokens.adopt.id"),
    (lambda c: c[f"{PREFIX}queues"]["github-events-dlq"].update(
        adopt={"id": "b6e4e4981f644ce395645c5118ee0e94", "name": "x"}),
     "queues.github-events-dlq.adopt.id", "already used at queues.github-events.adopt.id"),
    (lambda c: c[f"{PREFIX}queues"]["github-events"]["adopt"].update(name="github-events-dlq-production"),
     "queues.github-events-dlq", "already used at queues.github-events.adopt.name"),
    (lambda c: c[f"{PREFIX}edgeSecurity"]["rateLimits"][0].update(ref="session_integrity"),
     "edgeSecurity.rateLimits[0].ref", "already used at wafCustomRules[0].ref"),
    (lambda c: c[f"{PREFIX}monitoring"]["alerts"][1].update(name="service-down"),
     "monitoring.alerts[1].name", "already used at alerts[0].name"),
    (lambda c: c[f"{PREFIX}r2Buckets"]["chittyconnect-documents"]["lifecycle"].append(
        {"id": "abort-stale-multipart", "deleteAfterDays": 30}),
     "r2Buckets.chittyconnect-documents.lifecycle[1].id", "already used at"),
    (lambda c: c[f"{PREFIX}services"]["project-awareness"].update(queueConsumers=[{"queue": "github-events"}]),
     "services.project-awareness.queueConsumers[0].queue", "one consumer"),
])
def test_what_must_be_unique_across_the_stack(mutate, path, gist):
    problem = only_problem("production", mutate)
    assert f"chittyos-edge:{path}: " in problem and gist in problem


# ---- secrets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, gist", [
    ("chittyos-edge:workerSecrets", {"chittyconnect": {"CHITTY_ID_TOKEN": "PLAINTEXT-TOKEN-123"}},
     "chittyos-edge:workerSecrets.chittyconnect.CHITTY_ID_TOKEN: is stored in plain text"),
    ("chittyos-edge:workerSecrets", {"project-awareness": {"UNUSED": "x"}},
     "chittyos-edge:workerSecrets.project-awareness.UNUSED: is stored in plain text"),
    ("chittyos-edge:workerSecrets", "PLAINTEXT", "chittyos-edge:workerSecrets: is 'PLAINTEXT', not a mapping"),
    ("chittyos-edge:workerSecrets", {"chittyconnect": "x"}, "chittyos-edge:workerSecrets.chittyconnect: is not a mapping"),
    ("chittyos-edge:slackWebhookUrl", "https://hooks.slack.invalid/T/B/x", "chittyos-edge:slackWebhookUrl: is stored in plain"),
    ("chittyos-edge:pagerdutyIntegrationKey", 12345, "chittyos-edge:pagerdutyIntegrationKey: is stored in plain text"),
    ("cloudflare:apiToken", "tok", "cloudflare:apiToken: is stored in plain text"),
])
@pytest.mark.parametrize("stack", ["staging", "production"])
def test_a_secret_key_with_a_plain_value_is_refused_before_planning(stack, key, value, gist):
    config = stack_file_config(stack)
    config[key] = value
    with pytest.raises(ConfigError) as caught:
        runtime_config(stack, file_config=config)
    assert len(caught.value.problems) == 1 and gist in caught.value.problems[0]
    assert str(value) not in caught.value.problems[0] or value == "PLAINTEXT"


def test_secure_values_pass():
    config = stack_file_config("production")
    config["chittyos-edge:slackWebhookUrl"] = {"secure": "v1:abc"}
    config["cloudflare:apiToken"] = {"secure": "v1:def"}
    values, secret_keys = runtime_config("production", file_config=config)
    assert "chittyos-edge:slackWebhookUrl" in secret_keys and "cloudflare:apiToken" in values


def test_the_real_run_refuses_worker_secrets_of_the_wrong_shape():
    from chittyos_edge.config import parse_stack_config

    raw = {k[len(PREFIX):]: v for k, v in stack_file_config("staging").items() if k.startswith(PREFIX)}
    settings = parse_stack_config(raw, "Pulumi.staging.yaml")
    for worker in ("a string", {"chittyconnect": 7}):
        with pytest.raises(ConfigError) as caught:
            read_secrets(settings, {"workerSecrets": worker}, lambda key: True, "staging", "chittyos-edge")
        assert any("workerSecrets" in p and "must be a mapping" in p for p in caught.value.problems)


# ---- the issue's examples, through the CLI ----------------------------------------------------------

def _edit(stack: str, old: str, new: str, count: int = 1):
    def edit(text: str) -> str:
        assert text.count(old) >= count, old
        return text.replace(old, new, count)
    return edit


EXAMPLES = {
    "plain worker secret": ("staging", _edit("staging", "config:\n", "config:\n  chittyos-edge:workerSecrets: "
                                             "{chittyconnect: {CHITTY_ID_TOKEN: PLAINTEXT-TOKEN-123}}\n"),
                            "chittyos-edge:workerSecrets.chittyconnect.CHITTY_ID_TOKEN"),
    "plain slack webhook": ("production", _edit("production", "config:\n",
                                                "config:\n  chittyos-edge:slackWebhookUrl: https://hooks.invalid/x\n"),
                            "chittyos-edge:slackWebhookUrl"),
    "section without namespace": ("production", _edit("production", "  chittyos-edge:edgeSecurity:", "  edgeSecurity:"),
                                  "edgeSecurity: key without a namespace"),
    "misspelt namespace": ("production", _edit("production", "  chittyos-edge:edgeSecurity:",
                                               "  chittyos-edgee:edgeSecurity:"), "chittyos-edgee:edgeSecurity"),
    "section dedented out of config": ("production", _edit("production", "  chittyos-edge:loadBalancing:\n",
                                                           "chittyos-edge:loadBalancing:\n"),
                                       "chittyos-edge:loadBalancing: is outside 'config:'"),
    "duplicate binding": ("staging", _edit("staging", "          IDEMP_KV: chittyconnect-idempotency\n",
                                           "          IDEMP_KV: chittyconnect-idempotency\n"
                                           "          IDEMP_KV: chittyconnect-tokens\n"),
                          "chittyos-edge:services.chittyconnect.bindings.kv.IDEMP_KV: duplicate key"),
    "top-level list": ("staging", lambda text: "- " + text.replace("\n", "\n  ").rstrip() + "\n",
                       "the document is a list"),
    "non-string key": ("staging", _edit("staging", "config:\n", "config:\n  1: x\n"), "key '1' is read as a YAML int"),
    "worker secrets as a string": ("staging", _edit("staging", "config:\n",
                                                    "config:\n  chittyos-edge:workerSecrets: oops\n"),
                                   "chittyos-edge:workerSecrets: is 'oops'"),
    "binary": ("staging", _edit("staging", "    name: chitty.cc\n", "    name: !!binary aGVsbG8=\n"),
               "chittyos-edge:zone.name: is YAML binary data"),
    "date": ("production", _edit("production", 'compatibilityDate: "2025-01-01"', "compatibilityDate: 2025-01-01"),
             "chittyos-edge:services.chittyconnect.compatibilityDate: is a YAML date/time"),
    "deep nesting": ("staging", _edit("staging", "config:\n", "config:\n  chittyos-edge:x: " + "[" * 5000 + "\n"),
                     "nested too deep"),
    "long pool key": ("production", lambda text: text.replace("primary-workers", "p" * 120),
                      "chittyos-edge:loadBalancing.pools.ppp"),
    "bool for int": ("production", _edit("production", "maxAge: 31536000", "maxAge: true"),
                     "chittyos-edge:edgeSecurity.tls.hsts.maxAge"),
    "2**63": ("production", _edit("production", "maxAge: 31536000", f"maxAge: {2**63}"),
              "chittyos-edge:edgeSecurity.tls.hsts.maxAge"),
    "month 13": ("production", _edit("production", '"2025-01-01"', '"2025-13-01"'),
                 "chittyos-edge:services.chittyconnect.compatibilityDate"),
    "minute 61": ("production", _edit("production", 'cleanupSchedule: "0 * * * *"', 'cleanupSchedule: "61 * * * *"'),
                  "chittyos-edge:durableObjects.session-state.cleanupSchedule"),
    "unknown alert type": ("production", _edit("production", "alertType: dos_attack_l7", "alertType: ddos_l7"),
                           ".alertType: 'ddos_l7' is not a notification alert type"),
    "unknown check region": ("production", _edit("production", "regions: [WNAM, ENAM]\n", "regions: [WNAM, APAC]\n"),
                             ".regions[1]: 'APAC' is not a health-check region"),
    "long hostname": ("production", _edit("production", "customDomains: [connect.chitty.cc]",
                                          "customDomains: [" + ("a" * 61 + ".") * 4 + "chitty.cc]"),
                      "chittyos-edge:services.chittyconnect.customDomains[0]"),
    "syntax error": ("staging", _edit("staging", "    name: chitty.cc\n", "    name: [chitty.cc\n"), "not valid YAML"),
    "non-UTF-8": ("staging", lambda text: text.encode().replace(b"chitty.cc", b"chitty\xff.cc", 1),
                  "is not UTF-8"),
}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the project whose stack files the examples below replace, one at a time."""
    return copy_project(tmp_path_factory.mktemp("examples") / "checkout")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_each_example_of_the_issue_exits_2_with_one_line_and_writes_no_plan(name, checkout, tmp_path, capsys):
    stack, mutate, gist = EXAMPLES[name]
    original = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    text = mutate(original)
    stack_file = checkout.stack_file(stack)
    stack_file.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "plan.json"
    try:
        code = cli.main(["-C", str(checkout.root), "plan", "--stack", stack, "--out", str(out)])
    finally:
        stack_file.write_text(original)
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and not out.exists()
    assert len(err) == 1, err
    assert err[0].startswith(f"chittyos-edge: error: Pulumi.{stack}.yaml:"), "file and line"
    assert gist in err[0] and "Traceback" not in err[0] and len(err[0]) < 400


# ---- the committed enum data is Cloudflare's ------------------------------------------------------

def _literal(module: str, owner: str, attribute: str | None = None) -> set[str]:
    import importlib

    found = getattr(importlib.import_module(f"cloudflare.{module}"), owner)
    if attribute:
        found = typing.get_type_hints(found, include_extras=True)[attribute]
    while typing.get_origin(found) is not typing.Literal:  # Required[...], Annotated[...]
        found = typing.get_args(found)[0]
    return set(typing.get_args(found))


def test_cloudflare_enums_match_the_official_sdk():
    """The lists config validation uses (committed data: the SDK is a test dependency only) are the SDK's."""
    from chittyos_edge.config import cloudflare_enums
    from cloudflare.resources.load_balancers.regions import RegionsResource

    assert set(cloudflare_enums.HEALTHCHECK_REGIONS) == _literal("types.healthchecks.check_region", "CheckRegion")
    assert set(cloudflare_enums.LB_CHECK_REGIONS) == _literal("types.load_balancers.check_region", "CheckRegion")
    assert set(cloudflare_enums.ALERT_TYPES) == _literal("types.alerting.policy_create_params", "PolicyCreateParams",
                                                         "alert_type")
    region_id = typing.get_type_hints(RegionsResource.get)["region_id"]
    assert set(cloudflare_enums.LB_REGIONS) == set(typing.get_args(region_id))
