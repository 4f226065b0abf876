"""Editing a stack file in place: the text changes at the edited key's lines, every other byte stays.

Commands that change config (`rollout`, `rollback`, `flag`) edit `Pulumi.<stack>.yaml` the way a
person would: the value after one key, or one key's whole block, found by the position the strict
loader records for each key path (`StackFile.position_of`). Comments, quoting, key order and
blank lines elsewhere are untouched, so the change reviews as a one-line diff. (A round-trip YAML
library would re-emit the whole document: indentation of lists, quoting and long lines would drift.)

Every edit is checked before anything is written: the new text must load through the strict
loader and hold exactly the config the caller meant (`expected`); otherwise the file is left as
it was and the error says to edit it by hand.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .stack_file import StackFile, parse_stack_file

# A value written after `key:` on the key's line: quoted, or plain up to a comment (or, in a flow
# mapping, up to the next `,` or `}`).
_VALUE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s,#}\]][^,#}\]]*?)(?=\s*(?:#|,|}|]|$))""")


class EditError(ConfigError):
    """The edit could not be made safely: nothing was written."""


@dataclass
class StackFileText:
    """A stack file's text and what the strict loader reads from it."""

    path: Path
    text: str
    loaded: StackFile

    @classmethod
    def read(cls, path: Path) -> "StackFileText":
        text = path.read_text(encoding="utf-8")
        return cls(path, text, parse_stack_file(text, path.name))

    @property
    def config(self) -> dict[str, Any]:
        return self.loaded.config

    def _reload(self, text: str) -> None:
        self.text, self.loaded = text, parse_stack_file(text, self.path.name)

    def _at(self, key_path: str) -> tuple[int, int]:
        """0-based (line, column) of `key_path`'s key (it must be in the file itself)."""
        position = self.loaded.positions.get(key_path)
        if position is None:
            raise EditError([f"{self.path.name}: {key_path}: not in the file"])
        return position[0] - 1, position[1] - 1

    # ---- edits (each one re-reads the file, so key positions stay right for the next) ----

    def set_scalar(self, key_path: str, value: Any) -> None:
        """Write `value` (text, integer or boolean) after `key_path`'s key, on its line."""
        lines = self.text.splitlines(keepends=True)
        row, column = self._at(key_path)
        line = lines[row]
        key = key_path.rsplit(".", 1)[-1]
        after_key = re.compile(rf"({re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*:").match(line, column)
        found = _VALUE.match(line, after_key.end()) if after_key else None
        if not found:
            raise EditError([f"{self.path.name}:{row + 1}: {key_path}: its value is not on the key's line; "
                             "edit it by hand"])
        lines[row] = line[:found.start(1)] + yaml_scalar(value) + line[found.end(1):]
        self._reload("".join(lines))

    def remove(self, key_path: str, comments_above: bool = False) -> None:
        """Remove `key_path`'s key with its whole value (a block mapping's entry) and, with `comments_above`,
        the comment lines right above it at its indentation (they describe it)."""
        lines = self.text.splitlines(keepends=True)
        row, column = self._at(key_path)
        if lines[row][:column].strip():
            raise EditError([f"{self.path.name}:{row + 1}: {key_path}: shares its line with other keys; "
                             "edit it by hand"])
        end = _block_end(lines, row, column)
        start = row
        while comments_above and start > 0 and lines[start - 1].lstrip().startswith("#") \
                and _indent(lines[start - 1]) == column:
            start -= 1
        self._reload("".join(lines[:start] + lines[end:]))

    def replace_value(self, key_path: str, source_path: str) -> None:
        """Give `key_path` the value block of `source_path` (both block mapping entries), re-indented."""
        lines = self.text.splitlines(keepends=True)
        row, column = self._at(key_path)
        source_row, source_column = self._at(source_path)
        source_end = _block_end(lines, source_row, source_column)
        shift = source_column - column
        block = [lines[source_row][source_column:]]
        for line in lines[source_row + 1:source_end]:
            indent = len(line) - len(line.lstrip(" "))
            block.append(line[min(shift, indent):] if shift >= 0 else " " * -shift + line)
        key = key_path.rsplit(".", 1)[-1]
        source_key = source_path.rsplit(".", 1)[-1]
        if not block[0].startswith(source_key) or lines[row][:column].strip():
            raise EditError([f"{self.path.name}:{row + 1}: {key_path}: not a plain block entry; edit it by hand"])
        block[0] = key + block[0][len(source_key):]
        end = _block_end(lines, row, column)
        self._reload("".join(lines[:row] + [lines[row][:column]] + block + lines[end:]))

    # ---- writing ----

    def write_checked(self, expected: dict[str, Any], validate: Callable[[dict[str, Any]], None]) -> None:
        """Write the edited text if it holds exactly `expected` and `validate` accepts it."""
        if self.loaded.config != expected:
            raise EditError([f"{self.path.name}: the edit did not give the intended config (an unusual layout "
                             "near the key?); nothing was written: edit the file by hand"])
        validate(self.loaded.config)
        partial = self.path.with_name(f".{self.path.name}.partial")
        try:
            partial.write_text(self.text, encoding="utf-8")
            partial.replace(self.path)
        finally:
            partial.unlink(missing_ok=True)


def yaml_scalar(value: Any) -> str:
    """A YAML scalar every reader takes the same way: text double-quoted (JSON's escapes are YAML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], row: int, column: int) -> int:
    """The index after the last line of the block of the key at (`row`, `column`): the lines below it
    indented deeper (or a `- ` list at its own indentation), trailing blank lines and shallower
    comments left out."""
    end = row + 1
    last = row + 1
    for index in range(row + 1, len(lines)):
        line = lines[index]
        if not _is_content(line):
            if line.strip() and _indent(line) > column:
                last = index + 1  # a comment inside the block
            continue
        if _indent(line) > column or (_indent(line) == column and line.lstrip().startswith("- ")):
            last = index + 1
            continue
        break
    end = max(end, last)
    return end


__all__ = ["EditError", "StackFileText", "yaml_scalar"]
