"""The strict stack-file loader: what it refuses, with file, line and key path; and its locator.

Pure loader tests: no Pulumi runtime involved.
"""

from __future__ import annotations

import pytest

from chittyos_edge.config import ConfigError
from chittyos_edge.config.stack_file import MAX_BYTES, load_stack_file, parse_stack_file
from tests.conftest import ROOT

SOURCE = "Pulumi.staging.yaml"


def refused(text: str | bytes) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stack_file(text, SOURCE)
    return caught.value.problems


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_both_stack_files_load_and_every_key_has_a_line(stack):
    path = ROOT / f"Pulumi.{stack}.yaml"
    loaded = load_stack_file(path)
    lines = path.read_text().splitlines()
    assert loaded.source == path.name
    assert lines[loaded.line_of("chittyos-edge:environment") - 1].strip() == f"chittyos-edge:environment: {stack}"
    assert lines[loaded.line_of("chittyos-edge:services.chittyconnect.code.source") - 1].strip() == "source: live"


def test_line_of_walks_list_items_and_falls_back_to_the_nearest_section():
    loaded = load_stack_file(ROOT / "Pulumi.production.yaml")
    lines = (ROOT / "Pulumi.production.yaml").read_text().splitlines()
    assert lines[loaded.line_of("chittyos-edge:edgeSecurity.tls.minTlsVersion") - 1].strip() == 'minTlsVersion: "1.3"'
    third = loaded.line_of("chittyos-edge:monitoring.healthChecks[2].hostname")
    assert lines[third - 1].strip() == "hostname: project-awareness.chitty.cc"
    assert lines[third - 2].strip() == "- name: project-awareness-storage"
    # A key the file does not have (a default) is placed where its section is.
    assert loaded.line_of("chittyos-edge:monitoring.healthChecks[2].method") == \
        loaded.line_of("chittyos-edge:monitoring.healthChecks[2]")
    assert loaded.line_of("chittyos-edge:nothing.here") is None


def test_locate_adds_the_line_to_messages_that_name_a_key():
    loaded = parse_stack_file("config:\n  chittyos-edge:zone:\n    name: chitty.cc\n", SOURCE)
    assert loaded.locate([f"{SOURCE}: chittyos-edge:zone.name: bad", "missing secret x", f"{SOURCE}: prose"]) == [
        f"{SOURCE}:3: chittyos-edge:zone.name: bad", "missing secret x", f"{SOURCE}: prose"]


@pytest.mark.parametrize("text, expected", [
    ("config:\n  chittyos-edge:environment: staging\n  chittyos-edge:environment: production\n",
     f"{SOURCE}:3:3: chittyos-edge:environment: duplicate key (first at line 2)"),
    ("config:\n  chittyos-edge:zone:\n    name: a\n    name: b\n", f"{SOURCE}:4:5: chittyos-edge:zone.name: duplicate key"),
    ("config:\n  1: x\n", f"{SOURCE}:2:3: config: key '1' is read as a YAML int, not text; quote it"),
    ("config:\n  on: x\n", f"{SOURCE}:2:3: config: key 'on' is read as a YAML bool"),
    ("config:\n  ? [a]\n  : x\n", f"{SOURCE}:2:5: config: a key is a list; keys are names"),
    ("- config\n", f"{SOURCE}:1:1: the document is a list, not a mapping"),
    ("just text\n", f"{SOURCE}:1:1: the document is the value 'just text', not a mapping"),
    ("config:\n  chittyos-edge:zone: !!binary aGVsbG8=\n", f"{SOURCE}:2:23: chittyos-edge:zone: is YAML binary data"),
    ("config:\n  chittyos-edge:zone: !!set {a, b}\n", "chittyos-edge:zone: is a YAML set; write a list"),
    ("config:\n  chittyos-edge:zone: !!omap [{a: 1}]\n", "chittyos-edge:zone: is a YAML ordered map"),
    ("config:\n  chittyos-edge:d: 2025-01-01\n", "chittyos-edge:d: is a YAML date/time; quote it ('2025-01-01')"),
    ("config:\n  chittyos-edge:d: !custom x\n", "chittyos-edge:d: has the YAML tag '!custom'"),
    ("config:\n  chittyos-edge:d:\n    <<: {a: 1}\n", "chittyos-edge:d: is a YAML merge key (<<)"),
    ("config:\n  chittyos-edge:a: yes\n", "chittyos-edge:a: 'yes' is a YAML 1.1 boolean"),
    ("config:\n  chittyos-edge:a: 0x1F\n", "chittyos-edge:a: '0x1F' is not a plain decimal integer"),
    ("config:\n  chittyos-edge:a: 1_000\n", "chittyos-edge:a: '1_000' is not a plain decimal integer"),
    ("config:\n  chittyos-edge:a: 9223372036854775808\n", "is not a plain decimal integer (or is out of range)"),
    ("config:\n  chittyos-edge:a: .nan\n", "chittyos-edge:a: '.nan' is not a finite decimal number"),
    ("config:\n  chittyos-edge:a:\n", f"{SOURCE}:2:19: chittyos-edge:a: has no value"),
    ("config:\n  chittyos-edge:a: &x {b: 1}\n  chittyos-edge:c: *x\n",
     f"{SOURCE}:3:3: chittyos-edge:c: reuses an anchored value through an alias"),
    ("config:\n  chittyos-edge:zone: [unclosed\n", f"{SOURCE}:3:1: not valid YAML: did not find expected ','"),
    ("config:\n\tchittyos-edge:zone: x\n", f"{SOURCE}:2:1: not valid YAML"),
    ("config: {}\n---\nconfig: {}\n", f"{SOURCE}:2:1: not valid YAML: but found another document"),
    ("", f"{SOURCE}: is empty"),
    ("secretsprovider: passphrase\n", f"{SOURCE}:1:1: has no 'config:' mapping"),
    ("config: [a]\n", f"{SOURCE}:1:1: config: is a list, not a mapping"),
    ("config: {}\nchittyos-edge:edgeSecurity:\n  tls: {}\n",
     f"{SOURCE}:2:1: chittyos-edge:edgeSecurity: is outside 'config:'; indent it under config:"),
    ("config: {}\nconfg: {}\n", f"{SOURCE}:2:1: confg: unknown top-level key; did you mean 'config'?"),
    ("config:\n  edgeSecurity: {}\n",
     f"{SOURCE}:2:3: edgeSecurity: key without a namespace, so nothing would read it; did you mean "
     "'chittyos-edge:edgeSecurity'?"),
    ("config:\n  chittyos-egde:edgeSecurity: {}\n",
     "chittyos-egde:edgeSecurity: unknown namespace 'chittyos-egde', so nothing would read it; did you mean "
     "'chittyos-edge:edgeSecurity'?"),
    ("config:\n  cloudflare:apiTokn: {secure: x}\n", "cloudflare:apiTokn: unknown cloudflare provider key; did you mean "
                                                     "'cloudflare:apiToken'?"),
])
def test_refusals_name_file_line_and_key(text, expected):
    problems = refused(text)
    assert len(problems) == 1, problems
    assert expected in problems[0]
    assert problems[0].startswith(SOURCE)


