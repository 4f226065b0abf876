"""SecureTunnel: 1Password Connect reached only through a Cloudflare Tunnel and Zero Trust Access.

Creates, for one environment:
- a remotely managed Cloudflare Tunnel (`config_src="cloudflare"`) whose ingress sends the hostname's
  paths to nginx (which fronts the Connect API and sync services) and ends with a catch-all 404;
- the proxied CNAME `<hostname>` -> `<tunnel id>.cfargotunnel.com`;
- an Access service token per configured machine, one reusable Access policy for people (email
  domains / groups, decision `allow`) and one for machines (service tokens, decision `non_identity`);
- a self-hosted Access application on the hostname using those policies.

Nothing reaches the origin without passing Access twice: the edge enforces the application, and
every ingress rule sets `originRequest.access.required`, so cloudflared itself refuses requests
without a valid Access token for this application's audience.

Machines other than the health checks get their credentials from `credentials(token)`: the
program binds them to the Worker that calls the hostname (`services.<key>.accessCredentials`).
An adopted tunnel (`tunnel.adopt`) is imported by id, keeps its name and is retained on delete.

Operational costs: replacing the tunnel (renaming it) issues a new tunnel id and token, so every
cloudflared replica must be restarted with the new `tunnelToken` output; deleting a service token
locks its machine out at once; shortening `serviceTokenDuration` does not shorten existing tokens.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.edge import HEALTHCHECK_SERVICE_TOKEN, TunnelConfig

from .base import Component

CATCH_ALL = {"service": "http_status:404"}


class SecureTunnel(Component):
    """The 1Password Connect tunnel, its DNS record and the Access application in front of it."""

    def credentials(self, token: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """(client id, client secret) of one service token, both secret: what a machine sends as
        `CF-Access-Client-Id` / `CF-Access-Client-Secret` to pass Access."""
        service_token = self.service_tokens[token]
        return pulumi.Output.secret(service_token.client_id), pulumi.Output.secret(service_token.client_secret)

    def __init__(self, name: str, *, account_id: str, zone_id: pulumi.Input[str], environment: Environment,
                 tunnel: TunnelConfig, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("secure_tunnel", name, opts)
        access = tunnel.access
        self.hostname: str = tunnel.hostname

        adopt = tunnel.adopt
        # An adopted tunnel existed before this stack: retained on delete (its cloudflared replicas keep it).
        self.tunnel = cloudflare.ZeroTrustTunnelCloudflared(
            self.child_name("tunnel"), account_id=account_id,
            name=adopt.name if adopt else naming.tunnel_name(tunnel.name, environment),
            config_src="cloudflare",
            opts=self.child_opts(import_=f"{account_id}/{adopt.id}" if adopt else None,
                                 retain_on_delete=True if adopt else None))
        self.tunnel_id: pulumi.Output[str] = self.tunnel.id

        # The token cloudflared runs with (`cloudflared tunnel run --token ...`): an invoke, not an attribute.
        self.token: pulumi.Output[str] = pulumi.Output.secret(
            cloudflare.get_zero_trust_tunnel_cloudflared_token_output(
                account_id=account_id, tunnel_id=self.tunnel.id,
                opts=pulumi.InvokeOutputOptions(parent=self)).token)

        self.service_tokens: dict[str, cloudflare.ZeroTrustAccessServiceToken] = {
            token: cloudflare.ZeroTrustAccessServiceToken(
                self.child_name(f"token-{token}"), account_id=account_id,
                name=naming.label(f"{tunnel.name}-{token}", environment),
                duration=access.service_token_duration,
                opts=self.child_opts())
            for token in access.service_tokens
        }

        # Reusable policies, evaluated in this order: machines first (no login page for them), then people.
        self.policies: dict[str, cloudflare.ZeroTrustAccessPolicy] = {}
        if self.service_tokens:
            self.policies["machines"] = cloudflare.ZeroTrustAccessPolicy(
                self.child_name("policy-machines"), account_id=account_id,
                name=naming.label(f"{tunnel.name}-machines", environment),
                decision="non_identity",
                includes=[{"service_token": {"token_id": token.id}} for token in self.service_tokens.values()],
                opts=self.child_opts())
        people = ([{"email_domain": {"domain": domain}} for domain in access.allow_email_domains]
                  + [{"group": {"id": group}} for group in access.allow_group_ids])
        if people:
            self.policies["people"] = cloudflare.ZeroTrustAccessPolicy(
                self.child_name("policy-people"), account_id=account_id,
                name=naming.label(f"{tunnel.name}-people", environment),
                decision="allow", includes=people, session_duration=access.session_duration,
                opts=self.child_opts())

        self.application = cloudflare.ZeroTrustAccessApplication(
            self.child_name("access-app"), account_id=account_id,
            name=naming.label(tunnel.name, environment),
            type="self_hosted",
            domain=tunnel.hostname,
            destinations=[{"type": "public", "uri": tunnel.hostname}],
            session_duration=access.session_duration,
            app_launcher_visible=False,
            # Machines get a 401 instead of a redirect to the login page they cannot follow.
            service_auth401_redirect=True,
            http_only_cookie_attribute=True,
            policies=[{"id": policy.id, "precedence": precedence}
                      for precedence, policy in enumerate(self.policies.values(), start=1)],
            opts=self.child_opts())

        team_name: pulumi.Input[str] = access.team_name or cloudflare.get_zero_trust_organization_output(
            account_id=account_id, opts=pulumi.InvokeOutputOptions(parent=self),
        ).auth_domain.apply(lambda domain: domain.split(".", 1)[0])
        origin_access = {"required": True, "team_name": team_name, "aud_tags": [self.application.aud]}

        ingresses: list[dict] = []
        for rule in tunnel.ingress:
            origin_request: dict = {"connect_timeout": rule.connect_timeout_seconds, "access": origin_access}
            if rule.http_host_header:
                origin_request["http_host_header"] = rule.http_host_header
            entry: dict = {"hostname": tunnel.hostname, "service": rule.service, "origin_request": origin_request}
            if rule.path:
                entry["path"] = rule.path
            ingresses.append(entry)
        ingresses.append(CATCH_ALL)
        self.config = cloudflare.ZeroTrustTunnelCloudflaredConfig(
            self.child_name("config"), account_id=account_id, tunnel_id=self.tunnel.id,
            source="cloudflare", config={"ingresses": ingresses},
            opts=self.child_opts())

        self.dns_record = cloudflare.DnsRecord(
            self.child_name("dns"), zone_id=zone_id,
            name=tunnel.hostname, type="CNAME",
            content=self.tunnel.id.apply(lambda tunnel_id: f"{tunnel_id}.cfargotunnel.com"),
            proxied=True, ttl=1,
            comment=f"chittyos-edge: {naming.tunnel_name(tunnel.name, environment)} tunnel (behind Access)",
            opts=self.child_opts())

        health_token = self.service_tokens.get(HEALTHCHECK_SERVICE_TOKEN)
        self.health_check_headers: dict[str, list[pulumi.Output[str]]] | None = None
        if health_token is not None:
            self.health_check_headers = {
                "CF-Access-Client-Id": [health_token.client_id],
                # The provider marks clientSecret secret; wrapping here keeps it secret wherever it flows.
                "CF-Access-Client-Secret": [pulumi.Output.secret(health_token.client_secret)],
            }

        self.register_outputs({
            "tunnelId": self.tunnel_id,
            "hostname": self.hostname,
            "accessAud": self.application.aud,
            "tunnelToken": self.token,
        })
