"""What each Cloudflare zone plan includes, for the features this program configures.

`zone.plan` in a stack file declares the plan of the zone; config validation refuses a rule, setting,
health check or alert the declared plan does not include, naming the key, the feature and the lowest
plan that has it (exit 2), so that `pulumi up` never fails half-way on an entitlement error.

Every entry cites the Cloudflare page it comes from (read 2026-11; the feature tables of
developers.cloudflare.com are generated from the docs repository's plan data). When Cloudflare changes
a table, change the entry and its test together.

Not plan-gated here: Load Balancing is a paid add-on on every plan ("Paid add-on" in the Load Balancing
availability table, https://developers.cloudflare.com/load-balancing/#availability), so declaring
`loadBalancing.enabled` means the add-on is bought; the README says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Mapping, TypeVar


class ZonePlan(StrEnum):
    FREE = "free"
    PRO = "pro"
    BUSINESS = "business"
    ENTERPRISE = "enterprise"

    @property
    def rank(self) -> int:
        return list(ZonePlan).index(self)

    @property
    def title(self) -> str:
        return self.value.capitalize()


T = TypeVar("T")


@dataclass(frozen=True)
class Entitlement(Generic[T]):
    """One feature's value per plan (a number, a set of allowed values or a yes/no), with its source."""

    feature: str
    per_plan: Mapping[ZonePlan, T]
    source: str

    def at(self, plan: ZonePlan) -> T:
        return self.per_plan[plan]

    def lowest_plan(self, accepts) -> ZonePlan | None:
        """The cheapest plan whose value satisfies `accepts(value)`, or None if no plan does."""
        for plan in ZonePlan:
            if accepts(self.per_plan[plan]):
                return plan
        return None


def _plans(free, pro, business, enterprise) -> dict[ZonePlan, object]:
    return {ZonePlan.FREE: free, ZonePlan.PRO: pro, ZonePlan.BUSINESS: business, ZonePlan.ENTERPRISE: enterprise}


def _from(plan: ZonePlan) -> dict[ZonePlan, bool]:
    return {p: p.rank >= plan.rank for p in ZonePlan}


_RATE_LIMITING = "https://developers.cloudflare.com/waf/rate-limiting-rules/#availability"
_RATE_LIMIT_PARAMETERS = "https://developers.cloudflare.com/waf/rate-limiting-rules/parameters/#for-duration"
_CUSTOM_RULES = "https://developers.cloudflare.com/waf/custom-rules/#availability"
_MANAGED_RULES = "https://developers.cloudflare.com/waf/managed-rules/#availability"
_CACHE_RULES = "https://developers.cloudflare.com/cache/how-to/cache-rules/#availability"
_CACHE_KEYS = "https://developers.cloudflare.com/cache/how-to/cache-keys/#availability"
_TRANSFORM_RULES = "https://developers.cloudflare.com/rules/transform/#availability"
_HEALTH_CHECKS = "https://developers.cloudflare.com/health-checks/#availability"
_NOTIFICATIONS = "https://developers.cloudflare.com/notifications/notification-available/"

# ---- rate limiting rules (http_ratelimit phase) ------------------------------------------------

# "Enterprise with app security" gets "5 or more" by contract; 100 is Enterprise with Advanced Rate
# Limiting. A zone on an Enterprise contract with fewer rules gets an API error at `up`.
RATE_LIMIT_RULES: Entitlement[int] = Entitlement(
    "rate limiting rules (including burst companions)", _plans(1, 2, 5, 100), _RATE_LIMITING)
RATE_LIMIT_PERIODS: Entitlement[frozenset[int]] = Entitlement(
    "rate limiting counting period (seconds)",
    _plans(frozenset({10}), frozenset({10, 60}), frozenset({10, 60, 600}),
           frozenset({10, 60, 120, 300, 600, 3600})), _RATE_LIMITING)
# 0 means "throttle requests above the rate" instead of a fixed mitigation period.
RATE_LIMIT_TIMEOUTS: Entitlement[frozenset[int]] = Entitlement(
    "rate limiting mitigation timeout (seconds)",
    _plans(frozenset({10}), frozenset({10, 60, 3600}), frozenset({10, 60, 3600, 86400}),
           frozenset({0, 10, 60, 120, 300, 600, 3600, 86400})), _RATE_LIMITING)
# Below Enterprise a challenge action cannot have a duration: the API requires mitigation_timeout 0.
RATE_LIMIT_CHALLENGE_WITH_TIMEOUT: Entitlement[bool] = Entitlement(
    "a mitigation timeout with a challenge action", _from(ZonePlan.ENTERPRISE), _RATE_LIMIT_PARAMETERS)
RATE_LIMIT_CHARACTERISTICS: Entitlement[frozenset[str]] = Entitlement(
    "rate limiting counting characteristics",
    _plans(*(frozenset({"cf.colo.id", "ip.src"}),) * 3,
           frozenset({"cf.colo.id", "ip.src", "cf.unique_visitor_id", "http.host", "http.request.uri.path",
                      "ip.src.asnum", "ip.src.country"})), _RATE_LIMITING)
