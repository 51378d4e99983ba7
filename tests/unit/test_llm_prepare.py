"""agentgateway's LLM request rules: route types, model override, body passthrough, stream usage."""

from __future__ import annotations

import orjson
import pytest

from gateway.config import load_config_text
from gateway.config.model import AIBackend, ModelRouter, Policies, RouteType
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.policies.base import Exchange
from gateway.proxy import llm
from gateway.server.types import Request


def backend(provider: str = "openAI", model: str | None = None, extra: str = "") -> tuple[AIBackend, Policies]:
    model_yaml = f"{{model: {model}}}" if model else "{}"
    cfg = load_config_text(f"""
binds:
- port: 1
  listeners:
  - routes:
    - policies: {{{extra}}}
      backends:
      - ai: {{name: b, provider: {{{provider}: {model_yaml}}}, hostOverride: "127.0.0.1:1"}}
""", env={})
    route = cfg.binds[0].listeners[0].routes[0]
    target = route.backends[0].target
    assert isinstance(target, AIBackend)
    return target, route.policies


def prepared(raw: bytes, path: str = "/v1/chat/completions", **kw: str) -> Exchange:
    be, pol = backend(**kw)
    req = Request("POST", path.encode(), [], raw)
    ex = Exchange(req, 0.0)
    ex.route_type = llm.route_type_for(path, (pol.ai,))
    ex.body = llm.parse_body(req)
    ex.backend = be
    llm.prepare_body(ex, pol)
    return ex


def test_unchanged_body_is_forwarded_byte_for_byte() -> None:
    raw = b'{"model":"gpt-4o",  "messages":[{"role":"user","content":"hi"}], "future_field": {"x": 1}}'
    ex = prepared(raw)
    assert llm.serialize_body(ex) is raw


def test_provider_model_replaces_client_model_and_keeps_unknown_fields() -> None:
    raw = b'{"model":"whatever","messages":[],"future_field":{"x":1},"temperature":0.5}'
    ex = prepared(raw, model="gpt-4o-mini")
    out = orjson.loads(llm.serialize_body(ex))
    assert out == {"model": "gpt-4o-mini", "messages": [], "future_field": {"x": 1}, "temperature": 0.5}
    assert ex.request_model == "whatever" and ex.model == "gpt-4o-mini"


def test_streaming_chat_gets_include_usage_unless_client_set_stream_options() -> None:
    ex = prepared(b'{"model":"m","stream":true,"messages":[]}')
    assert orjson.loads(llm.serialize_body(ex))["stream_options"] == {"include_usage": True}
    raw = b'{"model":"m","stream":true,"stream_options":{"include_usage":false},"messages":[]}'
    ex = prepared(raw)
    assert llm.serialize_body(ex) is raw


def test_ai_policy_defaults_overrides_aliases_and_prompts() -> None:
    extra = ('ai: {defaults: {temperature: 0.1}, overrides: {max_tokens: 5}, modelAliases: {"fast": "gpt-4o-mini"}, '
             'prompts: {prepend: [{role: system, content: be brief}]}}')
    ex = prepared(b'{"model":"fast","temperature":0.9,"messages":[{"role":"user","content":"q"}]}', extra=extra)
    out = orjson.loads(llm.serialize_body(ex))
    assert out["temperature"] == 0.9  # a default never replaces what the client set
    assert out["max_tokens"] == 5
    assert out["model"] == "gpt-4o-mini"
    assert out["messages"][0] == {"role": "system", "content": "be brief"}


def test_anthropic_prompts_go_to_system_field() -> None:
    extra = "ai: {prompts: {append: [{role: system, content: no emojis}]}}"
    ex = prepared(b'{"model":"c","system":"you help","messages":[{"role":"user","content":"q"}]}',
                  path="/v1/messages", provider="anthropic", extra=extra)
    out = orjson.loads(llm.serialize_body(ex))
    assert out["system"] == "you help\nno emojis"
    assert out["messages"] == [{"role": "user", "content": "q"}]


def test_bad_json_and_missing_model() -> None:
    with pytest.raises(InvalidRequest):
        prepared(b"{nope")
    with pytest.raises(InvalidRequest):
        prepared(b"[1, 2]")
    with pytest.raises(InvalidRequest, match="model not specified"):
        prepared(b'{"messages": []}')


def test_openai_request_to_anthropic_provider_is_translated() -> None:
    ex = prepared(b'{"model":"m","max_tokens":50,"messages":[{"role":"system","content":"be brief"},'
                  b'{"role":"user","content":"hi"}]}', provider="anthropic", model="claude-haiku-4-5")
    out = orjson.loads(llm.serialize_body(ex))
    assert ex.translation is not None
    assert out["model"] == "claude-haiku-4-5"
    assert out["system"] == "be brief"
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert out["max_tokens"] == 50


@pytest.mark.parametrize("path,expected", [
    ("/v1/messages", RouteType.MESSAGES),
    ("/anthropic/v1/messages", RouteType.MESSAGES),
    ("/v1/chat/completions", RouteType.COMPLETIONS),
    ("/v1/models", RouteType.MODELS),
    ("/", RouteType.COMPLETIONS),
    ("/v1/messages/count_tokens", RouteType.ANTHROPIC_TOKEN_COUNT),
])
def test_default_route_table(path: str, expected: RouteType) -> None:
    assert llm.route_type_for(path, (None,)) is expected


def test_configured_routes_take_over_the_table() -> None:
    _, pol = backend(extra='ai: {routes: {"/v1/chat/completions": completions, "*": passthrough}}')
    assert llm.route_type_for("/v1/messages", (pol.ai,)) is RouteType.PASSTHROUGH
    assert llm.route_type_for("/v1/chat/completions", (pol.ai,)) is RouteType.COMPLETIONS


def test_llm_mode_picks_the_most_specific_model() -> None:
    cfg = load_config_text("""
llm:
  models:
  - {name: "*", provider: openAI, params: {apiKey: k}}
  - {name: "claude-*", provider: anthropic, params: {apiKey: k}}
  - {name: claude-haiku, provider: anthropic, params: {apiKey: k, model: claude-haiku-4-5}}
""", env={})
    router = cfg.binds[0].listeners[0].routes[0].backends[0].target
    assert isinstance(router, ModelRouter)
    req = Request("POST", b"/v1/messages", [], b"")
    assert llm.select_backend(router, {"model": "claude-haiku"}, req).provider.model == "claude-haiku-4-5"
    assert llm.select_backend(router, {"model": "claude-x"}, req).provider.kind == "anthropic"
    assert llm.select_backend(router, {"model": "gpt"}, req).provider.kind == "openai"
    cfg2 = load_config_text("llm:\n  models:\n  - {name: a, provider: openAI, params: {apiKey: k}}\n", env={})
    only_a = cfg2.binds[0].listeners[0].routes[0].backends[0].target
    with pytest.raises(ModelNotFound):
        llm.select_backend(only_a, {"model": "b"}, req)
