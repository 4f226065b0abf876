"""Serve the policy pack over gRPC: what `pulumi preview --policy-pack policies` and
`chittyos-edge gate` start. `PolicyPack(...)` blocks forever, so it lives here alone.

The CLI runs it as `python -u -m pulumi.policy <engine> .` in `policies/` (and so does the gate),
which puts `policies/` on sys.path: the rules are imported as the top-level package `chittyos_guard`.
`pack_server` makes the server lean (each resource decoded once per request, no cyclic collections
of the imported SDK): see its docstring.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

import pack_server
from chittyos_guard import PACK_NAME, policies

pack_server.install()
pack_server.settle_after_imports()

PolicyPack(
    name=PACK_NAME,
    policies=policies(),
    enforcement_level=EnforcementLevel.MANDATORY,
    description="Cloudflare production readiness checklist of ChittyOS, enforced per stack.",
)
