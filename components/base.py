"""What every component shares: the type-token convention and child options."""

from __future__ import annotations

from typing import Optional

import pulumi

from chittyos_edge.config.stack import DataProtection


class Component(pulumi.ComponentResource):
    """Base of the estate's components: type token `chittyos:<module>:<Type>`, children parented here."""

    def __init__(self, module: str, name: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"chittyos:{module}:{type(self).__name__}", name, None, opts)
        self._name = name

    def child_name(self, role: str) -> str:
        return f"{self._name}-{role}"

    def child_opts(self, **kwargs) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **kwargs)

    def stateful_opts(self, protection: DataProtection, *, import_id: str | None = None,
                      **kwargs) -> pulumi.ResourceOptions:
        """Options for a child that holds data: protect/retain as the stack config says.

        An adopted (imported) resource existed before this stack, so it is retained on delete in every
        stack: destroying a stack, or dropping the entry, never deletes what the stack did not create.
        """
        return pulumi.ResourceOptions(parent=self, protect=protection.protect,
                                      retain_on_delete=protection.retain_on_delete or import_id is not None,
                                      import_=import_id, **kwargs)
