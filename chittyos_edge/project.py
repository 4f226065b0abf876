"""The project the user stands in, found the way `pulumi` finds it.

`Project.discover()` walks up from the working directory (or `-C DIR`) to the nearest
`Pulumi.yaml`, and refuses one that names another project. Every path the tools and the program
use (stack files, Worker bundles, `migrations/`, the policy pack in `policies/` and its
`policies/config/`) resolves under its root, never under the folder this package was installed
from: a second checkout run with the first one's virtualenv plans and gates the second one.

Stacks are the `Pulumi.<stack>.yaml` files beside `Pulumi.yaml` (or in its `stackConfigDir`),
as for `pulumi stack ls` on a fresh checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import PROJECT
from .errors import UsageError

PROJECT_FILE = "Pulumi.yaml"
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")


class ProjectError(UsageError):
    """No project here, or not this one: one line, exit status 2."""


@dataclass(frozen=True)
class Project:
    """A checkout of this Pulumi project: `root` holds its `Pulumi.yaml`."""

    root: Path
    name: str = PROJECT
    stack_config_dir: str = "."

    @classmethod
    def discover(cls, start: Path | str | None = None) -> "Project":
        """The project at or above `start` (default: the working directory)."""
        origin = Path(start if start is not None else Path.cwd()).resolve()
        for folder in (origin, *origin.parents):
            if (folder / PROJECT_FILE).is_file():
                return cls.at(folder)
        raise ProjectError(f"no {PROJECT_FILE} in {origin} or any folder above it: run chittyos-edge inside a "
                           f"checkout of {PROJECT}, or name one with -C DIR")

    @classmethod
    def at(cls, root: Path | str) -> "Project":
        """The project whose `Pulumi.yaml` is in `root`; refuses another project's."""
        root = Path(root).resolve()
        path = root / PROJECT_FILE
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ProjectError(f"no {PROJECT_FILE} in {root}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ProjectError(f"{path}: cannot read it: {str(error).splitlines()[0]}") from None
        name = document.get("name") if isinstance(document, dict) else None
        if name != PROJECT:
            raise ProjectError(f"{path} is the project {name!r}, not {PROJECT!r}: this chittyos-edge plans and "
                               f"gates only {PROJECT}; run it inside a checkout of {PROJECT}, or name one with -C DIR")
        return cls(root=root, name=name, stack_config_dir=str(document.get("stackConfigDir") or "."))

    # ---- paths ----

    def path(self, relative: str | Path) -> Path:
        """A project file, e.g. `project.path("workers/chittyconnect/worker.mjs")`."""
        return self.root / relative

    @property
    def policies_dir(self) -> Path:
        """The CrossGuard pack the gate launches (`pulumi preview --policy-pack policies`)."""
        return self.root / "policies"

    @property
    def policy_config_dir(self) -> Path:
        return self.policies_dir / "config"

    def policy_config(self, stack: str) -> Path:
        """`policies/config/<stack>.json`, the file `--policy-pack-config` takes."""
        return self.policy_config_dir / f"{stack}.json"

    # ---- stacks ----

    def stack_file(self, stack: str) -> Path:
        return self.root / self.stack_config_dir / f"Pulumi.{stack}.yaml"

    def stacks(self) -> tuple[str, ...]:
        """The stacks that have a stack file, sorted."""
        folder = self.root / self.stack_config_dir
        found = (_STACK_FILE.match(path.name) for path in folder.glob("Pulumi.*.yaml"))
        return tuple(sorted(match.group(1) for match in found if match))

    def stack(self, name: str) -> str:
        """`name` as a stack of this project (`org/stack` and `org/project/stack` name it too, as in
        pulumi); refuses a stack without a stack file, listing the ones there are."""
        short = name.rsplit("/", 1)[-1]
        known = self.stacks()
        if short not in known:
            raise ProjectError(f"unknown stack {name!r}; this project's stacks are "
                               f"{', '.join(known) or 'none'} (the Pulumi.<stack>.yaml files in "
                               f"{self.root / self.stack_config_dir})")
        return short

    def describe(self) -> str:
        return f"{self.name} at {self.root}"
