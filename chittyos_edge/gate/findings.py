"""A gate run's result: findings per stack, and the exit status they imply."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UNKNOWN_PREFIX = "[unknown at preview]"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class Finding:
    stack: str
    rule_id: str
    policy: str
    title: str
    severity: str
    enforcement: str  # mandatory | advisory
    message: str
    urn: str
    remediation: str
    checklist: str
    source: str  # "pack" (ran in the policy pack) or "gate" (checked by the gate itself)

    @property
    def resource(self) -> str:
        """`Type name` of the resource, or `stack` for a stack-wide finding."""
        if not self.urn:
            return "stack"
        parts = self.urn.split("::")
        return f"{parts[-2].split('$')[-1].rsplit(':', 1)[-1]} {parts[-1]}" if len(parts) >= 4 else self.urn

    @property
    def unknown(self) -> bool:
        return self.message.startswith(UNKNOWN_PREFIX)

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"

    def as_dict(self) -> dict[str, Any]:
        data = {_camel(k): v for k, v in asdict(self).items()}
        data.update(resource=self.resource, unknownAtPreview=self.unknown)
        return data


@dataclass
class StackResult:
    stack: str
    origin: str
    resources: int
    policies: int
    levels: dict[str, str] = field(default_factory=dict)  # policy name -> level in this stack's policy config


@dataclass
class GateReport:
    pack: str
    version: str
    project_root: str = ""  # the checkout gated (its policies/ ran, its stack files were planned)
    stacks: list[StackResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rules: list[dict[str, str]] = field(default_factory=list)
    diffed: list[str] = field(default_factory=list)  # stacks whose change from a base was checked (--diff)
    locations: dict[Finding, Any] = field(default_factory=dict)  # finding -> locations.Location
    seconds: float = 0.0

    @property
    def mandatory(self) -> list[Finding]:
        return [f for f in self.findings if f.mandatory]

    @property
    def advisory(self) -> list[Finding]:
        return [f for f in self.findings if not f.mandatory]

    @property
    def passed(self) -> bool:
        return not self.mandatory

    def sorted_findings(self) -> list[Finding]:
        order = {"mandatory": 0, "advisory": 1}
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        return sorted(self.findings, key=lambda f: (order.get(f.enforcement, 2), f.stack,
                                                    rank.get(f.severity, 4), f.rule_id, f.urn, f.message))
