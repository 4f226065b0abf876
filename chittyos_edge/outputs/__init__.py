"""Stack outputs for consumers: read them (offline plan, stdin, state backend), render them.

`chittyos-edge outputs --stack S --format json|wrangler|env` is the command; see
`command.register`. Sources and renderers are plain functions so other tools can reuse them.
"""

from __future__ import annotations

from .command import register
from .errors import OutputsError
from .render import render_env, render_json, render_wrangler
from .sources import from_backend, from_json_text, from_plan, parse_outputs

__all__ = ["OutputsError", "from_backend", "from_json_text", "from_plan", "parse_outputs", "register",
           "render_env", "render_json", "render_wrangler"]
