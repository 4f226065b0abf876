"""The inventory: committed files valid against their schema, and `chittyos-edge inventory` refreshing one from
recorded Cloudflare API responses (an httpx.MockTransport given to the official SDK: never the network)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import yaml

from chittyos_edge import cli
from chittyos_edge.inventory import command, load
from chittyos_edge.inventory.model import Inventory, json_schema
from tests.conftest import PROJECT
from tests.conftest import ROOT as PROJECT_ROOT

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "cloudflare_api.json").read_text())


class RecordedApi:
    """Answers the SDK from the recorded responses; later pages of a paginated list are empty."""

    def __init__(self, status: int = 200):
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"success": False, "errors": [
                {"code": 10000, "message": "Authentication error"}], "messages": [], "result": None})
        key = f"{request.method} {request.url.path}"
        if key not in RECORDED:
            return httpx.Response(404, json={"success": False, "errors": [{"code": 7003, "message": f"no {key}"}],
                                             "messages": [], "result": None})
        body = json.loads(json.dumps(RECORDED[key]))
        page = int(parse_qs(request.url.query.decode()).get("page", ["1"])[0])
        if page > 1 and isinstance(body["result"], list):
            body["result"] = []
        return httpx.Response(200, json=body)

    def client(self):
        from cloudflare import Cloudflare

        return Cloudflare(api_token="recorded-token", max_retries=0,
                          http_client=httpx.Client(transport=httpx.MockTransport(self)))


@pytest.fixture
def api():
    return RecordedApi()


def refreshed(tmp_path, stack, api) -> Inventory:
    target, _ = command.refresh(stack, PROJECT, tmp_path / f"{stack}.yaml", client=api.client())
    return Inventory.model_validate(yaml.safe_load(target.read_text()))


def test_the_committed_inventories_are_valid_and_recorded_from_documents():
    for stack in ("staging", "production"):
        inventory = load(stack, PROJECT_ROOT)
        assert inventory.stack.value == stack and inventory.refreshed_at is None
        assert all(entry.source.value == "documents" for section in
                   (inventory.workers, inventory.kv_namespaces, inventory.d1_databases, inventory.queues)
                   for entry in section)
    production = load("production", PROJECT_ROOT)
    assert production.worker("chittyconnect").url == "https://chittyconnect.ccorp.workers.dev"
    assert production.worker("chittyconnect").queue_consumers is None, "not recorded, so unknown"
    staging = load("staging", PROJECT_ROOT)
    assert staging.d1_databases[0].id == "29473911-4c5b-47d8-a3e7-d1be2370edf6"
    assert staging.d1_databases[0].tables == ["contexts", "installations"]


def test_the_committed_schema_is_the_models():
    committed = json.loads((PROJECT_ROOT / "schemas" / "inventory.schema.json").read_text())
    assert committed == json_schema(), "regenerate: chittyos-edge inventory --schema > schemas/inventory.schema.json"


def test_refresh_parses_the_account_into_the_production_file(tmp_path, api):
    inventory = refreshed(tmp_path, "production", api)
    assert inventory.refreshed_at and all(w.source.value == "account" for w in inventory.workers)
    assert [w.name for w in inventory.workers] == ["chittyconnect", "chittyid"]
    connect = inventory.worker("chittyconnect")
    assert connect.workers_dev is True and connect.tag == "8f3b2c1d0e9a4b7c6d5e4f3a2b1c0d9e"
    assert [(c.queue, c.id) for c in connect.queue_consumers] == [("github-events", "c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6")]
    assert (connect.logpush, connect.observability) == (False, False)
    other = inventory.worker("chittyid")
    assert [(d.hostname, d.id) for d in other.custom_domains] == [("id.chitty.cc", "d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")]
    assert [r.pattern for r in other.routes] == ["id.chitty.cc/v2/*"]
    titles = {kv.id: kv.title for kv in inventory.kv_namespaces}
    assert titles["d8051882226b470ba10035b30447a8b7"] == "chittyconnect-TOKEN_KV"
    assert "chittyops-sessions-staging" not in titles.values(), "named for staging"
    assert [d.name for d in inventory.d1_databases] == ["chittyconnect-production"], "the staging database is staging's"
    assert [q.name for q in inventory.queues] == ["github-events"]
    assert [b.name for b in inventory.r2_buckets] == ["chittyconnect-documents"]
    assert [t.name for t in inventory.tunnels] == ["1password-connect-chittyos"]
    assert [(r.name, r.proxied) for r in inventory.dns_records] == [
        ("id.chitty.cc", True), ("mail.chitty.cc", False), ("registry.chitty.cc", True)]
    assert {request.method for request in api.requests} == {"GET"}, "a read-only refresh"
    assert all(request.url.host == "api.cloudflare.com" for request in api.requests)


def test_refresh_gives_staging_only_what_is_staging(tmp_path, api):
    inventory = refreshed(tmp_path, "staging", api)
    assert [w.name for w in inventory.workers] == ["chittyconnect-staging"]
    assert [d.name for d in inventory.d1_databases] == ["chittyconnect"], "adopted by the staging stack file"
    assert [kv.title for kv in inventory.kv_namespaces] == ["chittyops-sessions-staging"]
    assert [q.name for q in inventory.queues] == ["github-events-staging"]
    assert [r.name for r in inventory.dns_records] == ["connect-staging.chitty.cc"]
    assert inventory.r2_buckets == [] and inventory.tunnels == []


def test_the_refreshed_file_feeds_the_gate_and_config_checks(tmp_path, api):
    inventory = refreshed(tmp_path, "production", api)
    assert inventory.proxied_hostnames()["id.chitty.cc"].startswith("proxied DNS record")
    assert "mail.chitty.cc" not in inventory.proxied_hostnames()
    assert inventory.objects()[("queue", "b6e4e4981f644ce395645c5118ee0e94")] == ("queue github-events", "github-events")


def test_the_command_writes_the_file_and_reports_changes(tmp_path, api, monkeypatch, capsys):
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "recorded-token")
    monkeypatch.setattr(command, "CLIENT_FACTORY", lambda token: api.client())
    out = tmp_path / "production.yaml"
    assert cli.main(["inventory", "--stack", "production", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"inventory of production written to {out}" in printed
    assert out.read_text().startswith("# What already runs in the Cloudflare account")
    assert Inventory.model_validate(yaml.safe_load(out.read_text())).stack.value == "production"


def test_the_command_needs_a_token(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    assert cli.main(["inventory", "--stack", "staging", "--out", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert "export CLOUDFLARE_API_TOKEN with a read-only API token" in err and "Traceback" not in err


def test_an_api_refusal_is_one_line_not_a_traceback(monkeypatch, capsys, tmp_path):
    refused = RecordedApi(status=403)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "wrong")
    monkeypatch.setattr(command, "CLIENT_FACTORY", lambda token: refused.client())
    assert cli.main(["inventory", "--stack", "production", "--out", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err
    assert "Cloudflare API: PermissionDeniedError" in err and "read permissions" in err
    assert not (tmp_path / "x.yaml").exists()


def test_a_malformed_inventory_is_a_config_error_naming_the_key(tmp_path):
    from chittyos_edge.config import ConfigError

    (tmp_path / "inventory").mkdir()
    text = (PROJECT_ROOT / "inventory" / "production.yaml").read_text().replace("workersDev: true", "workersDev: maybe")
    (tmp_path / "inventory" / "production.yaml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load("production", tmp_path)
    assert "inventory/production.yaml: workers[0].workersDev" in str(error.value)
