"""Operating the estate: run a service locally (`dev`), test a deployment (`smoke`), back up and
restore the stack's data (`backup`, `restore`). Every one of them drives the project's wrangler."""

from __future__ import annotations


def register(commands) -> None:
    """Add the `dev`, `smoke`, `backup` and `restore` subcommands to the CLI's subparsers."""
    from . import backup, dev, smoke

    dev.register(commands)
    smoke.register(commands)
    backup.register(commands)
