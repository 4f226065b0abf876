"""How a `chittyos-edge` process runs: briefly, so it skips the work a long-lived one needs.

- No cyclic garbage collection. The process imports pulumi and pulumi_cloudflare (about 400,000
  objects), plans and exits within seconds. Each full collection walks every one of those objects
  again, and a growing plan triggers more of them: on a 2,000-resource stack the collector was 40 %
  of the plan (one of few costs that grew faster than the resources), yet it freed almost no
  memory (the peak with the collector off is within 5 % of the peak with it on, because nearly
  everything the SDK allocates stays reachable until the plan is written). Reference counting
  still frees everything that is not in a cycle.
- No teardown. At exit the interpreter collects and frees every object one by one (about a
  second for a large plan), which the operating system does at once. Output is flushed first.

Only the entry points (`run` in cli.py, `python -m chittyos_edge`) do this; `cli.main()`, which
the tests call in their own long-lived process, does not.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn


def start_short_lived() -> None:
    """First thing in the process, before the heavy imports."""
    gc.disable()


def exit_now(code: int) -> NoReturn:
    """Flush what was printed and end the process without tearing the interpreter down."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, or a stream already closed
            pass
    os._exit(code)
