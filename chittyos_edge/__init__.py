"""chittyos-edge: the Pulumi program for the ChittyOS Cloudflare estate, and its offline tooling."""

PROJECT = "chittyos-edge"
STACKS = ("staging", "production")