_RL_PATH = frozenset({"http.request.uri.path", "cf.bot_management.verified_bot", "cf.client.bot"})
_RL_URI = _RL_PATH | {"http.host", "http.request.uri", "http.request.full_uri", "http.request.uri.query"}
_RL_BUSINESS = _RL_URI | {"http.request.method", "ip.src", "http.user_agent"}
# Enterprise: "general request fields, request header fields"; None = no field restriction beyond the
# Rules language's own per-plan fields.
RATE_LIMIT_EXPRESSION_FIELDS: Entitlement[frozenset[str] | None] = Entitlement(
    "fields in a rate limiting rule expression", _plans(_RL_PATH, _RL_URI, _RL_BUSINESS, None), _RATE_LIMITING)

# ---- WAF custom rules, managed rulesets --------------------------------------------------------

CUSTOM_RULES: Entitlement[int] = Entitlement("WAF custom rules", _plans(5, 20, 100, 1000), _CUSTOM_RULES)
CUSTOM_RULE_LOG_ACTION: Entitlement[bool] = Entitlement(
    "the log action in WAF custom rules", _from(ZonePlan.ENTERPRISE), _CUSTOM_RULES)
REGEX_MATCHES: Entitlement[bool] = Entitlement(
    "regular expressions (the matches operator)", _from(ZonePlan.BUSINESS), _CUSTOM_RULES)

FREE_MANAGED_RULESET = "77454fe2d30c4220b5701f6fdfb893ba"
CLOUDFLARE_MANAGED_RULESET = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE_RULESET = "4814384a9e5d4991b9815dcfc25d2f1f"
MANAGED_RULESETS: dict[str, Entitlement[bool]] = {
    FREE_MANAGED_RULESET: Entitlement("the Free Managed Ruleset", _from(ZonePlan.FREE), _MANAGED_RULES),
    CLOUDFLARE_MANAGED_RULESET: Entitlement("the Cloudflare Managed Ruleset", _from(ZonePlan.PRO), _MANAGED_RULES),
    OWASP_CORE_RULESET: Entitlement("the Cloudflare OWASP Core Ruleset", _from(ZonePlan.PRO), _MANAGED_RULES),
}

# ---- cache rules, transform rules --------------------------------------------------------------

CACHE_RULES: Entitlement[int] = Entitlement("cache rules", _plans(10, 25, 50, 300), _CACHE_RULES)
CUSTOM_CACHE_KEY: Entitlement[bool] = Entitlement(
    "a custom cache key (query string, headers, cookie, host, user)", _from(ZonePlan.ENTERPRISE), _CACHE_KEYS)
TRANSFORM_RULES: Entitlement[int] = Entitlement("response header transform rules", _plans(10, 25, 50, 300),
                                                _TRANSFORM_RULES)

# ---- health checks -----------------------------------------------------------------------------

HEALTH_CHECKS: Entitlement[int] = Entitlement("standalone health checks", _plans(0, 10, 50, 1000), _HEALTH_CHECKS)

# ---- notification (alert) types ----------------------------------------------------------------

# Alert types whose availability is a zone plan. Types not listed are available on every plan or
# depend on a product purchase rather than the plan (Load Balancing, Access, Zero Trust).
ALERT_TYPES: dict[str, Entitlement[bool]] = {
    alert_type: Entitlement(f"the {title} notification ({alert_type})", _from(plan), _NOTIFICATIONS)
    for alert_type, title, plan in (
        ("health_check_status_notification", "Health Checks status", ZonePlan.PRO),
        ("billing_usage_alert", "Usage Based Billing", ZonePlan.PRO),
        ("clickhouse_alert_fw_anomaly", "Security Events", ZonePlan.BUSINESS),
        ("clickhouse_alert_fw_ent_anomaly", "Advanced Security Events", ZonePlan.ENTERPRISE),
        ("http_alert_origin_error", "Origin Error Rate", ZonePlan.ENTERPRISE),
        ("http_alert_edge_error", "Edge Error Rate", ZonePlan.ENTERPRISE),
        ("advanced_http_alert_error", "Advanced Error Rate", ZonePlan.ENTERPRISE),
        ("traffic_anomalies_alert", "Traffic Anomalies", ZonePlan.ENTERPRISE),
        ("advanced_ddos_attack_l7_alert", "Advanced HTTP DDoS Attack", ZonePlan.ENTERPRISE),
    )
}


def refusal(key: str, entitlement: Entitlement, plan: ZonePlan, accepts, what: str) -> str | None:
    """One problem line when `plan` does not satisfy `accepts`, else None.

    Names the key, the feature, the plan declared and the lowest plan that has it (or that none does).
    """
    if accepts(entitlement.at(plan)):
        return None
    lowest = entitlement.lowest_plan(accepts)
    where = (f"the {lowest.title} plan or higher has it" if lowest is not None
             else "no Cloudflare plan has it")
    return (f"{key}: {what} needs {entitlement.feature}, which the {plan.title} plan declared in zone.plan "
            f"does not include; {where} (source: {entitlement.source})")
