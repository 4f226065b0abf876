"""How the pack process runs: pulumi_policy's own server, made lean for big stacks.

- Each resource is decoded once per request. pulumi_policy 1.21 decodes a resource's properties
  (protobuf Struct to dict to unknown-checking proxy) inside its loop over the policies: in
  `AnalyzeStack` every resource again for each stack policy, in `Analyze` again for each
  resource policy. On a 2,000-resource stack that was 59 % of the pack's time. `DecodeOnceServicer`
  is the library's servicer with that decoding (and the parent/dependency linking) moved out of the
  loop; everything else, the diagnostics included, is the library's own code path. The policies
  share the decoded resources, which they only read (a policy reports violations; it never writes
  its arguments).
- The library looks up the signature of `pulumi.runtime.Settings` on every request (a sixth of an
  `Analyze`); it is looked up once.
- It replaces the library's servicer only for the pulumi_policy versions it was written against
  (SUPPORTED); with any other version the pack runs on the stock server, slower but the same.
- No cyclic collections of the imported SDK: `settle_after_imports` freezes what the imports made
  (the collector never walks it again) and collects young objects rarely. A request's garbage is
  freed by reference counting: the decoded trees hold no cycles.

`policies/__main__.py` calls both. This module never imports the program, like the rules.
"""

from __future__ import annotations

import asyncio
import functools
import gc
from inspect import isawaitable
from typing import Any, NamedTuple

from pulumi.runtime import proto
from pulumi_policy import (EnforcementLevel, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy,
                           StackValidationArgs, StackValidationPolicy)
from pulumi_policy import policy as _library
from pulumi_policy.proxy import UnknownValueError
from pulumi_policy.version import VERSION

SUPPORTED = ("1.21.",)
# Young objects between collections (the default is 700): a request allocates far more than that,
# all of it short-lived or kept until the reply, so frequent young collections only re-walk it.
YOUNG_COLLECTION_THRESHOLD = 50_000


def settle_after_imports() -> None:
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, older, oldest)


class _Decoded(NamedTuple):
    resource: Any  # PolicyResource
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]


def supported() -> bool:
    """Whether DecodeOnce was written against this pulumi_policy (its servicer's internals)."""
    stock = getattr(_library, "_PolicyAnalyzerServicer", None)
    needed = ("_get_enforcement_level", "_create_report_violation", "_get_resource_options",
              "_get_provider_resource", "_get_policy_config", "_configure_runtime_settings",
              "_map_enforcement_level", "Analyze", "AnalyzeStack")
    return (VERSION.startswith(SUPPORTED) and stock is not None and all(hasattr(stock, n) for n in needed)
            and hasattr(_library, "signature"))


def servicer_class(stock: type | None = None) -> type:
    """pulumi_policy's servicer with the decoding moved out of the policy loops."""
    stock = stock or _library._PolicyAnalyzerServicer
    return stock if issubclass(stock, DecodeOnce) else type("DecodeOnceServicer", (DecodeOnce, stock), {})


def install() -> bool:
    """Have `PolicyPack(...)` serve with DecodeOnce; False (the stock server) on another pulumi_policy."""
    if not supported():
        return False
    _library._PolicyAnalyzerServicer = servicer_class()
    # The library inspects `pulumi.runtime.Settings`'s signature on every request (a sixth of an
    # Analyze) for its one use of `signature`; a class's signature does not change, so once is enough.
    if not hasattr(_library.signature, "cache_info"):
        _library.signature = functools.lru_cache(maxsize=None)(_library.signature)
    return True


