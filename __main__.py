"""Entry point for `pulumi up` / `pulumi preview`: the program lives in chittyos_edge.program."""

from chittyos_edge.program import main

main()
