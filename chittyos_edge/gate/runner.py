"""A gate run: plan or load each stack, run the policy pack over it through the Analyzer protocol,
add the gate's own checks, and collect the findings.

Speed: the pack is launched first (its process imports pulumi_policy while this one plans), then
reused for every stack; planning both stacks happens in this one process, importing
pulumi_cloudflare once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Callable, Sequence

from ..project import Project
from . import policy_config
from .client import Diagnostic, PolicyInfo, PolicyPackProcess
from .findings import Finding, GateReport, StackResult
from .gate_rules import (ADOPTS_WHAT_RUNS, GATE_RULES, NO_SHARED_IDS, RETAINED, GateRule, retained_problems,
                         shared_identifiers)
from .sources import StackInput, from_plan, from_plan_file, from_state_file


@dataclass(frozen=True)
class Source:
    kind: str  # "stack" | "plan" | "state"
    value: str

    def describe(self) -> str:
        return {"stack": f"plan of {self.value}", "plan": f"plan file {self.value}",
                "state": f"state file {self.value}"}[self.kind]


def load_source(source: Source, make_plan: Callable[[str], dict[str, Any]],
                stacks: Sequence[str] | None = None) -> StackInput:
    """The gate's input for one source; plan and state files must be of one of `stacks`."""
    if source.kind == "stack":
        return from_plan(make_plan(source.value), source.describe(), stacks)
    if source.kind == "plan":
        return from_plan_file(Path(source.value), stacks)
    return from_state_file(Path(source.value), stacks)


def _title(description: str, rule_id: str) -> str:
    prefix = f"{rule_id}: "
    return description[len(prefix):] if description.startswith(prefix) else description


def _finding(stack: str, diagnostic: Diagnostic, policies: dict[str, PolicyInfo]) -> Finding:
    info = policies.get(diagnostic.policy)
    rule_id = info.rule_id if info else diagnostic.policy
    return Finding(
        stack=stack, rule_id=rule_id, policy=diagnostic.policy,
        title=_title(info.description, rule_id) if info else "", severity=info.severity if info else "unspecified",
        enforcement=diagnostic.enforcement, message=diagnostic.message, urn=diagnostic.urn,
        remediation=info.remediation if info else "", checklist=info.checklist if info else "", source="pack")


def _gate_finding(stack: str, rule: GateRule, level: str, message: str, urn: str = "") -> Finding:
    return Finding(stack=stack, rule_id=rule.id, policy=rule.name, title=rule.title, severity=rule.severity,
                   enforcement=level, message=message, urn=urn, remediation=rule.remediation,
                   checklist=rule.checklist, source="gate")


def adoption_collisions(stack: StackInput, project: Project) -> list[tuple[str, str]]:
    """CF-ENV-004 over one plan, with the project's inventory and stack file of that stack."""
    from ..config import ConfigError
    from ..inventory import load
    from ..inventory.command import stack_settings
    from ..plan.runtime import PlanError
    from .collisions import collision_problems

    inventory = load(stack.stack, project.root)
    if inventory is None:
        return []
    try:
        settings = stack_settings(stack.stack, project)
    except (ConfigError, PlanError):
        settings = None  # a saved plan whose stack file is broken: findings still name the live objects
    return list(collision_problems(stack, inventory, settings))


