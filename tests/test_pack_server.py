"""The pack's lean server (policies/pack_server.py) answers exactly as pulumi_policy's own.

Both servicers run in this process behind the gate's own client (an in-process stub in place of
the gRPC channel), every rule on, on the real plans and on a production plan carrying every
rule's forbidden change at once, and must produce the same findings. The installed
pulumi_policy must be one the lean server was written for, so an upgrade is reviewed rather
than silently served by the slower stock server.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest

from chittyos_edge.gate.client import PolicyPackProcess
from policies import pack_server
from policies.chittyos_guard import PACK_NAME, policies
from tests.test_policies_pack import MUTATIONS, Pack


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


def pack_on(servicer_class: type) -> Pack:
    from pulumi_policy import EnforcementLevel

    process = PolicyPackProcess("chittyos-edge", "production")
    process.stub = InProcessStub(servicer_class(PACK_NAME, "0.0.1", policies(), EnforcementLevel.MANDATORY))
    return Pack(process)


@pytest.fixture(scope="module")
def packs() -> tuple[Pack, Pack]:
    stock = pack_server._library._PolicyAnalyzerServicer
    assert not issubclass(stock, pack_server.DecodeOnce), "this process must still have the stock servicer"
    return pack_on(stock), pack_on(pack_server.servicer_class(stock))


def test_the_installed_pulumi_policy_is_one_the_lean_server_supports():
    assert pack_server.supported()


@pytest.mark.parametrize("stack", ["production", "staging"])
def test_the_real_plans_get_the_same_findings(packs, plans, stack):
    stock, lean = packs
    assert lean.findings(plans[stack]) == stock.findings(plans[stack])


def test_a_plan_breaking_every_rule_gets_the_same_findings(packs, production):
    stock, lean = packs
    plan, changed = copy.deepcopy(production), set()
    for rule_id, _, mutate in MUTATIONS:
        trial = copy.deepcopy(plan)
        try:
            mutate(trial)
        except (LookupError, AssertionError, TypeError, AttributeError):  # an earlier change removed its target
            continue
        plan = trial
        changed.add(rule_id)
    expected = stock.findings(plan)
    assert lean.findings(plan) == expected
    # Messages are the same at every run: a value is shown as itself, never as a proxy object's repr.
    assert not [f.message for f in expected if " object at 0x" in f.message]
    reported = {f.rule_id for f in expected} & changed
    assert len(reported) >= 0.9 * len(changed) >= 0.9 * 0.9 * len({r for r, _, _ in MUTATIONS}), (
        "the comparison must cover (nearly) every rule")
