"""The README as a reader meets it: its contents list every section, its links land, the sections
other files point at exist, documents are named by title, and the StackReference snippet runs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chittyos_edge import cli
from conftest import ROOT

README = (ROOT / "README.md").read_text()


def _headings(text: str) -> list[tuple[int, str]]:
    """(level, title) of every heading outside code fences."""
    found, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (match := re.match(r"^(#{1,6}) (.+)$", line)):
            found.append((len(match.group(1)), match.group(2).strip()))
    return found


def _anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


HEADINGS = _headings(README)
ANCHORS = {_anchor(title) for _, title in HEADINGS}


def test_contents_list_every_section_in_order():
    contents = README.split("## Contents", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^( *)- \[(.+)\]\(#([^)]+)\)$", contents, flags=re.MULTILINE)
    sections = [(level, title) for level, title in HEADINGS if level in (2, 3) and title != "Contents"]
    assert [(2 + len(indent) // 2, title) for indent, title, _ in listed] == sections
    assert all(anchor == _anchor(title) for _, title, anchor in listed)


def test_every_link_in_the_readme_lands():
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    assert targets
    for target in targets:
        if target.startswith("#"):
            assert target[1:] in ANCHORS, f"no section for the link {target}"
        elif not re.match(r"https?://", target):
            assert (ROOT / target).exists(), f"the README links to {target}, which is not in the repository"


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in listed.splitlines() if name != "package-lock.json" and (ROOT / name).is_file()]


def test_sections_other_files_point_at_exist():
    """`README, "Secrets"` in a stack file, an error message or a workflow names a real section."""
    titles = [re.sub(r"[`*]", "", title) for _, title in HEADINGS]
    quoted = re.compile(r"README,\s*(?:section\s*)?\\?[\"'](?P<name>[^\"'\\]+)\\?[\"']")
    pointers = 0
    for path in _tracked_files():
        if path.name == "README.md" or path.suffix not in {".py", ".yaml", ".yml", ".md", ".json", ".sql", ""}:
            continue
        for match in quoted.finditer(path.read_text(errors="replace")):
            pointers += 1
            name = match.group("name")
            assert any(title.startswith(name) for title in titles), \
                f"{path.relative_to(ROOT)} points at README section {name!r}, which does not exist"
    assert pointers >= 10


SEED = re.compile(r"\bseeds?\b(?!ed)", re.IGNORECASE)


def test_documents_are_named_by_title_in_what_users_read():
    """No "seed"/"seed 00N" anywhere a user reads: README, stack files, runbooks, workflows, the pack,
    the program and its messages (tests may still seed a random generator)."""
    offenders = []
    for path in _tracked_files():
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {"tests", "bench"}:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if SEED.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


COMMANDS = sorted(cli.build_parser()._subparsers._group_actions[0].choices)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_reads_well(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = capsys.readouterr().out
    assert not SEED.search(text)
    assert f"examples:\n  chittyos-edge {command}" in text and "exit codes:\n  0  " in text and "\n  2  " in text
    prose = text.split("\noptions:\n", 1)[0]   # examples may be long commands; the description wraps
    long = [line for line in prose.splitlines() if len(line) > 100]
    assert not long, f"{command} --help has unwrapped lines: {long[:2]}"


def test_readme_names_every_command():
    table = README.split("### The command line", 1)[1].split("\n### ", 1)[0]
    for command in COMMANDS:
        assert f"`{command}" in table, f"the command table does not list {command}"


# ---- the StackReference snippet of "Consuming from another Pulumi program" -------------------------

CONSUMER = """
import asyncio, json, sys
import pulumi

stack, outputs = sys.argv[1], json.loads(sys.stdin.read())
asked = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        assert args.typ == "pulumi:pulumi:StackReference"
        asked.append(args.inputs["name"])
        return args.name, {"name": args.inputs["name"], "outputs": outputs,
                           "secretOutputNames": ["tunnelToken", "accessCredentials"]}

    def call(self, args):
        return {}


asyncio.set_event_loop(asyncio.new_event_loop())
pulumi.runtime.set_mocks(Mocks(), project="consumer", stack=stack, preview=False)
snippet = {}
exec(sys.argv[2], snippet)


async def read():
    names = ("contract", "tokens_kv_id", "database", "hostnames", "access_aud", "tunnel_token")
    return {name: [await snippet[name].future(), await snippet[name].is_secret()] for name in names}


values = asyncio.get_event_loop().run_until_complete(read())
print(json.dumps({"asked": asked, **values}))
"""


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_the_stack_reference_snippet_reads_the_outputs(stack, plans):
    section = README.split("### Consuming from another Pulumi program", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    outputs = plans[stack]["outputs"]
    run = subprocess.run([sys.executable, "-c", CONSUMER, stack, snippet], input=json.dumps(outputs),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.splitlines()[-1])
    connect = outputs["services"]["chittyconnect"]
    assert got["asked"] == [f"organization/chittyos-edge/{stack}"]
    assert got["contract"] == [outputs["contractVersion"], False]
    assert got["tokens_kv_id"] == [connect["kvNamespaces"]["TOKEN_KV"], False]
    assert got["database"] == [connect["d1Databases"]["DB"], False]
    assert got["hostnames"] == [connect["hostnames"], False]
    assert got["access_aud"] == [outputs["tunnel"]["accessAud"], False]
    assert got["tunnel_token"][1] is True


def test_the_snippet_refuses_another_major_version(plans):
    section = README.split("### Consuming from another Pulumi program", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    outputs = dict(plans["production"]["outputs"], contractVersion="2.0")
    run = subprocess.run([sys.executable, "-c", CONSUMER, "production", snippet], input=json.dumps(outputs),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "follow contract 2.0; this program reads 1.x" in run.stderr
