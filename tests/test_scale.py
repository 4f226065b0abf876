"""At any size: the gate passes a stack of thousands of resources, and its calls to the pack stay
bounded. Speed itself is measured in bench/, not asserted here."""

from __future__ import annotations

import json
import threading
from collections import Counter
from types import SimpleNamespace

import pytest

from chittyos_edge import cli
from chittyos_edge.gate import client
from chittyos_edge.plan import make_plan
from policies.chittyos_guard._expr import Requests, always, reaches
from policies.chittyos_guard._rule import RULESET, Lookup
from tests.conftest import stack_file_config
from synthetic_stack import TENANT, count_resources, grow, synthetic_plan

KV = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"


@pytest.fixture(scope="module")
def one_tenant():
    """The production stack with one synthetic tenant, planned for real."""
    return make_plan("production", file_config=grow(stack_file_config("production"), 1))


def test_a_grown_plan_gives_each_copy_its_own_names_and_stores(one_tenant):
    plan = synthetic_plan(one_tenant, 400)
    assert count_resources(plan) >= 400
    urns = Counter(r["urn"] for r in plan["resources"])
    assert not [urn for urn, n in urns.items() if n > 1]
    kv_ids = {r["inputs"]["title"]: client_id(r) for r in plan["resources"] if r["type"] == KV}
    for index in (2, 17):
        tenant = TENANT.format(index)
        code = next(r for r in plan["resources"] if f"-{tenant}-" in r["name"] and r["inputs"].get("bindings"))
        bound = next(b["namespaceId"] for b in code["inputs"]["bindings"] if b["type"] == "kv_namespace")
        assert bound == kv_ids[f"{tenant}-cache-production"]


def client_id(record):
    from chittyos_edge.gate.sources import plan_outputs

    return plan_outputs(record)["id"]


def test_the_gate_passes_a_4000_resource_stack(one_tenant, tmp_path, capsys):
    plan = synthetic_plan(one_tenant, 4000)
    assert count_resources(plan) >= 4000
    path = tmp_path / "production.json"
    path.write_text(json.dumps(plan))
    code = cli.main(["gate", "--plan", str(path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err or out
    report = json.loads(out)
    assert report["stacks"][0]["resources"] == len(plan["resources"])
    assert report["summary"]["mandatory"] == 0


class _Call:
    """A pending Analyze call of the fake stub: answers when its result is asked for."""

    def __init__(self, stub, request):
        self.stub, self.request = stub, request

    def result(self):
        from pulumi.runtime.proto import analyzer_pb2

        with self.stub.lock:
            self.stub.in_flight -= 1
        return analyzer_pb2.AnalyzeResponse(diagnostics=[analyzer_pb2.AnalyzeDiagnostic(
            policyName="p", message=self.request.name, description="", urn=self.request.urn)])

    def cancel(self):
        return True


class _Stub:
    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = self.most = 0

    def future(self, request, timeout=None):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        return _Call(self, request)


def test_analyze_calls_in_flight_are_bounded_and_results_keep_their_order():
    stub = _Stub()
    pack = client.PolicyPackProcess("chittyos-edge", "production")
    pack.stub = SimpleNamespace(Analyze=SimpleNamespace(future=stub.future))
    records = [{"urn": f"urn:pulumi:production::chittyos-edge::t::r{i}", "type": "t", "name": f"r{i}",
                "inputs": {"i": i}} for i in range(3 * client.ANALYZE_WINDOW + 5)]
    diagnostics = pack.analyze_each(records)
    assert [d.message for d in diagnostics] == [r["name"] for r in records]
    assert stub.most == client.ANALYZE_WINDOW


# ---- the rules' indexes answer as the scans they replace -----------------------------------

def test_a_lookup_finds_what_a_scan_finds():
    items = [("a", 1), (None, 2), (["x"], 3), ("a", 4), ({"k": 1}, 5), ("b", 6)]
    lookup = Lookup(items, lambda item: [("value", item[0]), ("odd", item[1] % 2)])
    for wanted in ("a", None, ["x"], {"k": 1}, "missing"):
        assert lookup.find(("value", wanted)) == [item for item in items if item[0] == wanted]
    assert lookup.find(("value", "b"), ("odd", 1), ("value", "a")) == [
        item for item in items if item[0] in ("a", "b") or item[1] % 2 == 1]


HOST_TESTS = ['http.host contains "awareness"', 'ends_with(http.host, ".chitty.cc") and not http.host eq "api.chitty.cc"',
              'http.host wildcard "*.CHITTY.cc"', 'http.host ne "api.chitty.cc" xor starts_with(http.request.uri.path, "/ws")',
              'not http.host in {"connect.chitty.cc"} and http.cookie contains "session"', "", "(("]


def test_a_rule_tried_on_indexed_requests_answers_as_on_each_request(production):
    """`Requests` evaluates a rule once per path for the hosts it does not name."""
    expressions = {rule.get("expression") for r in production["resources"] if r["type"] == RULESET
                   for rule in r["inputs"].get("rules") or []} | set(HOST_TESTS)
    hosts = ["project-awareness.chitty.cc", "api.chitty.cc", "connect.chitty.cc", "elsewhere.chitty.cc", ""]
    paths = ["/", "/api/auth/", "/ws", "/project-awareness/api/sessions/"]
    every = [(host, path) for host in hosts for path in paths]
    for group in (every, every[::-1], every[len(paths):], *([(host, path) for path in paths] for host in hosts)):
        requests = Requests(group)
        for expression in expressions:
            assert requests.reaching(expression) == [
                i for i, (h, p) in enumerate(group) if reaches(expression, h, p)], expression
            assert requests.always_matching(expression, ("http.cookie",)) == [
                i for i, (h, p) in enumerate(group) if always(expression, h, p, ("http.cookie",))], expression
