"""What the offline plan answers in place of Cloudflare: stable ids and computed outputs.

Ids are derived from each resource's URN (which holds the stack name), so they are stable from
run to run and differ between stacks, as real ids do. An adopted resource gets the id it was
imported with. Invokes are answered from the stack config; the account is a fresh one (no
script exists yet), except for Workers with a canary, which were deployed before.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from pulumi.runtime import Mocks, MockCallArgs, MockResourceArgs


def digest(text: str, length: int = 32) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def uuid_from(text: str) -> str:
    h = digest(text)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def zone_id_for(zone_name: str) -> str:
    """One zone serves both stacks, so its id depends on the zone name only."""
    return digest(f"zone:{zone_name}")


def id_from_import(import_id: str) -> str:
    """Cloudflare import ids are `<account>/<id>` (KV, D1, queues) or `<account>/<name>/<jurisdiction>` (R2)."""
    parts = import_id.split("/")
    if len(parts) >= 3 and parts[-1] in ("default", "eu", "fedramp"):
        return parts[1]
    return parts[-1]


# Computed outputs per resource type, by wire name: what the provider would fill in.
ComputedOutputs = Callable[[str, str, dict[str, Any]], dict[str, Any]]

_COMPUTED: dict[str, ComputedOutputs] = {
    "cloudflare:index/d1Database:D1Database": lambda urn, rid, inputs: {"uuid": rid},
    "cloudflare:index/queue:Queue": lambda urn, rid, inputs: {"queueId": rid},
    "cloudflare:index/zeroTrustAccessApplication:ZeroTrustAccessApplication":
        lambda urn, rid, inputs: {"aud": digest(f"aud:{urn}", 64)},
    "cloudflare:index/zeroTrustAccessServiceToken:ZeroTrustAccessServiceToken":
        lambda urn, rid, inputs: {"clientId": f"{digest(f'client:{urn}')}.access",
                                  "clientSecret": f"[secret:{inputs.get('name', 'serviceToken')}.clientSecret]"},
}

# Resources whose id is a name or a UUID rather than a 32-hex tag.
_ID_FROM: dict[str, Callable[[str, dict[str, Any]], str]] = {
    "cloudflare:index/workersScript:WorkersScript": lambda urn, inputs: inputs.get("scriptName") or digest(urn),
    "cloudflare:index/r2Bucket:R2Bucket": lambda urn, inputs: inputs.get("name") or digest(urn),
    "cloudflare:index/d1Database:D1Database": lambda urn, inputs: uuid_from(urn),
    "cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared": lambda urn, inputs: uuid_from(urn),
}


class PlanMocks(Mocks):
    """Answers resource registrations and invokes for one stack."""

    def __init__(self, zone_name: str, live_scripts: dict[str, str] | None = None):
        self.zone_name = zone_name
        # Scripts this stack deployed before (name -> live migration tag); see `deployed_before_canary`.
        self.live_scripts = dict(live_scripts or {})
        self.invokes: list[dict[str, Any]] = []

    def resource_id(self, urn: str, typ: str, inputs: dict[str, Any], import_id: str) -> str:
        if import_id:
            return id_from_import(import_id)
        make = _ID_FROM.get(typ)
        return make(urn, inputs) if make else digest(urn)

    def resource_state(self, urn: str, typ: str, rid: str, inputs: dict[str, Any]) -> dict[str, Any]:
        state = dict(inputs)
        computed = _COMPUTED.get(typ)
        if computed:
            state.update(computed(urn, rid, inputs))
        return state

    def outputs_of(self, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(id, outputs) this mock answered for a plan's resource record (custom resources)."""
        import_id = record.get("importId") or ""
        rid = self.resource_id(record["urn"], record["type"], record["inputs"], import_id)
        return rid, self.resource_state(record["urn"], record["type"], rid, dict(record["inputs"]))

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:  # pragma: no cover - unused
        raise NotImplementedError("the capturing monitor answers registrations itself")

    def call(self, args: MockCallArgs) -> dict:
        self.invokes.append({"token": args.token, "args": args.args})
        answer = INVOKES.get(args.token)
        if answer is None:
            raise KeyError(f"the offline plan has no answer for invoke {args.token}; add one to "
                           "chittyos_edge/plan/mocks.py INVOKES")
        return answer(self, args.args)


def stand_in_values(record: dict[str, Any]) -> set[str]:
    """The values the offline plan made up for one resource in place of Cloudflare's: its id, unless
    it was adopted (imported: the id is real) or is one of its own inputs (a name), and every
    computed output not equal to a real id. Secret placeholders are not ids and are left out."""
    if not record.get("custom"):
        return set()
    rid, state = PlanMocks(zone_name="").outputs_of(record)
    real = {rid} if record.get("importId") else set()
    given = {value for value in record["inputs"].values() if isinstance(value, str)}
    made_up = {rid} - real - given
    made_up |= {value for key, value in state.items() if key not in record["inputs"] and isinstance(value, str)
                and value not in real and not value.startswith("[secret")}
    return made_up


def _get_zone(mocks: PlanMocks, args: dict[str, Any]) -> dict[str, Any]:
    name = (args.get("filter") or {}).get("name") or mocks.zone_name
    zone_id = args.get("zoneId") or zone_id_for(name)
    return {"id": zone_id, "zoneId": zone_id, "name": name, "status": "active", "type": "full",
            "nameServers": ["ns1.example.invalid", "ns2.example.invalid"]}


def _tunnel_token(mocks: PlanMocks, args: dict[str, Any]) -> dict[str, Any]:
    return {"token": "[secret:tunnelToken]"}


def _zero_trust_organization(mocks: PlanMocks, args: dict[str, Any]) -> dict[str, Any]:
    """The account's Zero Trust organization: its auth domain names the Access team."""
    return {"accountId": args.get("accountId"), "authDomain": "offline-plan.cloudflareaccess.com",
            "name": "offline plan"}


INVOKES: dict[str, Callable[[PlanMocks, dict[str, Any]], dict[str, Any]]] = {
    "cloudflare:index/getZeroTrustOrganization:getZeroTrustOrganization": _zero_trust_organization,
    "cloudflare:index/getZone:getZone": _get_zone,
    "cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken": _tunnel_token,
}


# Scripts that already exist in the account: physical script name -> its live Durable Object
# migration tag. Empty: the offline plan models a fresh account, so every migration step is
# uploaded. Tests set entries (monkeypatch.setitem) to plan a re-deploy over a script at some tag.
LIVE_SCRIPTS: dict[str, str] = {}


def deployed_before_canary(settings: Any) -> dict[str, str]:
    """The one exception to the fresh account: a Worker with a canary (`services.<key>.canary`) was deployed
    before at 100 %, migrations included, so the plan models its script at the last migration tag of its
    Durable Object host. (A real preview reads the live tag, and refuses a canary while a step is pending.)"""
    from ..naming import physical_script_name

    hosts = {host.host_service: host for host in settings.durable_objects.values()}
    return {physical_script_name(service, settings.environment): hosts[key].migrations[-1].tag
            for key, service in settings.services.items() if service.canary is not None and key in hosts}


def _workers_scripts(mocks: PlanMocks, args: dict[str, Any]) -> dict[str, Any]:
    live = {**mocks.live_scripts, **LIVE_SCRIPTS}
    return {"accountId": args.get("accountId"),
            "results": [{"id": name, "migrationTag": tag} for name, tag in sorted(live.items())]}


INVOKES["cloudflare:index/getWorkersScripts:getWorkersScripts"] = _workers_scripts
