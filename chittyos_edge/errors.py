"""What every command shares: exit codes and the one error type shown to users as one line.

Exit codes are an interface (CI jobs rely on them): 0 success, 1 findings (the gate's mandatory
violations, readiness failures), 2 usage or config error. Command modules raise `UsageError`;
`chittyos_edge.cli` prints it as `chittyos-edge: error: <line>` and exits 2, never a traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad input from the user: printed as one line per problem, exit status 2."""
