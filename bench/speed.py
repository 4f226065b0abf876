"""Benchmark (not a test): what plan and gate cost per resource, and against the import floor.

    .venv/bin/python bench/speed.py [--runs 3] [--sizes 300,2000] [-C DIR]

Every figure is the median of --runs fresh processes, as `chittyos-edge` runs them (cold
interpreter, warm file cache), with the source project as working directory:

- floor: a process that imports what the plan process must import (pulumi, pulumi_cloudflare,
  pydantic, yaml), with the same garbage-collector and exit policy as the CLI, and exits (and,
  for comparison, the same imports as a plain `python -c`, collector on and teardown at exit);
- committed stacks: `gate --stack staging --stack production` (what CI runs) against the floor,
  in wall time (the pack boots while the stacks are planned, so its CPU is not on the clock);
- synthetic production stacks grown to each of --sizes resources (bench/synthetic_stack.py):
  `plan --out`, `gate --plan` of that file, and `gate --stack production` (plan and gate in one
  process). Per resource is marginal: (time at the largest size - time at the smallest) / (the
  difference in resources), so the fixed start-up cost is left out.

Time is CPU time (user + system) of the command and every process it starts, the policy pack
included: what the work costs, and steady on a machine shared with other jobs. Wall time is
printed beside it (on an idle machine it is close for plan; the gate's pack works in parallel).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic_stack  # noqa: E402

GOAL_MS_PER_RESOURCE = 2.0
GOAL_COMMITTED_RATIO = 1.5
IMPORTS = "import pulumi, pulumi_cloudflare, pydantic, yaml"
FLOOR_CODE = f"import gc, os; gc.disable(); {IMPORTS}; os._exit(0)"


FAILURES: list[str] = []


def measure(command: list[str], cwd: Path, expect: tuple[int, ...] = (0,)) -> tuple[float, float] | None:
    """(CPU seconds of the process tree, wall seconds) of one run; None (and noted) if it failed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in expect:
        FAILURES.append(f"{' '.join(command[2:])} exited {done.returncode}: "
                        f"{(done.stderr or done.stdout).strip().splitlines()[-1][-300:]}")
        return None
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def median(runs: int, command: list[str], cwd: Path, expect: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """Medians of `runs` successful runs; a failed run is retried (up to `runs` more) and reported."""
    samples = []
    for _ in range(2 * runs):
        sample = measure(command, cwd, expect)
        if sample:
            samples.append(sample)
        if len(samples) == runs:
            break
    if not samples:
        sys.exit(f"every run failed: {FAILURES[-1]}")
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def grown_project(source: Path, size: int, base: int, per_tenant: float, folder: Path) -> Path:
    tenants = synthetic_stack.tenants_for(size, base, per_tenant)
    out = folder / f"stack-{size}"
    synthetic_stack.write_project(out, synthetic_stack.grow(synthetic_stack.read_config(source), tenants), source)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="300,2000", help="synthetic stack sizes, in resources (default: 300,2000)")
    parser.add_argument("-C", "--cwd", type=Path, default=None, metavar="DIR",
                        help="the project to measure (default: the one you stand in)")
    args = parser.parse_args(argv)
    source = args.cwd.resolve() if args.cwd else synthetic_stack.find_project(Path.cwd())
    sizes = sorted(int(s) for s in args.sizes.split(","))
    python = sys.executable
    cli = [python, "-m", "chittyos_edge"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; median of {args.runs} runs; "
          "CPU s (wall s)")

    measure([python, "-c", FLOOR_CODE], source)  # warm the file cache and the .pyc files
    floor = median(args.runs, [python, "-c", FLOOR_CODE], source)
    plain = median(args.runs, [python, "-c", IMPORTS], source)
    print(f"floor     {IMPORTS}: {floor[0]:.2f} ({floor[1]:.2f}); as a plain `python -c` (collector on, "
          f"teardown at exit): {plain[0]:.2f} ({plain[1]:.2f})")
    committed = median(args.runs, cli + ["gate", "--stack", "staging", "--stack", "production"], source, (0, 1))
    ratio = committed[1] / floor[1]
    print(f"committed gate --stack staging --stack production: {committed[0]:.2f} ({committed[1]:.2f}), "
          f"{committed[0] / floor[0]:.2f}x the floor ({ratio:.2f}x in wall time; goal: at most "
          f"{GOAL_COMMITTED_RATIO}x in wall time, the pack booting in parallel) -> "
          f"{'met' if ratio <= GOAL_COMMITTED_RATIO else 'NOT met'}")

    sys.path.insert(0, str(source))  # calibrate with the code being measured
    base, per_tenant = synthetic_stack.calibrate(synthetic_stack.read_config(source), synthetic_stack.planner(source))
    rows: dict[int, dict[str, tuple[float, float] | int]] = {}
    with tempfile.TemporaryDirectory(prefix="chittyos-edge-bench-") as tmp:
        for size in sizes:
            project = grown_project(source, size, base, per_tenant, Path(tmp))
            plan_file = project / "plan.json"
            row: dict[str, tuple[float, float] | int] = {}
            row["plan"] = median(args.runs, cli + ["-C", str(project), "plan", "--stack", "production",
                                                   "--out", str(plan_file)], source)
            plan = json.loads(plan_file.read_text())
            row["resources"] = synthetic_stack.count_resources(plan)
            row["gate"] = median(args.runs, cli + ["gate", "--plan", str(plan_file)], source)
            row["both"] = median(args.runs, cli + ["-C", str(project), "gate", "--stack", "production"],
                                 source)
            rows[size] = row
            print(f"{row['resources']:>5} resources: plan {row['plan'][0]:.2f} ({row['plan'][1]:.2f})  "
                  f"gate --plan {row['gate'][0]:.2f} ({row['gate'][1]:.2f})  "
                  f"gate --stack {row['both'][0]:.2f} ({row['both'][1]:.2f})")
    small, large = rows[sizes[0]], rows[sizes[-1]]
    added = large["resources"] - small["resources"]
    verdicts = []
    for key, label in (("plan", "plan"), ("gate", "gate")):
        cpu = 1000 * (large[key][0] - small[key][0]) / added
        wall = 1000 * (large[key][1] - small[key][1]) / added
        verdicts.append(cpu <= GOAL_MS_PER_RESOURCE)
        print(f"{label:<5} {cpu:.2f} ms per resource ({wall:.2f} wall), marginal from {small['resources']} to "
              f"{large['resources']} (goal: at most {GOAL_MS_PER_RESOURCE}) -> {'met' if verdicts[-1] else 'NOT met'}")
    both = large["both"][0] / floor[0]
    print(f"plan + gate of {large['resources']} resources (gate --stack): {both:.1f}x the floor "
          f"({large['both'][1] / floor[1]:.1f}x in wall time; {large['both'][0] / plain[0]:.1f}x the plain import)")
    for failure in FAILURES:
        print(f"FAILED (retried): {failure}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0 if all(verdicts) and not FAILURES else 1  # the committed ratio needs an idle machine: not judged


if __name__ == "__main__":
    sys.exit(main())
