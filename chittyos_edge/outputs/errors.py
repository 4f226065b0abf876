"""The one error type of the outputs command: a clear line, exit status 2."""

from __future__ import annotations


class OutputsError(Exception):
    """Outputs could not be read or rendered. The message says what and how to fix it."""
