"""Which properties the engine marked secret, kept for the rules.

The engine sends every Analyze/AnalyzeStack property that is a secret wrapped in the secret
signature (`{"4dabf1...": "1b4706...", "value": ...}`): that is what `pulumi preview` shows as
`[secret]`. `pulumi_policy` unwraps those values before a policy sees them and drops the marking,
so a policy could only guess secrets by their look. This module keeps the marking: the pack's
decoding is wrapped so that each resource's props carry `secret_paths`, the paths (as the plan
writes them, `bindings[3].text`) the engine marked. `secret_paths_of(props)` reads them.

Whoever decodes the Analyzer requests some other way (e.g. once per AnalyzeStack) keeps this by
calling `mark(raw, props)` with the request's properties as a dict and the proxied props.
"""

from __future__ import annotations

from typing import Any, Iterator

import pulumi_policy.policy as _policy

SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def secret_paths(raw: Any, path: str = "") -> Iterator[str]:
    """The paths of the values wrapped in the secret signature in an undecoded property value."""
    if isinstance(raw, dict):
        if raw.get(SIG_KEY) == SECRET_SIG:
            yield path
            return
        for key, value in raw.items():
            yield from secret_paths(value, f"{path}.{key}" if path else str(key))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            yield from secret_paths(value, f"{path}[{index}]")


class _Marked(dict):
    """Decoded props that remember the secret paths of the request they came from."""

    secret_paths: frozenset[str] = frozenset()


def mark(raw: Any, props: Any) -> Any:
    """Attach the secret paths of `raw` (undecoded properties) to `props`; returns `props`."""
    paths = frozenset(secret_paths(raw))
    try:
        props.secret_paths = paths
    except AttributeError:  # a plain dict: wrap it so the paths travel with it
        props = _Marked(props)
        props.secret_paths = paths
    return props


def secret_paths_of(props: Any) -> frozenset[str] | None:
    """The marked paths of a resource's props, or None when the decoding did not keep them."""
    return getattr(props, "secret_paths", None)


def is_marked(path: str, marked: frozenset[str]) -> bool:
    """A value is secret when its path, or a path above it, is marked (a whole list may be)."""
    return any(path == m or path.startswith(m + ".") or path.startswith(m + "[") for m in marked)


def _install() -> None:
    decode, proxy = _policy.deserialize_properties, _policy.unknown_checking_proxy
    if getattr(decode, "keeps_secret_marks", False):
        return

    def deserialize_properties(props: Any, proxy_secrets: bool = False) -> Any:
        decoded = decode(props, proxy_secrets)
        return decoded if proxy_secrets else mark(props, decoded)

    def unknown_checking_proxy(props: Any) -> Any:
        proxied = proxy(props)
        if isinstance(props, _Marked):
            proxied.secret_paths = props.secret_paths
        return proxied

    deserialize_properties.keeps_secret_marks = True  # type: ignore[attr-defined]
    _policy.deserialize_properties = deserialize_properties
    _policy.unknown_checking_proxy = unknown_checking_proxy


_install()
