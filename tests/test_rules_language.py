"""The Rules-language printer, the rewrite of path tests under a Worker route's prefix, and the split of
a scoped rule over Cloudflare's expression length into parts on disjoint sites.

Each rewrite is proven by evaluation: on `prefix + path` the rewritten expression gives the verdict the
original gives on `path`, for paths on both sides of every test; a refused test has a path where moving
it would change the verdict.
"""

from __future__ import annotations

import pytest

from chittyos_edge import rules_language
from chittyos_edge.rules_language import (RouteRewriteError, TooLongError, disjoint_units, evaluate, parse, rebase,
                                          scoped, split_scoped, unparse)
from tests.conftest import stack_file_config

PREFIX = "/project-awareness"
PATHS = ("/", "/api", "/api/", "/API/Auth/x", "/api/auth/", "/api/auth/login", "/apix", "/x/api/auth/",
         "/sessions/", "/api/sessions/a", "/ws", "/ws/", "/wsx", "/a.js", "/static/a.js", "/s/api", "/api/v12/x",
         "/api/projects/sync", "/x/sync")


def stack_expressions() -> list[str]:
    found = []
    for stack in ("production", "staging"):
        security = stack_file_config(stack).get("chittyos-edge:edgeSecurity") or {}
        for section in ("wafCustomRules", "managedRulesets", "rateLimits", "cacheRules"):
            found += [rule["expression"] for rule in security.get(section, []) if "expression" in rule]
    return found


@pytest.mark.parametrize("expression", [
    *stack_expressions(),
    'ip.src in {192.0.2.0/24 2001:db8::/32 10.0.0.1} and not cf.client.bot',
    '(http.request.method eq "POST" xor http.request.uri.query contains "a\\"b\\\\c") or cf.threat_score gt 10',
    'any(http.request.headers["x-a"][*] eq "1") && lower(http.request.uri.path) wildcard "/x/*"',
    'http.request.uri.path.extension in {"js" "css"} and http.request.headers.names[0] strict wildcard "X-*"',
    'ip.src in $cf.open_proxies and http.request.uri.args["q"][0] eq "é"',
])
def test_printing_a_tree_gives_back_the_same_tree(expression):
    tree = parse(expression)
    assert parse(unparse(tree)) == tree


# (expression, its rewrite under PREFIX)
MOVED = [
    ('starts_with(http.request.uri.path, "/api/")', 'starts_with(http.request.uri.path, "/project-awareness/api/")'),
    ('http.request.uri.path eq "/ws"', 'http.request.uri.path eq "/project-awareness/ws"'),
    ('http.request.uri.path ne "/ws"', 'http.request.uri.path ne "/project-awareness/ws"'),
    ('http.request.uri.path in {"/ws" "/api/auth/"}', 'http.request.uri.path in {"/project-awareness/ws" "/project-awareness/api/auth/"}'),
    ('raw.http.request.uri.path eq "/ws"', 'raw.http.request.uri.path eq "/project-awareness/ws"'),
    ('http.request.uri wildcard "/api/*"', 'http.request.uri wildcard "/project-awareness/api/*"'),
    ('upper(http.request.uri.path) eq "/WS"', 'upper(http.request.uri.path) eq "/PROJECT-AWARENESS/WS"'),
    ('lower(http.request.uri.path) strict wildcard "/api/auth/*"', 'lower(http.request.uri.path) strict wildcard "/project-awareness/api/auth/*"'),
    ('http.request.uri.path matches "^/api/v[0-9]+/"', 'http.request.uri.path matches "^/project-awareness/api/v[0-9]+/"'),
    ('http.request.uri.path matches "^/(api|ws)(/|$)"', 'http.request.uri.path matches "^/project-awareness/(api|ws)(/|$)"'),
    ('not (http.request.uri.path eq "/ws" or http.request.method eq "GET")',
     'not (http.request.uri.path eq "/project-awareness/ws" or http.request.method eq "GET")'),
    # unchanged: no path test, or one that gives the same verdict under the prefix
    ('http.request.uri.path contains "/sessions/"', 'http.request.uri.path contains "/sessions/"'),
    ('ends_with(http.request.uri.path, ".js")', 'ends_with(http.request.uri.path, ".js")'),
    ('http.request.uri.path.extension eq "js"', 'http.request.uri.path.extension eq "js"'),
    ('http.request.method eq "POST"', 'http.request.method eq "POST"'),
]