class Gate:
    """One gate run over several stacks with one pack process."""

    def __init__(self, pack: PolicyPackProcess, config_dir: Path | None = None, project_root: str = ""):
        """`config_dir` holds `<stack>.json`; by default the project's `policies/config/`."""
        self.pack = pack
        self.config_dir = config_dir or Project.discover().policy_config_dir
        name, version, policies = pack.info()
        self.report = GateReport(pack=name, version=version, project_root=project_root)
        self.project_root = project_root
        self.policies = {p.name: p for p in policies}
        self.report.rules = [
            {"id": p.rule_id, "policy": p.name, "title": _title(p.description, p.rule_id), "severity": p.severity,
             "checklist": p.checklist, "remediation": p.remediation, "source": "pack"} for p in policies
        ] + [rule.info() for rule in GATE_RULES]
        # rule id -> the stack-file keys its fix changes, where findings point (locations.py)
        self.keys = {p.rule_id: p.keys for p in policies} | {rule.id: rule.keys for rule in GATE_RULES}
        self._configs: dict[str, dict[str, Any]] = {}

    def _config(self, stack: str) -> tuple[policy_config.Reconciled, dict[str, str], list[str]]:
        document = policy_config.load(stack, self.config_dir)
        where = str(policy_config.config_path(stack, self.config_dir))
        pack_config = policy_config.reconcile(self.policies.values(), document, where)
        gate_levels = policy_config.gate_levels(stack, self.config_dir)
        literal_ids = sorted({value for _, props in pack_config.values()
                              for value in props.get("allowedLiteralIds", []) or []})
        self._configs[stack] = {"levels": gate_levels, "literalIds": literal_ids}
        return pack_config, gate_levels, literal_ids

    def check(self, stack: StackInput) -> list[Finding]:
        pack_config, gate_levels, _ = self._config(stack.stack)
        self.pack.configure(stack.stack, stack.project, pack_config)
        findings = [_finding(stack.stack, d, self.policies) for d in self.pack.analyze_each(stack.resources)]
        for diagnostic in self.pack.analyze_stack(stack.resources):
            findings.append(_finding(stack.stack, diagnostic, self.policies))
        level = gate_levels[RETAINED.name]
        if level in ("mandatory", "advisory"):
            findings += [_gate_finding(stack.stack, RETAINED, level, message, urn)
                         for urn, message in retained_problems(stack)]
        level = gate_levels[ADOPTS_WHAT_RUNS.name]
        if level in ("mandatory", "advisory") and not stack.origin.startswith("state file"):
            findings += [_gate_finding(stack.stack, ADOPTS_WHAT_RUNS, level, message, urn)
                         for urn, message in adoption_collisions(stack, self._project())]
        enabled = sum(1 for level, _ in pack_config.values() if level != "disabled")
        levels = {name: level for name, (level, _) in pack_config.items()} | gate_levels
        self.report.stacks.append(StackResult(stack.stack, stack.origin, len(stack.resources), enabled, levels))
        self.report.findings += findings
        return findings

    def _project(self) -> Project:
        return Project.at(self.project_root) if self.project_root else Project.discover()

    def cross_check(self, first: StackInput, second: StackInput) -> list[Finding]:
        levels = [self._configs[s.stack]["levels"][NO_SHARED_IDS.name] for s in (first, second)]
        level = "mandatory" if "mandatory" in levels else "advisory" if "advisory" in levels else "disabled"
        if level == "disabled":
            return []
        pair = f"{first.stack}+{second.stack}"
        findings = [_gate_finding(pair, NO_SHARED_IDS, level, message)
                    for message in shared_identifiers(first, self._configs[first.stack]["literalIds"],
                                                      second, self._configs[second.stack]["literalIds"])]
        self.report.findings += findings
        return findings


def run_gate(sources: list[Source], *, project: Project | None = None,
             make_plan: Callable[[str], dict[str, Any]] | None = None,
             pack_dir: Path | None = None, config_dir: Path | None = None, diff: Any = None) -> GateReport:
    """Gate every source with one pack process; given two stacks, also check they share nothing.

    Everything comes from `project` (default: the one the working directory is in): the stacks it
    plans, the pack in its `policies/` and the policy config in `policies/config/`. `diff` (a
    `chittyos_edge.diff.DiffReport`, or a callable making one) adds its findings (CF-DATA-003);
    every finding is then located in the project's stack files (see `locations.py`).
    """
    from .locations import locate

    started_at = time.monotonic()
    project = project or Project.discover()
    if make_plan is None:
        from ..plan import make_plan as plan_stack

        def make_plan(stack: str) -> dict[str, Any]:
            return plan_stack(stack, project=project)

    stacks = project.stacks()
    first_stack = next((s.value for s in sources if s.kind == "stack"), stacks[0] if stacks else "")
    pack = PolicyPackProcess(project.name, first_stack, pack_dir=pack_dir or project.policies_dir).launch()
    # One worker checks each stack while the next one is planned: the checks mostly wait on the
    # pack process, the plans need this one.
    with ThreadPoolExecutor(max_workers=1) as worker:
        try:
            started = worker.submit(lambda: Gate(pack.__enter__(), config_dir or project.policy_config_dir,
                                                 project_root=str(project.root)))
            inputs, checks = [], []
            for source in sources:
                stack = load_source(source, make_plan, stacks)
                inputs.append(stack)
                checks.append(worker.submit(lambda s=stack: started.result().check(s)))
            for check in checks:
                check.result()
            gate = started.result()
            by_stack: dict[str, StackInput] = {}
            for stack in inputs:
                by_stack.setdefault(stack.stack, stack)
            for first, second in combinations(by_stack.values(), 2):
                gate.cross_check(first, second)
            if diff is not None:
                # Planned after the stacks, so that a stack's config error is reported as one first.
                diff = diff() if callable(diff) else diff
                gate.report.findings += diff.findings
                gate.report.diffed = [changes.stack for changes in diff.stacks]
            gate.report.locations = locate(gate.report.findings, {s.stack: s.resources for s in inputs}, project.root,
                                           keys=gate.keys)
            gate.report.seconds = time.monotonic() - started_at
            return gate.report
        finally:
            for future in (locals().get("checks") or []):
                future.cancel()
            worker.shutdown(wait=True, cancel_futures=True)
            pack.close()
