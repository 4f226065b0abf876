"""The project's wrangler (npm `wrangler`, pinned in package.json): found, configured and run.

Local runs (`--local`) keep their data under one persistence folder per stack, so `dev`, `backup` and
`restore` of the same stack see the same KV, R2 and D1, as Workers of one account do.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Sequence

from ..errors import UsageError

# No telemetry, no colour codes in what we parse or print.
QUIET = {"WRANGLER_SEND_METRICS": "false", "NO_COLOR": "1", "FORCE_COLOR": "0"}


def executable(project: Path) -> Path:
    path = project / "node_modules" / ".bin" / "wrangler"
    if not path.exists():
        raise UsageError(f"wrangler is not installed in {project}: run `npm ci` there "
                         "(package.json pins the wrangler these commands use)")
    return path


def environment(*, non_interactive: bool = True) -> dict[str, str]:
    env = dict(os.environ, **QUIET)
    if non_interactive:
        env["CI"] = "true"  # wrangler then skips its confirmation prompts
    return env


def local_persistence(state: Path) -> Path:
    """The local stores of a stack: wrangler's default for a config in `state` (`d1 export --local` takes
    no --persist-to), passed explicitly to the commands that run from a service's subfolder."""
    return state / ".wrangler" / "state"


def write_config(path: Path, table: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=2) + "\n")
    return path


def run(project: Path, args: Sequence[str], *, config: Path, what: str) -> str:
    """Run `wrangler <args> --config <config>` in the config's folder; its stdout, or UsageError naming
    what failed and wrangler's own error line."""
    command = [str(executable(project)), *args, "--config", str(config)]
    done = subprocess.run(command, cwd=config.parent, env=environment(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise UsageError(f"{what} failed: `wrangler {' '.join(args)}` exited {done.returncode}: "
                         f"{error_line(done.stdout + done.stderr)}")
    return done.stdout


def error_line(output: str) -> str:
    """wrangler's own error message: the line after its `✘ [ERROR]` marker, else the last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "[ERROR]" in line:
            message = line.split("[ERROR]", 1)[1].strip()
            return message or (lines[index + 1] if index + 1 < len(lines) else "unknown error")
    return lines[-1] if lines else "no output"


def json_output(text: str, what: str) -> Any:
    """The JSON document in a wrangler command's stdout (some print a banner before it, or a trailing
    'Success!'): the first '[' or '{' from which a whole document decodes."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char in "[{":
            try:
                return decoder.raw_decode(text[index:])[0]
            except json.JSONDecodeError:
                continue
    raise UsageError(f"{what}: wrangler printed no JSON: {error_line(text)}")
