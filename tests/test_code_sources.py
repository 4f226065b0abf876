"""Never a stub in production: a service runs live code (adopted) or a pinned build; reference bundles are
staging-only, and a real preview/up refuses a pinned build that is missing, different, or not pinned yet."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chittyos_edge import cli
from chittyos_edge.config import ConfigError
from chittyos_edge.preflight import EMPTY_SHA256, check_pinned_bundles
from chittyos_edge.project import Project
from tests.conftest import copy_project, plan_with, stack_file_config

REFERENCE = {"source": "reference", "bundle": "workers/chittyconnect/worker.mjs"}


def _write_stack(tmp_path: Path, stack: str, mutate) -> None:
    """A second checkout at tmp_path whose stack file is mutated."""
    import yaml

    project = copy_project(tmp_path)
    config = stack_file_config(stack)
    mutate(config)
    project.stack_file(stack).write_text(yaml.safe_dump({"config": config}))


def test_production_pointing_a_service_at_a_reference_bundle_exits_2_naming_the_key(tmp_path, capsys):
    def stub(config):
        service = config["chittyos-edge:services"]["chittyconnect"]
        service["code"] = dict(REFERENCE)
        del service["adopt"]

    _write_stack(tmp_path / "checkout", "production", stub)
    code = cli.main(["-C", str(tmp_path / "checkout"), "plan", "--stack", "production"])
    err = capsys.readouterr().err
    assert code == 2
    assert "services.chittyconnect.code.source: reference bundles" in err
    assert "Traceback" not in err


def test_a_reference_bundle_passed_off_as_a_build_is_refused_in_production():
    bundle = Project.discover().path("workers/project-awareness/worker.mjs")

    def disguised(config):
        config["chittyos-edge:services"]["project-awareness"]["code"] = {
            "source": "build", "bundle": "workers/project-awareness/worker.mjs",
            "sha256": hashlib.sha256(bundle.read_bytes()).hexdigest(), "fetch": "cp stub"}

    with pytest.raises(ConfigError) as error:
        plan_with("production", disguised)
    assert "services.project-awareness.code.bundle: workers/project-awareness/worker.mjs is a reference bundle" in str(
        error.value)


def test_staging_may_run_a_reference_bundle(staging):
    assert stack_file_config("staging")["chittyos-edge:services"]["project-awareness"]["code"]["source"] == "reference"
    version = next(r for r in staging["resources"] if r["name"] == "staging-project-awareness-version-stable")
    assert version["inputs"]["modules"][0]["contentFile"] == "workers/project-awareness/worker.mjs"


# ---- what a real preview/up checks (the offline plan needs only the hash) --------------------

def _settings(stack: str, mutate=None):
    from chittyos_edge.config import parse_stack_config

    config = stack_file_config(stack)
    if mutate:
        mutate(config)
    return parse_stack_config({k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("chittyos-edge:")},
                              f"Pulumi.{stack}.yaml", stack)


def _pin(path: str, sha256: str):
    def mutate(config):
        config["chittyos-edge:services"]["project-awareness"]["code"].update(bundle=path, sha256=sha256)
    return mutate


def test_up_refuses_the_unpinned_placeholder_naming_the_fetch_command(tmp_path):
    settings = _settings("production")
    assert settings.services["project-awareness"].code.sha256 == EMPTY_SHA256
    with pytest.raises(ConfigError) as error:
        check_pinned_bundles(settings, Project(root=tmp_path), "Pulumi.production.yaml")
    (line,) = error.value.problems
    assert "services.project-awareness.code.sha256: no release of this service is pinned yet" in line
    assert "gh release download" in line


def test_up_refuses_a_missing_bundle_and_prints_the_fetch_command(tmp_path):
    settings = _settings("production", _pin("dist/pa.mjs", "ab" * 32))
    with pytest.raises(ConfigError) as error:
        check_pinned_bundles(settings, Project(root=tmp_path), "Pulumi.production.yaml")
    assert "services.project-awareness.code.bundle: dist/pa.mjs is missing; fetch the pinned build first: gh release" \
        in error.value.problems[0]


def test_up_refuses_a_bundle_that_differs_from_its_pin(tmp_path):
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist/pa.mjs").write_text("export default {};\n")
    settings = _settings("production", _pin("dist/pa.mjs", "ab" * 32))
    with pytest.raises(ConfigError) as error:
        check_pinned_bundles(settings, Project(root=tmp_path), "Pulumi.production.yaml")
    assert "services.project-awareness.code.sha256: dist/pa.mjs has sha256" in error.value.problems[0]
    assert "the stack pins " + "ab" * 32 in error.value.problems[0]


def test_up_accepts_the_pinned_bundle(tmp_path):
    (tmp_path / "dist").mkdir()
    body = b"export default { fetch() { return new Response('ok'); } };\n"
    (tmp_path / "dist/pa.mjs").write_bytes(body)
    settings = _settings("production", _pin("dist/pa.mjs", hashlib.sha256(body).hexdigest()))
    check_pinned_bundles(settings, Project(root=tmp_path), "Pulumi.production.yaml")


def test_a_real_run_of_the_program_refuses_what_the_offline_plan_accepts(production, monkeypatch):
    """The program checks pinned files only under the engine: the same stack that plans offline (without
    dist/project-awareness/worker.mjs) stops before registering anything when the program runs for real."""
    from chittyos_edge import program

    assert production["resources"], "the offline plan needs only the hash"
    monkeypatch.setattr(program, "offline", lambda: False)
    with pytest.raises(ConfigError) as error:
        plan_with("production", lambda config: None)
    assert "services.project-awareness.code.sha256: no release of this service is pinned yet" in str(error.value)
