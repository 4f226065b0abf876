"""STUB: EdgeSecurity is being built (see the component issues)."""

from __future__ import annotations

from .base import Component


class EdgeSecurity(Component):
    def __init__(self, name: str, **kwargs):
        super().__init__("edge_security", name)
        self.kv_namespaces = {}
        self.queues = {}
        self.buckets = {}
        self.databases = {}
        self.health_check_headers = None
        self.tunnel_id = None
        self.register_outputs({})
