"""Seed-style spellings rewritten to agentgateway's own before the config is checked and lowered.

The seed article's snippets use a few spellings agentgateway's schema does not have. Each one has
a single obvious meaning, so it is accepted and rewritten in the YAML tree (lines kept, so errors
still point at the user's text); README "Routing and failover" lists both spellings:

- a route's `match: {...}`                 -> `matches: [{...}]`
- a header/query match `value: premium`    -> `value: {exact: premium}`
- a provider key in another case (`openai`) -> agentgateway's (`openAI`)
- `baseURL`/`baseUrl` inside a provider    -> the ai backend's `hostOverride` + `pathPrefix`
                                              (+ `policies.backendTLS: {}` for https)
- `timeout: 2s` on an ai backend           -> its `policies.http.requestTimeout: 2s` (per attempt)

A shorthand next to the spelling it stands for (both `match` and `matches`) is left alone, so the
schema check reports it.
"""

from __future__ import annotations

from .values import parse_base_url
from .yamlnodes import YMap, YNode, YScalar, YSeq

PROVIDER_KEYS = ("openAI", "anthropic", "gemini", "vertex", "bedrock", "azure")
_BY_FOLDED = {k.lower(): k for k in PROVIDER_KEYS}
_BASE_URL_KEYS = ("baseURL", "baseUrl")
_MAX_DEPTH = 64  # config trees are shallow; this bounds the walk on hostile input


def expand_shorthands(tree: YNode | None) -> None:
    """Rewrite `tree` in place."""
    if tree is not None:
        _walk(tree, 0)


def _walk(node: YNode, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, YSeq):
        for item in node.items:
            _walk(item, depth + 1)
        return
    if not isinstance(node, YMap):
        return
    if "backends" in node.index:
        _route(node)
    provider = node.get("provider")
    if isinstance(provider, YMap):
        _ai_backend(node, provider)
    for _, _, value in list(node.items):
        _walk(value, depth + 1)


def _route(route: YMap) -> None:
    match = route.get("match")
    if isinstance(match, YMap) and "matches" not in route.index:
        _replace(route, "match", "matches", YSeq([match], match.line))
    matches = route.get("matches")
    if not isinstance(matches, YSeq):
        return
    for m in matches.items:
        if not isinstance(m, YMap):
            continue
        for key in ("headers", "query"):
            entries = m.get(key)
            if isinstance(entries, YSeq):
                for entry in entries.items:
                    _exact_value(entry)


def _exact_value(entry: YNode) -> None:
    if not isinstance(entry, YMap):
        return
    value = entry.get("value")
    if isinstance(value, YScalar) and isinstance(value.value, (str, int, float)) and not isinstance(value.value, bool):
        line = entry.key_line("value")
        _replace(entry, "value", "value", YMap([("exact", line, YScalar(str(value.value), value.line))], line,
                                               {"exact": 0}))


def _ai_backend(ai: YMap, provider: YMap) -> None:
    for key, _, _ in list(provider.items):
        canonical = _BY_FOLDED.get(key.lower())
        if canonical is not None and canonical != key and canonical not in provider.index:
            _replace(provider, key, canonical, provider.get(key))
    for key in PROVIDER_KEYS:
        body = provider.get(key)
        if isinstance(body, YMap):
            _base_url(ai, body)
    timeout = ai.get("timeout")
    if isinstance(timeout, YScalar) and "provider" in ai.index:
        line = ai.key_line("timeout")
        _remove(ai, "timeout")
        policies = _child_map(ai, "policies", line)
        http = _child_map(policies, "http", line) if policies is not None else None
        if http is not None and "requestTimeout" not in http.index:
            _add(http, "requestTimeout", line, timeout)


def _base_url(ai: YMap, body: YMap) -> None:
    key = next((k for k in _BASE_URL_KEYS if k in body.index), None)
    node = body.get(key) if key else None
    if key is None or not isinstance(node, YScalar) or not isinstance(node.value, str):
        return
    if "hostOverride" in ai.index or "pathPrefix" in ai.index:
        return  # ambiguous: leave it for the schema check to report
    try:
        host, prefix, tls = parse_base_url(node.value)
    except ValueError:
        return  # reported as an unknown key at its own line
    line = body.key_line(key)
    _remove(body, key)
    _add(ai, "hostOverride", line, YScalar(f"{host.host}:{host.port}", line))
    if prefix:
        _add(ai, "pathPrefix", line, YScalar(prefix, line))
    if tls:
        policies = _child_map(ai, "policies", line)
        if policies is not None and "backendTLS" not in policies.index:
            _add(policies, "backendTLS", line, YMap([], line))


# -- tree edits that keep YMap.index consistent --------------------------------------------------


def _replace(node: YMap, key: str, new_key: str, value: YNode | None) -> None:
    i = node.index.pop(key)
    _, line, old = node.items[i]
    node.items[i] = (new_key, line, value if value is not None else old)
    node.index[new_key] = i


def _add(node: YMap, key: str, line: int, value: YNode) -> None:
    node.index[key] = len(node.items)
    node.items.append((key, line, value))


def _remove(node: YMap, key: str) -> None:
    node.items = [item for item in node.items if item[0] != key]
    node.index = {k: i for i, (k, _, _) in enumerate(node.items)}


def _child_map(node: YMap, key: str, line: int) -> YMap | None:
    child = node.get(key)
    if child is None or (isinstance(child, YScalar) and child.value is None):
        if child is not None:
            _remove(node, key)
        child = YMap([], line)
        _add(node, key, line, child)
    return child if isinstance(child, YMap) else None
