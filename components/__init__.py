"""One `pulumi.ComponentResource` per subsystem of the ChittyOS Cloudflare estate."""
