"""LoadBalancing: a geo-steered load balancer with failover (production; off in staging by default).

Creates an account-level HTTPS `LoadBalancerMonitor`, one account-level `LoadBalancerPool` per configured
pool (each origin keeps its own hostname as Host header, so a Worker custom domain behind it still matches),
and the zone-level `LoadBalancer` on `loadBalancing.hostname`: geo steering by `regionPools`, the
`defaultPools` everywhere else, `fallbackPool` when every pool is unhealthy, and adaptive routing that retries
a failed request on the next pool.

Operational costs: Cloudflare Load Balancing is a paid add-on billed per origin and per health-check
region; pools and monitors are shared by the whole account, so their names carry the environment;
renaming the hostname replaces the load balancer (its DNS name briefly disappears).
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.edge import LoadBalancingConfig

from .base import Component


class LoadBalancing(Component):
    """Monitor, pools and the load balancer of one hostname."""

    def __init__(self, name: str, *, account_id: str, zone_id: pulumi.Input[str], environment: Environment,
                 load_balancing: LoadBalancingConfig, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("load_balancing", name, opts)
        lb = load_balancing
        if not lb.enabled or not lb.hostname or not lb.fallback_pool:
            # LoadBalancingConfig refuses an incomplete enabled config; this guards the wiring.
            raise ValueError("LoadBalancing needs an enabled loadBalancing section with hostname and fallbackPool")
        monitor = lb.monitor

        monitor_args: dict = {}
        if monitor.expected_body:
            monitor_args["expected_body"] = monitor.expected_body
        self.monitor = cloudflare.LoadBalancerMonitor(
            self.child_name("monitor"), account_id=account_id,
            description=naming.label(f"{lb.hostname}-monitor", environment),
            type="https", method="GET", path=monitor.path, port=443,
            expected_codes=monitor.expected_codes,
            interval=monitor.interval, timeout=monitor.timeout, retries=monitor.retries,
            follow_redirects=False, allow_insecure=False,
            opts=self.child_opts(), **monitor_args)

        self.pools: dict[str, cloudflare.LoadBalancerPool] = {
            key: cloudflare.LoadBalancerPool(
                self.child_name(f"pool-{key}"), account_id=account_id,
                name=naming.label(key, environment),
                description=f"{lb.hostname}: {key}",
                enabled=True,
                monitor=self.monitor.id,
                check_regions=list(pool.check_regions),
                minimum_origins=pool.minimum_origins,
                origins=[{"name": origin.name, "address": origin.address, "enabled": origin.enabled,
                          "weight": origin.weight, "header": {"hosts": [origin.address]}}
                         for origin in pool.origins],
                opts=self.child_opts())
            for key, pool in lb.pools.items()
        }

        def ids(keys: list[str]) -> list[pulumi.Output[str]]:
            return [self.pools[key].id for key in keys]

        self.load_balancer = cloudflare.LoadBalancer(
            self.child_name("lb"), zone_id=zone_id,
            name=lb.hostname,
            description=f"chittyos-edge {environment.value}: {lb.steering_policy} steering with failover",
            enabled=True, proxied=True, ttl=lb.ttl,
            steering_policy=lb.steering_policy,
            region_pools={region: ids(keys) for region, keys in lb.region_pools.items()},
            default_pools=ids(lb.default_pools),
            fallback_pool=self.pools[lb.fallback_pool].id,
            session_affinity=lb.session_affinity,
            adaptive_routing={"failover_across_pools": lb.failover_across_pools},
            opts=self.child_opts())

        self.register_outputs({
            "hostname": lb.hostname,
            "loadBalancerId": self.load_balancer.id,
            "poolIds": {key: pool.id for key, pool in self.pools.items()},
        })