class DecodeOnce:
    """Mixed into pulumi_policy's `_PolicyAnalyzerServicer`; `Analyze` and `AnalyzeStack` are the
    library's, loop for loop, except where the decoding happens."""

    def _private(self, name: str) -> Any:
        return getattr(self, f"_PolicyAnalyzerServicer__{name}")

    def _props(self, properties: Any) -> Any:
        # The library's decoding as its module holds it at call time, as its own loop calls it: a
        # wrapper installed there (chittyos_guard keeps the engine's secret marks so) applies here too.
        return _library.unknown_checking_proxy(_library.deserialize_properties(
            _library.json_format.MessageToDict(properties)))

    def _reporter(self, policy: Any, level: Any, response: Any) -> Any:
        """The library's report callback for a policy (remediate reports as mandatory, as there)."""
        if level == EnforcementLevel.REMEDIATE:
            level = EnforcementLevel.MANDATORY
        return self._create_report_violation(response, policy.name, policy.description, level, policy.severity)

    def _run(self, policy: Any, args: Any, report: Any, response: Any) -> None:
        """One policy's validate, with the library's handling of async, unknown and not-applicable."""
        try:
            result = policy.validate(args, report)
            if isawaitable(result):
                loop = asyncio.new_event_loop()
                task = asyncio.Task(result, loop=loop)
                loop.run_until_complete(task)
                loop.close()
        except UnknownValueError as e:
            name, version = self._private("policy_pack_name"), self._private("policy_pack_version")
            response.diagnostics.append(proto.AnalyzeDiagnostic(
                policyName=policy.name, policyPackName=name, policyPackVersion=version,
                message=(f"can't run policy '{policy.name}' from policy pack '{name}@v{version}' "
                         f"during preview: {e.message}"),
                urn="", description=policy.description,
                enforcementLevel=self._map_enforcement_level(EnforcementLevel.ADVISORY)))
        except _library._NotApplicableError as e:
            response.not_applicable.append(proto.PolicyNotApplicable(policy_name=policy.name, reason=e.reason or ""))

    def Analyze(self, request: Any, _context: Any) -> Any:  # noqa: N802 - gRPC method name
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        decoded: tuple[Any, Any, Any] | None = None
        for policy in self._private("policies"):
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, ResourceValidationPolicy):
                continue
            if not policy.has_validation():
                response.not_applicable.append(proto.PolicyNotApplicable(
                    policy_name=policy.name, reason="Policy does not implement validate"))
                continue
            report = self._reporter(policy, level, response)
            if decoded is None:
                decoded = (self._props(request.properties), self._get_resource_options(request),
                           self._get_provider_resource(request))
            props, opts, provider = decoded
            args = ResourceValidationArgs(request.type, props, request.urn, request.name, opts, provider,
                                          self._get_policy_config(policy.name), self._private("stack_tags"))
            self._run(policy, args, report, response)
        return response

    def _stack_resources(self, request: Any) -> list[Any]:
        decoded = [
            _Decoded(PolicyResource(r.type, self._props(r.properties), r.urn, r.name, self._get_resource_options(r),
                                    self._get_provider_resource(r), None, [], {}),
                     r.parent, list(r.dependencies), {k: list(v.urns) for k, v in r.propertyDependencies.items()})
            for r in request.resources]
        by_urn = {d.resource.urn: d.resource for d in decoded}
        for d in decoded:
            if d.parent is not None and d.parent in by_urn:
                d.resource.parent = by_urn[d.parent]
            d.resource.dependencies.extend(by_urn[u] for u in d.dependencies if u in by_urn)
            for key, urns in d.property_dependencies.items():
                d.resource.property_dependencies[key] = [by_urn[u] for u in urns if u in by_urn]
        return [d.resource for d in decoded]

    def AnalyzeStack(self, request: Any, _context: Any) -> Any:  # noqa: N802 - gRPC method name
        self._configure_runtime_settings()
        response = proto.AnalyzeResponse()
        resources: list[Any] | None = None
        for policy in self._private("policies"):
            level = self._get_enforcement_level(policy)
            if level == EnforcementLevel.DISABLED or not isinstance(policy, StackValidationPolicy):
                continue
            report = self._reporter(policy, level, response)
            if resources is None:
                resources = self._stack_resources(request)
            # A list of its own per policy: the resources are shared, their order is not.
            args = StackValidationArgs(list(resources), self._get_policy_config(policy.name),
                                       self._private("stack_tags"))
            self._run(policy, args, report, response)
        return response
