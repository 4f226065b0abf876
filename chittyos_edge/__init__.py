"""chittyos-edge: the Pulumi program for the ChittyOS Cloudflare estate, and its offline tooling."""

# The Pulumi project name (`name:` in Pulumi.yaml). Its stacks are not listed here: they are the
# Pulumi.<stack>.yaml files of the checkout in use (chittyos_edge.project).
PROJECT = "chittyos-edge"
