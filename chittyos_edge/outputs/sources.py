"""Where stack outputs come from: the offline plan, `pulumi stack output --json` text, a state backend.

Every source ends in `parse_outputs`, which validates the outputs against the contract, so a
renderer only ever sees a `StackOutputs`. Secrets stay as the source gave them: the offline plan
and the state backend give placeholders, `pulumi stack output --json --show-secrets` gives values.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from pydantic import ValidationError

from ..outputs_contract import StackOutputs
from .errors import OutputsError

REDACTED = "[secret]"
_PLACEHOLDER_RE = re.compile(r"^\[secret(:[^\]]*)?\]$")


def is_redacted(value: Any) -> bool:
    """A secret the source did not reveal: `[secret]` (pulumi, backend) or `[secret:<name>]` (plan)."""
    return isinstance(value, str) and bool(_PLACEHOLDER_RE.match(value))


def parse_outputs(raw: Any, *, stack: str, origin: str) -> StackOutputs:
    """Validate raw stack outputs against the contract; OutputsError names the output and the fix."""
    if not isinstance(raw, Mapping):
        raise OutputsError(f"{origin}: stack outputs must be a JSON object of output name -> value, "
                           f"got {type(raw).__name__}")
    if "contractVersion" not in raw:
        found = ", ".join(sorted(raw)) or "none"
        raise OutputsError(f"{origin}: no 'contractVersion' output (outputs found: {found}); these are not "
                           "outputs of chittyos-edge, or the stack was last updated before the contract existed: "
                           "run `pulumi up` first")
    try:
        outputs = StackOutputs.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            problems.append(f"{origin}: output {where}: {item['msg']}")
        raise OutputsError("\n".join(problems)) from None
    if outputs.environment.value != stack:
        raise OutputsError(f"{origin}: these are the outputs of the {outputs.environment.value!r} stack, "
                           f"not {stack!r}; check --stack and where the outputs came from")
    return outputs


def from_plan(stack: str, project: Any = None) -> StackOutputs:
    """Outputs of the offline plan of `project` (a `Project`; default: the one the working directory
    is in). Adopted ids are real; every id the plan made up is listed in `standIns`."""
    from ..plan import make_plan
    from ..plan.mocks import stand_in_values

    plan = make_plan(stack, project=project)
    made_up: set[str] = set().union(*(stand_in_values(record) for record in plan["resources"]))
    raw = dict(plan["outputs"])
    raw["standIns"] = sorted(_paths_of(raw, made_up))
    return parse_outputs(raw, stack=stack, origin=f"offline plan of {stack}")


def _paths_of(value: Any, wanted: set[str], path: str = "") -> list[str]:
    """Dotted paths of the string leaves of `value` that are in `wanted`."""
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in _paths_of(item, wanted, f"{path}.{key}" if path else key)]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _paths_of(item, wanted, f"{path}[{i}]")]
    return [path] if isinstance(value, str) and value in wanted else []


def from_json_text(text: str, *, stack: str, origin: str = "stdin") -> StackOutputs:
    """Outputs as `pulumi stack output --json [--show-secrets] --stack S` prints them."""
    if not text.strip():
        raise OutputsError(f"{origin}: no input; pipe `pulumi stack output --json --show-secrets --stack {stack}` "
                           "into this command")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise OutputsError(f"{origin}: not JSON ({error.msg} at line {error.lineno}); expected the output of "
                           f"`pulumi stack output --json --stack {stack}`") from None
    return parse_outputs(raw, stack=stack, origin=origin)


def from_backend(url: str, *, stack: str) -> StackOutputs:
    """Outputs recorded in the stack's checkpoint in a self-managed (S3-compatible) backend."""
    from .. import PROJECT
    from .backend import read_stack_outputs

    raw, origin = read_stack_outputs(url, project=PROJECT, stack=stack)
    return parse_outputs(raw, stack=stack, origin=origin)
