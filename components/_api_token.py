"""The Cloudflare API token of deploy-time dynamic providers: the Cloudflare provider's own token.

Read in the provider process from `CLOUDFLARE_API_TOKEN`, or from the `cloudflare:apiToken` stack
secret handed to `configure`; it never becomes an input, an output or part of the plan.
"""

from __future__ import annotations

import os
from typing import Optional

from pulumi.dynamic import ConfigureRequest, ResourceProvider


class ApiTokenProvider(ResourceProvider):
    """Base of the dynamic providers that call the Cloudflare API with the provider's token."""

    # Nothing secret is captured by these providers; keep the serialized provider out of secrets.
    serialize_as_secret_always = False
    token_use = "the Cloudflare API"
    token_permission = "Edit"

    def __init__(self) -> None:
        self._config_token: Optional[str] = None

    def configure(self, req: ConfigureRequest) -> None:
        token = req.config.get("cloudflare:apiToken")
        self._config_token = str(token) if token else None

    def api_token(self, error: type[Exception]) -> str:
        token = os.environ.get("CLOUDFLARE_API_TOKEN") or self._config_token
        if not token:
            raise error(f"no Cloudflare API token for {self.token_use}: export CLOUDFLARE_API_TOKEN "
                        f"({self.token_permission} permission) or set it with "
                        "`pulumi config set --secret cloudflare:apiToken ...`")
        return token
