"""The pack's lean server (policies/pack_server.py) answers exactly as pulumi_policy's own.

Both servicers run in this process behind the gate's own client (an in-process stub in place of
the gRPC channel), on the real plans and on every rule's failing fixtures, and must produce the
same findings; and the installed pulumi_policy must be one the lean server was written for, so an
upgrade is reviewed rather than silently served by the slower stock server.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chittyos_edge.gate.client import PolicyPackProcess
from chittyos_edge.gate.runner import Gate
from chittyos_edge.gate.sources import from_plan
from policies import pack_server
from policies.chittyos_guard import PACK_NAME, policies
from policy_fixtures import FAILING, broken, compliant_stack


class InProcessStub:
    """The Analyzer stub the gate's client calls, answered by a servicer object in this process."""

    def __init__(self, servicer: Any):
        self.servicer = servicer

    def __getattr__(self, method: str):
        handler = getattr(self.servicer, method)

        def call(request, timeout=None):
            return handler(request, None)

        call.future = lambda request, timeout=None: SimpleNamespace(result=lambda: call(request),
                                                                     cancel=lambda: True)
        return call


def gate_on(servicer_class: type) -> Gate:
    from pulumi_policy import EnforcementLevel

    pack = PolicyPackProcess("chittyos-edge", "production")
    pack.stub = InProcessStub(servicer_class(PACK_NAME, "0.0.1", policies(), EnforcementLevel.MANDATORY))
    return Gate(pack)


@pytest.fixture(scope="module")
def gates() -> tuple[Gate, Gate]:
    stock = pack_server._library._PolicyAnalyzerServicer
    assert not issubclass(stock, pack_server.DecodeOnce), "this process must still have the stock servicer"
    return gate_on(stock), gate_on(pack_server.servicer_class(stock))


def findings(gate: Gate, plan: dict[str, Any]) -> list:
    return gate.check(from_plan(plan, f"plan of {plan['stack']}"))


def fixture_plan(stack) -> dict[str, Any]:
    return {"formatVersion": 1, "project": "chittyos-edge", "stack": stack.env, "resources": stack.records,
            "outputs": {}}


def test_the_installed_pulumi_policy_is_one_the_lean_server_supports():
    assert pack_server.supported()


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_real_plans_get_the_same_findings(gates, plans, stack):
    stock, lean = gates
    assert findings(lean, plans[stack]) == findings(stock, plans[stack])


def test_each_rules_failing_fixture_gets_the_same_findings(gates):
    stock, lean = gates
    flagged = set()
    for rule_id in FAILING:
        stack = broken(rule_id, 0)
        expected = findings(stock, fixture_plan(stack))
        assert findings(lean, fixture_plan(stack)) == expected
        flagged |= {f.rule_id for f in expected}
    assert set(FAILING) <= flagged, "every rule reports, so the comparison covers each one"


@pytest.mark.parametrize("env", ["production", "staging"])
def test_the_compliant_fixture_gets_the_same_findings(gates, env):
    stock, lean = gates
    stack = compliant_stack(env)
    assert findings(lean, fixture_plan(stack)) == findings(stock, fixture_plan(stack))