@pytest.mark.parametrize("expression,expected", MOVED)
def test_path_tests_move_under_the_prefix_and_keep_their_verdict(expression, expected):
    moved = rebase(expression, PREFIX)
    assert moved == expected
    for path in PATHS:
        for method in ("GET", "POST"):
            request = {"http.request.uri.path": path, "raw.http.request.uri.path": path, "http.request.uri": path,
                       "http.request.method": method}
            under = {**request, **{field: PREFIX + path for field in ("http.request.uri.path",
                                                                    "raw.http.request.uri.path", "http.request.uri")}}
            assert evaluate(moved, under) == evaluate(expression, request), (path, method)


def test_the_regex_prefix_is_escaped():
    moved = rebase('http.request.uri.path matches "^/api/"', "/v1.2+x")
    assert moved == 'http.request.uri.path matches "^/v1\\\\.2\\\\+x/api/"'
    assert evaluate(moved, {"http.request.uri.path": "/v1.2+x/api/a"})
    assert not evaluate(moved, {"http.request.uri.path": "/v1x2+x/api/a"})


# (expression, a path where the moved test would give another verdict than the original, what the error says)
REFUSED = [
    ('http.request.uri.path contains "s/api"', "/api/x", "across its join"),
    ('http.request.uri.path contains "awareness"', "/", "inside the prefix"),
    ('ends_with(http.request.uri.path, "ness/")', "/", "across the join"),
    ('http.request.uri.path matches "/api/"', None, "not anchored"),
    ('http.request.uri.path matches "^/api|^/ws"', None, "no top-level `|`"),
    ('http.request.uri.path matches "^/?api"', None, "not anchored"),
    ('http.request.uri.path wildcard "*/sessions/*"', None, "does not start with"),
    ('http.request.uri.path lt "/m"', None, "by order"),
    ('len(http.request.uri.path) gt 10', None, "outside a test"),
    ('http.request.uri.path in $paths', None, "string literals"),
    ('http.request.full_uri contains "/api/"', None, "includes the hostname"),
]


@pytest.mark.parametrize("expression,counterexample,reason", REFUSED)
def test_path_tests_that_cannot_move_soundly_are_refused(expression, counterexample, reason):
    with pytest.raises(RouteRewriteError) as error:
        rebase(expression, PREFIX)
    assert reason in str(error.value)
    if counterexample is not None:  # kept as written, it would match on the route where the root does not
        assert (evaluate(expression, {"http.request.uri.path": PREFIX + counterexample})
                != evaluate(expression, {"http.request.uri.path": counterexample}))


def test_scoped_keeps_the_body_as_written_on_hostnames_and_moves_it_on_routes():
    body = '(starts_with(http.request.uri.path, "/api/") and http.request.method eq "POST")'
    deployed = scoped(["a.example", "b.example", "api.example/pa/", "api2.example/pa/"], body)
    assert deployed == (
        '(http.host in {"a.example" "b.example"} and (' + body + ')) or (http.host in {"api.example" '
        '"api2.example"} and starts_with(http.request.uri.path, "/pa/") and (starts_with(http.request.uri.path, '
        '"/pa/api/") and http.request.method eq "POST"))')
    # without path tests every site shares one condition, as before
    assert scoped(["a.example", "api.example/pa/"], 'http.request.method eq "POST"') == (
        '(http.host in {"a.example"} or (http.host eq "api.example" and starts_with(http.request.uri.path, "/pa/")))'
        ' and (http.request.method eq "POST")')
    # a route over the whole host needs no rewrite
    assert "/api/" in scoped(["api.example/"], body) and "/pa" not in scoped(["api.example/"], body)


