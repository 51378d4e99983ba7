"""Error shapes per client format, header modifiers and CORS as a client sees them."""

from __future__ import annotations

import orjson

from gateway.config.model import Cors, HeaderModifier
from gateway.errors import ClientFormat, RouteNotFound, UpstreamFailed, render
from gateway.policies import cors
from gateway.policies.headers import apply_header_modifier
from gateway.server.types import Request


def test_plain_error_is_agentgateway_text() -> None:
    status, headers, body = render(RouteNotFound("route not found"), ClientFormat.PLAIN)
    assert (status, body) == (404, b"route not found")
    assert (b"content-type", b"text/plain") in headers


def test_openai_and_anthropic_error_shapes() -> None:
    status, headers, body = render(UpstreamFailed("upstream call failed: x"), ClientFormat.OPENAI)
    assert status == 503
    assert orjson.loads(body) == {"error": {"message": "upstream call failed: x", "type": "service_unavailable",
                                            "code": "upstream_call_failed"}}
    status, headers, body = render(UpstreamFailed("upstream call failed: x"), ClientFormat.ANTHROPIC)
    assert orjson.loads(body) == {"type": "error", "error": {"type": "overloaded_error",
                                                             "message": "upstream call failed: x"}}


def test_header_modifier_remove_set_add() -> None:
    mod = HeaderModifier(add=(("x-a", "2"),), set=(("x-b", "new"),), remove=("x-c",))
    out = apply_header_modifier([(b"x-a", b"1"), (b"x-b", b"old"), (b"x-c", b"gone")], mod)
    assert out == [(b"x-a", b"1"), (b"x-b", b"new"), (b"x-a", b"2")]


def preflight(origin: bytes) -> Request:
    return Request("OPTIONS", b"/", [(b"origin", origin), (b"access-control-request-method", b"POST")], b"")


def test_cors_preflight_allowed_and_refused() -> None:
    policy = Cors(allow_origins=("https://*.example.com",), allow_methods=("POST",), allow_headers=("x-a",),
                  max_age=600.0)
    answered = cors.preflight_response(policy, preflight(b"https://app.example.com"))
    assert answered is not None
    status, headers = answered
    assert status == 200
    assert (b"access-control-allow-origin", b"https://app.example.com") in headers
    assert (b"access-control-max-age", b"600") in headers
    refused = cors.preflight_response(policy, preflight(b"https://evil.test"))
    assert refused == (200, [])
    assert cors.preflight_response(policy, Request("GET", b"/", [], b"")) is None


def test_cors_wildcard_with_credentials_echoes_origin() -> None:
    policy = Cors(allow_origins=("*",), allow_credentials=True)
    req = Request("GET", b"/", [(b"origin", b"https://a.test")], b"")
    assert (b"access-control-allow-origin", b"https://a.test") in cors.response_headers(policy, req)
