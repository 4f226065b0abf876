"""The inventory of what already runs (`inventory/<stack>.yaml`) and the command that refreshes it."""

from .model import Inventory, Source, load, path_for

__all__ = ["Inventory", "Source", "load", "path_for", "register"]


def register(commands) -> None:
    """Add `inventory` to the chittyos-edge CLI."""
    from .command import register as _register

    _register(commands)
