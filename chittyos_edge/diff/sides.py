"""The two sides of `chittyos-edge diff BASE HEAD`: each a set of plans, one per stack.

A side is, in this order of checks:
- a plan file (`chittyos-edge plan --out FILE`): that one stack;
- a folder of plan files (`chittyos-edge plan --out-dir DIR`): `DIR/<stack>.json`;
- a folder holding a checkout of the project (a `Pulumi.yaml`): planned as it is on disk;
- otherwise a git revision of the repository the project is in: checked out with `git worktree
  add` into a temporary folder, planned there, and the worktree removed again, whatever happens.

A checkout or a revision is planned by its own code (`python -m chittyos_edge plan` with that tree
first on the import path, run inside it) with this environment's installed libraries: the base of a
pull request is planned as its own program would have registered it, not by the head's code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError

PLAN_TIMEOUT = 300


@dataclass
class Side:
    spec: str
    origin: str  # how reports name it, e.g. "revision main (3f2a1c0)" or "plan file base.json"
    plans: dict[str, dict[str, Any]]


def _read_plan(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"plan file {path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"plan file {path}: not a plan (not valid JSON: {error})") from None
    if not isinstance(document, dict) or not {"formatVersion", "stack", "resources"} <= set(document):
        raise UsageError(f"plan file {path}: not a chittyos-edge plan (make one with `chittyos-edge plan --out FILE`)")
    return document


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["git failed"])[-1]
        raise UsageError(f"git {' '.join(args)}: {message}")
    return done.stdout.strip()


def plan_checkout(project_dir: Path, stacks: list[str], label: str) -> dict[str, dict[str, Any]]:
    """Plan the stacks of the checkout in `project_dir` with its own code, in a child process."""
    with tempfile.TemporaryDirectory(prefix="chittyos-edge-plans-") as out:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(project_dir), *filter(None, [env.get("PYTHONPATH")])])
        env.pop("PULUMI_STACK", None)
        command = [sys.executable, "-m", "chittyos_edge", "plan", "--out-dir", out]
        for stack in stacks:
            command += ["--stack", stack]
        try:
            done = subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True,
                                  timeout=PLAN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise UsageError(f"{label}: planning took longer than {PLAN_TIMEOUT} s") from None
        if done.returncode != 0:
            lines = [line.removeprefix("chittyos-edge: error: ") for line in done.stderr.strip().splitlines()]
            detail = "; ".join(lines[-5:]) or f"exit status {done.returncode}"
            raise UsageError(f"{label}: its plan failed: {detail}")
        return {stack: _read_plan(Path(out) / f"{stack}.json") for stack in stacks}


def plan_revision(repo: Path, project_dir: Path, revision: str, stacks: list[str]) -> Side:
    """Plan `revision` in a temporary worktree of `repo` (removed again in every case)."""
    found = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                           capture_output=True, text=True)
    commit = found.stdout.strip() if found.returncode == 0 and revision else ""
    if not commit:
        raise UsageError(f"{revision!r} is neither a plan file, a folder of plans, a checkout nor a git revision "
                         f"of the repository at {repo}")
    short = commit[:12]
    relative = project_dir.resolve().relative_to(Path(_git(repo, "rev-parse", "--show-toplevel")).resolve())
    scratch = Path(tempfile.mkdtemp(prefix="chittyos-edge-diff-"))
    tree = scratch / "tree"
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        label = f"revision {revision} ({short})"
        checkout = tree / relative
        if not (checkout / "Pulumi.yaml").is_file():
            raise UsageError(f"{label}: no Pulumi.yaml in {relative.as_posix() or 'the repository root'}")
        return Side(revision, label if revision != short else f"revision {short}",
                    plan_checkout(checkout, stacks, label))
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def file_side(spec: str, stacks: list[str]) -> Side | None:
    """The side `spec` names when it is a plan file or a folder of plan files; None otherwise."""
    path = Path(spec)
    if path.is_file():
        plan = _read_plan(path)
        return Side(spec, f"plan file {spec}", {plan["stack"]: plan})
    if path.is_dir() and not (path / "Pulumi.yaml").is_file():
        found = {p.stem: p for p in sorted(path.glob("*.json"))}
        wanted = stacks or sorted(found)
        missing = [s for s in wanted if s not in found]
        if missing or not wanted:
            raise UsageError(f"{spec}: no plan file {', '.join(f'{s}.json' for s in missing) or '<stack>.json'} "
                             "(write them with `chittyos-edge plan --out-dir DIR`)")
        plans = {s: _read_plan(found[s]) for s in wanted}
        for stack, plan in plans.items():
            if plan["stack"] != stack:
                raise UsageError(f"{found[stack]}: a plan of stack {plan['stack']!r}, not {stack!r}")
        return Side(spec, f"plans in {spec}", plans)
    return None


def load_sides(base: str, head: str, stacks: list[str], default_stacks: list[str], repo: Path,
               project_dir: Path) -> tuple[Side, Side]:
    """Both sides, planned for the same stacks: the ones given, else those of a plan-file side, else
    `default_stacks`."""
    sides: dict[str, Side | None] = {"base": file_side(base, stacks), "head": file_side(head, stacks)}
    from_files = [set(s.plans) for s in sides.values() if s is not None]
    wanted = list(stacks) or (sorted(set.intersection(*from_files)) if from_files else list(default_stacks))
    if not wanted:
        raise UsageError(f"{base} and {head} share no stack: compare plans of the same stack")
    for key, spec in (("base", base), ("head", head)):
        side = sides[key]
        if side is None:
            path = Path(spec)
            if path.is_dir():
                side = Side(spec, f"checkout {spec}", plan_checkout(path.resolve(), wanted, f"checkout {spec}"))
            else:
                side = plan_revision(repo, project_dir, spec, wanted)
            sides[key] = side
        missing = [s for s in wanted if s not in side.plans]
        if missing:
            raise UsageError(f"{side.origin}: has no plan of {', '.join(missing)}")
    return sides["base"], sides["head"]  # type: ignore[return-value]
