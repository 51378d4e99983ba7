"""Route selection precedence, as a user writing several routes sees it."""

from __future__ import annotations

from gateway.config import load_config_text
from gateway.routing.router import BindRouter
from gateway.server.types import Request

CONFIG = """
binds:
- port: 3000
  listeners:
  - routes:
    - name: catch-all
      backends: [{host: "127.0.0.1:1"}]
    - name: prefix-v1
      matches: [{path: {pathPrefix: /v1}}]
      backends: [{host: "127.0.0.1:1"}]
    - name: prefix-v1-chat
      matches: [{path: {pathPrefix: /v1/chat}}]
      backends: [{host: "127.0.0.1:1"}]
    - name: exact-models
      matches: [{path: {exact: /v1/models}}]
      backends: [{host: "127.0.0.1:1"}]
    - name: regex
      matches: [{path: {regex: "/v[0-9]+/embeddings"}}]
      backends: [{host: "127.0.0.1:1"}]
    - name: eng-header
      matches: [{path: {pathPrefix: /v1}, headers: [{name: x-team, value: {exact: eng}}]}]
      backends: [{host: "127.0.0.1:1"}]
    - name: post-only
      matches: [{path: {pathPrefix: /v1/messages}, method: POST}]
      backends: [{host: "127.0.0.1:1"}]
    - name: debug-query
      matches: [{path: {pathPrefix: /v1/messages}, method: POST, query: [{name: debug, value: {regex: "1|true"}}]}]
      backends: [{host: "127.0.0.1:1"}]
    - name: host-specific
      hostnames: [api.example.com]
      backends: [{host: "127.0.0.1:1"}]
    - name: host-wildcard
      hostnames: ["*.corp.example"]
      backends: [{host: "127.0.0.1:1"}]
"""


def route_name(router: BindRouter, method: str, target: str, headers: list[tuple[bytes, bytes]] | None = None,
               host: bytes = b"localhost:3000") -> str | None:
    req = Request(method, target.encode(), [(b"host", host), *(headers or [])], b"")
    matched = router.route(req)
    return matched[1].name if matched else None


def make_router() -> BindRouter:
    cfg = load_config_text(CONFIG, env={})
    return BindRouter(cfg.binds[0])


def test_exact_beats_prefix_and_longer_prefix_beats_shorter() -> None:
    r = make_router()
    assert route_name(r, "GET", "/v1/models") == "exact-models"
    assert route_name(r, "GET", "/v1/chat/completions") == "prefix-v1-chat"
    assert route_name(r, "GET", "/v1/other") == "prefix-v1"
    assert route_name(r, "GET", "/elsewhere") == "catch-all"


def test_prefix_matches_whole_segments_only() -> None:
    r = make_router()
    assert route_name(r, "GET", "/v1chat") == "catch-all"


def test_header_method_and_query_add_specificity() -> None:
    r = make_router()
    assert route_name(r, "GET", "/v1/x", [(b"x-team", b"eng")]) == "eng-header"
    assert route_name(r, "GET", "/v1/x", [(b"x-team", b"ops")]) == "prefix-v1"
    assert route_name(r, "POST", "/v1/messages") == "post-only"
    assert route_name(r, "GET", "/v1/messages") == "prefix-v1"
    assert route_name(r, "POST", "/v1/messages?debug=true") == "debug-query"
    assert route_name(r, "POST", "/v1/messages?debug=no") == "post-only"


def test_regex_is_a_full_match_above_prefixes() -> None:
    r = make_router()
    assert route_name(r, "GET", "/v2/embeddings") == "regex"
    assert route_name(r, "GET", "/v2/embeddings/x") == "catch-all"


def test_hostnames_exact_then_wildcard() -> None:
    r = make_router()
    assert route_name(r, "GET", "/v1/models", host=b"api.example.com") == "host-specific"
    assert route_name(r, "GET", "/", host=b"a.corp.example:8080") == "host-wildcard"
    assert route_name(r, "GET", "/", host=b"corp.example") == "catch-all"


def test_no_route_when_nothing_matches() -> None:
    cfg = load_config_text(
        "binds:\n- port: 1\n  listeners:\n  - routes:\n    - matches: [{path: {exact: /a}}]\n"
        "      backends: [{host: '127.0.0.1:1'}]\n", env={})
    r = BindRouter(cfg.binds[0])
    assert route_name(r, "GET", "/b") is None