def test_a_route_without_a_path_root_refuses_path_tests_only():
    assert scoped(["api.example/pa"], 'http.request.method eq "POST"')
    with pytest.raises(RouteRewriteError, match="api.example/pa\\*.*does not end in /\\*"):
        scoped(["api.example/pa"], 'starts_with(http.request.uri.path, "/api/")')


def test_the_expression_limit_is_cloudflares():
    assert rules_language.MAX_EXPRESSION_LENGTH == 4096


# ---- a rule over the length, split across sites ----------------------------------------------------

BODY = 'http.request.method eq "POST" and starts_with(http.request.uri.path, "/api/")'


def on_site(site: str, path: str = "/api/x") -> dict:
    host, _, rest = site.partition("/")
    prefix = "/" + rest.rstrip("/") if rest else ""
    return {"http.host": host, "http.request.uri.path": prefix + path, "http.request.method": "POST"}


def test_a_rule_that_fits_is_one_part_exactly_as_scoped():
    sites = ["a.example", "api.example/pa/"]
    assert split_scoped(sites, BODY) == [(sites, scoped(sites, BODY))]


def test_a_rule_over_the_limit_is_split_into_parts_that_fit_and_match_each_site_once():
    sites = [f"tenant-{i:03d}.example" for i in range(60)] + [f"api.example/t{i}/" for i in range(30)]
    whole = scoped(sites, BODY)
    parts = split_scoped(sites, BODY, limit=len(whole) // 3)
    assert len(parts) >= 3 and all(len(text) <= len(whole) // 3 for _, text in parts)
    assert [site for chunk, _ in parts for site in chunk] == sites  # in order, each once
    for site in sites:
        assert [evaluate(text, on_site(site)) for _, text in parts].count(True) == 1, site
        assert not any(evaluate(text, {**on_site(site), "http.request.method": "GET"}) for _, text in parts)
    for foreign in ("www.example", "api.example/other/", "api.example"):
        assert not any(evaluate(text, on_site(foreign)) for _, text in parts), foreign


def test_sites_added_at_the_end_change_only_the_last_part():
    sites = [f"tenant-{i:03d}.example" for i in range(80)]
    limit = len(scoped(sites[:25], BODY))  # 25 sites a part
    before = split_scoped(sites, BODY, limit)
    assert [len(chunk) for chunk, _ in before] == [25, 25, 25, 5]
    after = split_scoped(sites + ["tenant-new.example"], BODY, limit)
    assert after[:3] == before[:3] and after[3][0] == sites[75:] + ["tenant-new.example"]
    full = split_scoped(sites[:75], BODY, limit)
    assert split_scoped(sites[:76], BODY, limit) == full + [([sites[75]], scoped([sites[75]], BODY))]


def test_sites_that_can_share_a_request_stay_in_one_part():
    # a hostname with its routes; routes whose prefixes nest (a route `host/a*` has no trailing slash)
    assert disjoint_units(["a.example", "b.example/x/", "c.example", "b.example/y/", "a.example/p/", "b.example/"]) == [
        ["a.example", "a.example/p/"], ["b.example/x/", "b.example/y/", "b.example/"], ["c.example"]]
    assert disjoint_units(["h.example/a/", "h.example/b/", "h.example/ab/", "h.example/a"]) == [
        ["h.example/a/", "h.example/ab/", "h.example/a"], ["h.example/b/"]]
    sites = ["big.example"] + [f"big.example/{'x' * 50}{i}/" for i in range(3)] + ["small.example"]
    limit = len(scoped(sites[:4], BODY))
    parts = split_scoped(sites, BODY, limit)
    assert [chunk for chunk, _ in parts] == [sites[:4], ["small.example"]]
    with pytest.raises(TooLongError, match="on big.example \\(with 3 routes it shares requests with\\) alone"):
        split_scoped(sites, BODY, limit - 1)
