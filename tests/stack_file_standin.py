"""A minimal stand-in for `chittyos_edge.config.stack_file`, for tests only.

Another change (issue 14) writes the real module, with `load_stack_file(path).line_of(key_path)` on
a node tree of the YAML. Until it is on main, the gate's report tests install this stand-in with the
same API; once the real module imports, they use it instead and this file can go.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
import yaml

MODULE = "chittyos_edge.config.stack_file"


class StandInStackFile:
    def __init__(self, root: yaml.Node):
        self.root = root
        self._key_line: int | None = None

    def line_of(self, key_path: str) -> int | None:
        """1-based line of `chittyos-edge:edgeSecurity.tls.minTlsVersion` (or `...healthChecks[2]`)."""
        namespace, _, rest = key_path.partition(":")
        tokens = re.findall(r"\[(\d+)\]|\.?([^.\[\]]+)", rest)
        if not tokens or not tokens[0][1]:
            return None
        node = self._value(self._value(self.root, "config"), f"{namespace}:{tokens[0][1]}")
        line = self._key_line if node is not None else None
        for index, key in tokens[1:]:
            if node is None:
                return None
            if index:
                items = node.value if isinstance(node, yaml.SequenceNode) else []
                node = items[int(index)] if int(index) < len(items) else None
                line = node.start_mark.line + 1 if node is not None else None
            else:
                node = self._value(node, key)
                line = self._key_line if node is not None else None
        return line

    def _value(self, node: yaml.Node | None, key: str) -> yaml.Node | None:
        if not isinstance(node, yaml.MappingNode):
            return None
        for key_node, value in node.value:
            if key_node.value == key:
                self._key_line = key_node.start_mark.line + 1
                return value
        return None


def load_stack_file(path: Path | str) -> StandInStackFile:
    return StandInStackFile(yaml.compose(Path(path).read_text(), Loader=yaml.SafeLoader))


@pytest.fixture(scope="module")
def stack_file_lines() -> Iterator[None]:
    """The real stack-file module when it exists, else this stand-in, for a test module's duration."""
    try:
        __import__(MODULE)
        yield
        return
    except ImportError:
        pass
    module = ModuleType(MODULE)
    module.load_stack_file = load_stack_file  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, MODULE, module)
        yield
