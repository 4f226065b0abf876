"""Benchmark (not a test): how long `chittyos-edge gate --stack staging --stack production` takes
against the floor of merely importing `pulumi` and `pulumi_cloudflare` in one fresh process.

    .venv/bin/python bench/gate_speed.py [--runs 5]

Each measurement is a fresh process (cold interpreter, warm file cache), the median of --runs.
Goal: the gate within 1.5x the floor. It gets there by planning both stacks in one process (one
pulumi_cloudflare import) while the policy pack boots in parallel, and by reusing that one pack
process for both stacks.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from chittyos_edge.project import Project

# The project measured is the one the bench runs in (as the CLI finds it).
ROOT = Project.discover().root
GOAL = 1.5


def wall(command: list[str], expect: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in expect:
        sys.exit(f"{' '.join(command)} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-400:]}")
    return elapsed


def median_of(runs: int, command: list[str], expect: tuple[int, ...] = (0,)) -> tuple[float, list[float]]:
    wall(command, expect)  # warm the file cache and the .pyc files
    times = [wall(command, expect) for _ in range(runs)]
    return statistics.median(times), times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    python = sys.executable
    floor, floor_runs = median_of(args.runs, [python, "-c", "import pulumi, pulumi_cloudflare"])
    gate_cmd = [python, "-m", "chittyos_edge", "gate", "--stack", "staging", "--stack", "production"]
    gate, gate_runs = median_of(args.runs, gate_cmd, expect=(0, 1))
    ratio = gate / floor
    print(f"floor  import pulumi + pulumi_cloudflare: median {floor:.2f} s  ({', '.join(f'{t:.2f}' for t in floor_runs)})")
    print(f"gate   gate --stack staging --stack production: median {gate:.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in gate_runs)})")
    print(f"ratio  {ratio:.2f}x the floor (goal: at most {GOAL}x) -> {'met' if ratio <= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
