"""The hostnames a stack serves, looked up once for every rule that needs them.

Each source is (resource type, function from the resource's props to its hostnames): custom
domains, route patterns, load balancers, R2 custom domains, tunnel ingress, and DNS records
pointing at a tunnel. Rules ask for the sources they care about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._rule import (
    DNS_RECORD, LOAD_BALANCER, R2_CUSTOM_DOMAIN, TUNNEL, TUNNEL_CONFIG, WORKERS_CUSTOM_DOMAIN, WORKERS_ROUTE,
    ReportViolation, each_resource, host_of, is_unknown, items, of_type, raw,
)

HostSource = tuple[str, Callable[[Any], Iterable[Any]]]


def _ingress_hosts(resource: Any) -> Iterable[Any]:
    return (ingress.get("hostname") for ingress in items((resource.props.get("config") or {}).get("ingresses")))


def _tunnel_record_host(resource: Any) -> Iterable[Any]:
    """A CNAME to `<tunnel id>.cfargotunnel.com`; at preview the id is unknown, so the record's
    dependency on a tunnel says it."""
    content = raw(resource.props, "content")
    if is_unknown(content):
        via_tunnel = any(dep.resource_type == TUNNEL for dep in resource.property_dependencies.get("content", []))
    else:
        via_tunnel = str(content or "").endswith(".cfargotunnel.com")
    return [resource.props.get("name")] if via_tunnel else []


CUSTOM_DOMAINS: HostSource = (WORKERS_CUSTOM_DOMAIN, lambda r: [r.props.get("hostname")])
ROUTES: HostSource = (WORKERS_ROUTE, lambda r: [host_of(str(r.props.get("pattern") or ""))])
LOAD_BALANCERS: HostSource = (LOAD_BALANCER, lambda r: [r.props.get("name")])
R2_DOMAINS: HostSource = (R2_CUSTOM_DOMAIN, lambda r: [r.props.get("domain")])
TUNNEL_INGRESS: HostSource = (TUNNEL_CONFIG, _ingress_hosts)
TUNNEL_RECORDS: HostSource = (DNS_RECORD, _tunnel_record_host)

WORKER_SOURCES = (CUSTOM_DOMAINS, ROUTES)
PUBLIC_SOURCES = (CUSTOM_DOMAINS, ROUTES, LOAD_BALANCERS, R2_DOMAINS, TUNNEL_INGRESS)
TUNNEL_SOURCES = (TUNNEL_INGRESS, TUNNEL_RECORDS)


def hostnames(args: Any, report: ReportViolation, sources: Iterable[HostSource]) -> dict[str, Any]:
    """hostname -> the resource that makes it served, in first-seen order (wildcards left out)."""
    found: dict[str, Any] = {}
    for resource_type, hosts_of in sources:
        for resource in of_type(args.resources, resource_type):
            with each_resource(report, resource.urn):
                for host in hosts_of(resource):
                    if isinstance(host, str) and host and not pattern_is_wild(host):
                        found.setdefault(host, resource)
    return found


def zone_of(resource: Any) -> Any:
    return raw(resource.props, "zoneId")


@dataclass(frozen=True)
class Site:
    """Where a Worker of this stack answers: a host, and the path prefix its route gives it."""

    host: str
    prefix: str  # "/" for a custom domain, "/project-awareness/" for `api.chitty.cc/project-awareness/*`
    resource: Any
    worker: Any = None  # the script it serves: a custom domain's `service`, a route's `script`

    def path(self, path: str) -> str:
        """`/api/auth/` as the Worker sees it at this site (under the route's prefix)."""
        return path if self.prefix == "/" else self.prefix.rstrip("/") + path


def _prefix(pattern: str) -> str:
    path = "/" + pattern.split("/", 1)[1] if "/" in pattern else "/"
    return path.rstrip("*") or "/"


def worker_sites(args: Any, report: ReportViolation) -> list[Site]:
    """The custom domains and routes of this stack's Workers (wildcard hosts left out)."""
    sites = []
    for resource in of_type(args.resources, WORKERS_CUSTOM_DOMAIN, WORKERS_ROUTE):
        with each_resource(report, resource.urn):
            if resource.resource_type == WORKERS_CUSTOM_DOMAIN:
                host, prefix, worker = resource.props.get("hostname"), "/", raw(resource.props, "service")
            else:
                pattern = str(resource.props.get("pattern") or "")
                host, prefix, worker = pattern.split("/", 1)[0], _prefix(pattern), raw(resource.props, "script")
            if isinstance(host, str) and host and not pattern_is_wild(host):
                sites.append(Site(host, prefix, resource, None if is_unknown(worker) else worker))
    return sites


def pattern_is_wild(host: str) -> bool:
    return host.startswith("*")
