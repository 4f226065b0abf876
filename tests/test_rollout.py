"""Staged rollout and rollback: the canary as config, the versioned deployment it plans, the Durable
Object migration rule, and the `rollout`, `rollback` and `flag` commands editing a copy of the stack file."""

from __future__ import annotations

import pytest

from chittyos_edge import cli
from chittyos_edge.config import ConfigError
from chittyos_edge.config.stack_edit import EditError, StackFileText
from chittyos_edge.config.services import MigrationStep
from chittyos_edge.plan import make_plan, mocks
from chittyos_edge.plan.mocks import PlanMocks
from components.durable_objects import MigrationHistoryError, migrations_to_upload
from tests.conftest import ROOT, config_problems, copy_project, plan_with, resource, resources

VERSION = "cloudflare:index/workerVersion:WorkerVersion"
DEPLOYMENT = "cloudflare:index/workersDeployment:WorkersDeployment"
CANARY_SHA = "cd" * 32
CANARY = {"percent": 10, "code": {"source": "build", "bundle": "dist/project-awareness/next.mjs", "sha256": CANARY_SHA,
                                  "fetch": "gh release download v2 --pattern worker.mjs --dir dist/project-awareness"}}


def _canary(percent: int = 10, key: str = "project-awareness", **code):
    """A mutation adding a canary to a service (`code` overrides the pinned build's keys; None drops one)."""
    def mutate(config):
        merged = {k: v for k, v in {**CANARY["code"], **code}.items() if v is not None}
        config["chittyos-edge:services"][key]["canary"] = {"percent": percent, "code": merged}
    return mutate


def _split(plan, stack="production", service="project-awareness"):
    """{role: percentage} of the service's deployment, in its order, matched to the versions by id."""
    deployment = resource(plan, DEPLOYMENT, f"{stack}-{service}-deployment")
    assert deployment["inputs"]["strategy"] == "percentage"
    versions = [v for v in resources(plan, VERSION) if v["name"].startswith(f"{stack}-{service}-version-")]
    assert sorted(deployment["propertyDependencies"]["versions"]) == sorted(v["urn"] for v in versions)
    role_of = {PlanMocks(zone_name="").outputs_of(v)[0]: v["name"].rsplit("-", 1)[1] for v in versions}
    return {role_of[v["versionId"]]: v["percentage"] for v in deployment["inputs"]["versions"]}


# ---- the deployment's percentages come from config --------------------------------------------

def test_production_deploys_the_stable_version_to_all_traffic(production):
    assert _split(production) == {"stable": 100}


def test_a_canary_is_a_second_version_with_its_percentage_from_config():
    plan = plan_with("production", _canary(25))
    stable = resource(plan, VERSION, "production-project-awareness-version-stable")
    canary = resource(plan, VERSION, "production-project-awareness-version-canary")
    # stable first, as in the deployment before: Durable Objects keep their version while the canary grows
    assert list(_split(plan).items()) == [("stable", 75), ("canary", 25)]
    assert canary["inputs"]["modules"][0]["contentSha256"] == CANARY_SHA
    assert canary["inputs"]["modules"][0]["contentFile"] == "dist/project-awareness/next.mjs"
    assert stable["inputs"]["modules"] != canary["inputs"]["modules"]
    same = ("bindings", "compatibilityDate", "compatibilityFlags", "limits", "placement")
    assert {k: canary["inputs"].get(k) for k in same} == {k: stable["inputs"].get(k) for k in same}
    # the offline plan models a Worker with a canary as deployed before, its migrations live
    assert "migrations" not in canary["inputs"] and "migrations" not in stable["inputs"]