def test_provider_and_pulumi_keys_are_accepted():
    loaded = parse_stack_file("config:\n  cloudflare:apiToken: {secure: v1:abc}\n  pulumi:tags: {team: edge}\n", SOURCE)
    assert loaded.config == {"cloudflare:apiToken": {"secure": "v1:abc"}, "pulumi:tags": {"team": "edge"}}


def test_scalars_keep_their_json_types():
    loaded = parse_stack_file("config:\n  chittyos-edge:a: {i: -5, f: 0.25, t: true, s: '5', q: \"on\", n: !!str 7}\n",
                              SOURCE)
    assert loaded.config["chittyos-edge:a"] == {"i": -5, "f": 0.25, "t": True, "s": "5", "q": "on", "n": "7"}


def test_bytes_that_are_not_utf8_are_refused_with_their_line_and_column():
    (problem,) = refused(b"config:\n  chittyos-edge:zone:\n    name: chi\xfftty.cc\n")
    assert problem == f"{SOURCE}:3:14: byte 0xff is not UTF-8; save the file as UTF-8"


def test_a_utf8_byte_order_mark_is_accepted():
    assert parse_stack_file(b"\xef\xbb\xbfconfig:\n  chittyos-edge:a: b\n", SOURCE).config == {"chittyos-edge:a": "b"}


def test_absurd_sizes_and_depths_are_refused_without_recursion_errors():
    (problem,) = refused(b"config: {}\n" + b"#" * MAX_BYTES)
    assert "is larger than 8 MiB" in problem
    (problem,) = refused("config:\n  chittyos-edge:a: " + "[" * 40 + "]" * 40 + "\n")
    assert "nested more than 32 levels deep" in problem and problem.startswith(f"{SOURCE}:2:")
    (problem,) = refused("config:\n  chittyos-edge:a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert "nested too deep" in problem


def test_billion_laughs_is_one_line_not_an_expansion():
    rows = ["config:", "  chittyos-edge:a: &a [x, x, x, x, x, x, x, x, x, x]"]
    rows += [f"  chittyos-edge:{n}: &{n} [{', '.join([f'*{p}'] * 10)}]" for p, n in zip("abcdefgh", "bcdefghi")]
    problems = refused("\n".join(rows) + "\n")
    assert len(problems) == 1 and "chittyos-edge:b[0]: reuses an anchored value through an alias" in problems[0]


def test_long_keys_are_cut_in_messages():
    (problem,) = refused("config:\n  chittyos-edge:" + "k" * 300 + ":\n    a: 1\n    a: 2\n")
    assert len(problem) < 250 and "duplicate key" in problem and "\u2026" in problem
