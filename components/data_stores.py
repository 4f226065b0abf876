"""KV namespaces and queues of one stack, each named for its environment.

Creates one `WorkersKvNamespace` per `kvNamespaces` entry (title `<key>-<environment>`) and one
`Queue` per `queues` entry (name `<key>-<environment>`), so the staging and production stacks can
never share a namespace or a queue (the ChittyConnect status report found staging using production's KV). An entry with
an `adopt:` block is imported as it exists (`<account>/<id>`) and keeps its current title/name
(a namespace adopted without a `title` keeps its live title: `ignore_changes=["title"]`).

Both kinds hold data (keys, undelivered messages): they get `protect`/`retainOnDelete` from the
stack's `dataProtection` (an adopted one is retained on delete in every stack: it existed before
the stack). In production that means `pulumi up` fails rather than delete or
replace one, and removing an entry from config only drops it from the state; in staging they are
destroyed with the stack. Renaming a queue or changing a namespace title is a replacement
(a new, empty store), which production's `protect` refuses.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_cloudflare as cloudflare

from chittyos_edge import naming
from chittyos_edge.config.base import Environment
from chittyos_edge.config.stack import DataProtection
from chittyos_edge.config.storage import KvNamespace, Queue

from .base import Component


class DataStores(Component):
    """`kv_namespaces` and `queues`: logical key -> the registered resource."""

    def __init__(self, name: str, *, account_id: str, environment: Environment,
                 kv_namespaces: Mapping[str, KvNamespace], queues: Mapping[str, Queue],
                 protection: DataProtection, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("data_stores", name, opts)
        self.kv_namespaces: dict[str, cloudflare.WorkersKvNamespace] = {}
        self.queues: dict[str, cloudflare.Queue] = {}

        for key, namespace in kv_namespaces.items():
            adopt = namespace.adopt
            # An adopted namespace without a recorded title keeps its live one (see AdoptKv).
            ignored = adopt.ignored_inputs if adopt else []
            self.kv_namespaces[key] = cloudflare.WorkersKvNamespace(
                self.child_name(f"kv-{key}"),
                account_id=account_id,
                title=(adopt.title if adopt and adopt.title else naming.kv_title(key, environment)),
                opts=self.stateful_opts(protection, import_id=f"{account_id}/{adopt.id}" if adopt else None,
                                        ignore_changes=ignored or None))

        for key, queue in queues.items():
            adopt = queue.adopt
            settings = {k: v for k, v in (("delivery_delay", queue.delivery_delay),
                                          ("message_retention_period", queue.message_retention_period))
                        if v is not None}
            self.queues[key] = cloudflare.Queue(
                self.child_name(f"queue-{key}"),
                account_id=account_id,
                queue_name=adopt.name if adopt else naming.queue_name(key, environment),
                settings=settings or None,
                opts=self.stateful_opts(protection, import_id=f"{account_id}/{adopt.id}" if adopt else None))

        self.register_outputs({
            "kvNamespaceIds": {key: kv.id for key, kv in self.kv_namespaces.items()},
            "queueNames": {key: q.queue_name for key, q in self.queues.items()},
        })
