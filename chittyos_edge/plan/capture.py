"""A resource monitor that records every registration as the engine receives it.

Pulumi's MockMonitor hands mocks only the type, name and inputs. The engine sees more: parent,
dependencies, protect, retainOnDelete, importId, and which inputs are secret. This monitor keeps
the whole RegisterResourceRequest, decoded into the plan's resource records.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from .mocks import PlanMocks

SECRET_SIG = rpc._special_secret_sig
RESOURCE_SIG = rpc._special_resource_sig
SIG_KEY = rpc._special_sig_key
UNKNOWN = rpc.UNKNOWN


def decode_value(value: Any, path: str, secret_paths: list[str]) -> Any:
    """Turn the wire form into plain JSON; note where secrets were (their value is kept, as offline
    every secret is a placeholder)."""
    if isinstance(value, dict):
        sig = value.get(SIG_KEY)
        if sig == SECRET_SIG:
            secret_paths.append(path)
            return decode_value(value.get("value"), path, [])
        if sig == RESOURCE_SIG:
            return {"urn": value.get("urn"), "id": value.get("id")}
        return {k: decode_value(v, f"{path}.{k}" if path else k, secret_paths) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [decode_value(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    if value == UNKNOWN:
        return "[unknown]"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


class CapturingMonitor(MockMonitor):
    def __init__(self, mocks: PlanMocks):
        super().__init__(mocks)
        self.plan_mocks = mocks
        self.records: list[dict[str, Any]] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        _ensure_event_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        secret_paths: list[str] = []
        raw = json_format.MessageToDict(request.object) if request.HasField("object") else {}
        inputs = decode_value(raw, "", secret_paths)
        self.records.append({
            "urn": urn,
            "type": request.type,
            "name": request.name,
            "parent": request.parent or None,
            "custom": bool(request.custom),
            "inputs": inputs,
            "dependencies": sorted(set(request.dependencies)),
            "propertyDependencies": {k: sorted(set(v.urns)) for k, v in sorted(request.propertyDependencies.items())},
            "protect": bool(request.protect) if request.HasField("protect") else False,
            "retainOnDelete": bool(request.retainOnDelete) if request.HasField("retainOnDelete") else False,
            "deleteBeforeReplace": bool(request.deleteBeforeReplace),
            "importId": request.importId or None,
            "secretInputs": sorted(set(secret_paths)),
        })
        if request.type == "pulumi:pulumi:Stack" or not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        plain_inputs = rpc.deserialize_properties(request.object)
        rid = self.plan_mocks.resource_id(urn, request.type, inputs, request.importId)
        state = self.plan_mocks.resource_state(urn, request.type, rid, plain_inputs)
        obj = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, rid, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=rid, object=obj)