@pytest.mark.parametrize("mutate, key, gist", [
    (_canary(key="chittyconnect"), "services.chittyconnect.canary", "code.source live uploads no code"),
    (_canary(sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
     "services.project-awareness.canary.code.sha256", "the canary is the stable build"),
    (_canary(100), "services.project-awareness.canary.percent", "promote it"),
    (_canary(-5), "services.project-awareness.canary.percent", "give 0-99"),
    (_canary(source="live", reason="x", bundle=None, sha256=None, fetch=None),
     "services.project-awareness.canary.code.source", "a canary is a build this program uploads"),
    (_canary(source="reference", bundle="workers/project-awareness/worker.mjs", sha256=None, fetch=None),
     "services.project-awareness.canary.code.source", "reference bundles"),
])
def test_bad_canaries_are_refused_naming_the_key(mutate, key, gist):
    problems = config_problems("production", mutate)
    assert any(key in p and gist in p for p in problems), problems


def test_a_reference_canary_with_the_stable_content_is_refused(tmp_path):
    project = copy_project(tmp_path / "checkout")
    (project.root / "workers/project-awareness/copy.mjs").write_bytes(
        (project.root / "workers/project-awareness/worker.mjs").read_bytes())
    config = StackFileText.read(project.stack_file("staging")).config
    config["chittyos-edge:services"]["project-awareness"]["canary"] = {
        "percent": 10, "code": {"source": "reference", "bundle": "workers/project-awareness/copy.mjs"}}
    with pytest.raises(ConfigError, match=r"services.project-awareness.canary.code: the same bundle"):
        make_plan("staging", file_config=config, project=project)


# ---- Durable Object migrations ride only on a 100 % deployment ---------------------------------

def _new_step(config):
    config["chittyos-edge:durableObjects"]["project-awareness"]["migrations"].append(
        {"tag": "v2", "newSqliteClasses": ["ProjectArchiveDurableObject"]})


def test_a_canary_whose_version_would_carry_a_migration_is_refused(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyops-project-awareness-production", "v1")

    def step_and_canary(config):
        _new_step(config)
        _canary()(config)

    with pytest.raises(ConfigError) as error:
        plan_with("production", step_and_canary)
    text = str(error.value)
    assert "durableObjects.project-awareness.migrations" in text and "['v2']" in text
    assert "services.project-awareness.canary splits the traffic" in text and "100 % deployment" in text


def test_the_same_step_without_a_canary_ships_with_the_100_percent_deployment(monkeypatch):
    monkeypatch.setitem(mocks.LIVE_SCRIPTS, "chittyops-project-awareness-production", "v1")
    plan = plan_with("production", _new_step)
    assert _split(plan) == {"stable": 100}
    assert resource(plan, VERSION, "production-project-awareness-version-stable")["inputs"]["migrations"] == {
        "oldTag": "v1", "newTag": "v2", "steps": [{"newSqliteClasses": ["ProjectArchiveDurableObject"]}]}


def test_a_canary_on_a_script_never_deployed_is_refused():
    steps = [MigrationStep(tag="v1", new_sqlite_classes=["A"])]
    with pytest.raises(MigrationHistoryError, match="has no migration yet.*services.x.canary splits"):
        migrations_to_upload(steps, None, where="durableObjects.x", environment="staging",
                             split_by="services.x.canary")
    assert migrations_to_upload(steps, "v1", where="durableObjects.x", environment="staging",
                                split_by="services.x.canary") is None


# ---- the commands, on a copy of the project ---------------------------------------------------

CANARY_TEXT = """      # The next release, 10 % first.
      canary:
        percent: 10   # the guide's first step
        code:
          source: build
          bundle: dist/project-awareness/next.mjs
          sha256: {sha}
          fetch: gh release download v2 --pattern worker.mjs --dir dist/project-awareness
""".format(sha=CANARY_SHA)
ANCHOR = "      compatibilityDate: \"2024-08-29\"\n"


@pytest.fixture
def checkout(tmp_path):
    """A copy of the project whose production stack runs a canary of Project Awareness at 10 %."""
    project = copy_project(tmp_path / "checkout")
    path = project.stack_file("production")
    text = path.read_text()
    assert text.count(ANCHOR) == 1
    path.write_text(text.replace(ANCHOR, CANARY_TEXT + ANCHOR))
    return project


def _run(project, *argv) -> int:
    return cli.main(["-C", str(project.root), *argv])


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    import difflib

    diff = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    return [(line[0], line[2:]) for line in diff]


def test_rollout_moves_the_canary_one_step_and_the_plan_follows(checkout, capsys):
    path = checkout.stack_file("production")
    before = path.read_text()
    assert _run(checkout, "rollout", "--stack", "production", "--service", "project-awareness") == 0
    after = path.read_text()
    assert _changed_lines(before, after) == [("-", "        percent: 10   # the guide's first step"),
                                             ("+", "        percent: 25   # the guide's first step")]
    out = capsys.readouterr().out
    assert "canary.percent: 10 -> 25" in out
    assert "pulumi up --stack production --diff --policy-pack policies --policy-pack-config " \
           "policies/config/production.json" in out
    assert _split(make_plan("production", project=checkout)) == {"stable": 75, "canary": 25}


def test_rollout_to_100_promotes_the_canary_to_the_stable_code(checkout):
    path = checkout.stack_file("production")
    assert _run(checkout, "rollout", "--stack", "production", "--service", "project-awareness", "--percent", "50") == 0
    assert _run(checkout, "rollout", "--stack", "production", "--service", "project-awareness") == 0
    text = path.read_text()
    assert "canary:" not in text and "The next release" not in text
    assert f"        sha256: {CANARY_SHA}\n" in text and "        bundle: dist/project-awareness/next.mjs\n" in text
    assert "Pin the release you deploy (bundle + sha256 + fetch)" in text, "the comments around the code stay"
    plan = make_plan("production", project=checkout)
    assert _split(plan) == {"stable": 100}
    stable = resource(plan, VERSION, "production-project-awareness-version-stable")
    assert stable["inputs"]["modules"][0]["contentSha256"] == CANARY_SHA


def test_rollback_sends_everything_back_to_the_stable_version(checkout, capsys):
    path = checkout.stack_file("production")
    original = (ROOT / "Pulumi.production.yaml").read_text()
    assert _run(checkout, "rollback", "--stack", "production", "--service", "project-awareness") == 0
    assert path.read_text() == original, "the canary block and its comment go, nothing else changes"
    assert "canary removed" in capsys.readouterr().out
    plan = make_plan("production", project=checkout)
    assert _split(plan) == {"stable": 100}
    assert not [v for v in resources(plan, VERSION) if v["name"].endswith("-version-canary")]
    # nothing left to roll back: exit 2 naming the key; --all has nothing to do
    assert _run(checkout, "rollback", "--stack", "production", "--service", "project-awareness") == 2
    assert "services.project-awareness.canary" in capsys.readouterr().err
    assert _run(checkout, "rollback", "--stack", "production", "--all") == 0


def test_flag_sets_a_feature_flag_in_the_stack_file(checkout, capsys):
    path = checkout.stack_file("production")
    before = path.read_text()
    assert _run(checkout, "flag", "--stack", "production", "--service", "chittyconnect", "ENABLE_R2_STORAGE=false") == 0
    assert _changed_lines(before, path.read_text()) == [("-", '        ENABLE_R2_STORAGE: "true"'),
                                                        ("+", '        ENABLE_R2_STORAGE: "false"')]
    out = capsys.readouterr().out
    # live code: the vars ship with the application's own deploy, from the outputs
    assert "pulumi up --stack production" in out and "--format wrangler --service chittyconnect" in out
    plan = make_plan("production", project=checkout)
    assert plan["outputs"]["services"]["chittyconnect"]["vars"]["ENABLE_R2_STORAGE"] == "false"


@pytest.mark.parametrize("argv, key", [
    (["rollout", "--service", "chittyconnect"], "services.chittyconnect.code.source"),
    (["rollout", "--service", "project-awareness", "--percent", "101"], "--percent 101"),
    (["rollout", "--service", "project-awarenes"], "did you mean project-awareness"),
    (["rollback", "--service", "chittyconnect"], "services.chittyconnect.code.source"),
    (["flag", "--service", "chittyconnect", "ENABLE_R2_STORAGE=off"], "NAME=true or NAME=false"),
    (["flag", "--service", "chittyconnect", "CORS_ORIGIN=false"], "not a feature flag"),
    (["flag", "--service", "chittyconnect", "ENABLE_R2=false"], "services.chittyconnect.vars.ENABLE_R2"),
])
def test_bad_input_exits_2_naming_the_key_and_writes_nothing(checkout, capsys, argv, key):
    path = checkout.stack_file("production")
    before = path.read_bytes()
    assert _run(checkout, argv[0], "--stack", "production", *argv[1:]) == 2
    assert key in capsys.readouterr().err
    assert path.read_bytes() == before


def test_a_layout_the_editor_cannot_follow_is_refused_and_nothing_is_written(checkout):
    path = checkout.stack_file("production")
    path.write_text(path.read_text().replace("        percent: 10   # the guide's first step\n",
                                             "        percent:\n          10\n"))
    before = path.read_bytes()
    with pytest.raises(EditError, match="canary.percent: its value is not on the key's line"):
        StackFileText.read(path).set_scalar("chittyos-edge:services.project-awareness.canary.percent", 25)
    assert _run(checkout, "rollout", "--stack", "production", "--service", "project-awareness") == 2
    assert path.read_bytes() == before


def test_a_feature_flag_is_true_or_false():
    def typo(config):
        config["chittyos-edge:services"]["chittyconnect"]["vars"]["ENABLE_R2_STORAGE"] = "flase"

    problems = config_problems("production", typo)
    assert any("services.chittyconnect.vars.ENABLE_R2_STORAGE" in p and '"true" or "false"' in p for p in problems)


@pytest.mark.parametrize("command, example", [("rollout", "--percent 100"), ("rollback", "--all"),
                                              ("flag", "ENABLE_R2_STORAGE=false")])
def test_help_shows_examples_and_exit_codes(capsys, command, example):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    text = capsys.readouterr().out
    assert example in text and "exit codes:" in text and "seed" not in text.lower()
