"""Routing across providers: weighted splits, llm.virtualModels, /v1/models, token counting, and
failover that crosses formats (the fallback speaks another API than the client)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, free_port, http

MGMT = "config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}\n"


@pytest.fixture(scope="module")
def other() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


def served_by(gw: GatewayProc, model: str, **extra: object) -> str:
    r = http("POST", f"{gw.url}/v1/chat/completions",
             json_body={"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})
    assert r.status_code == 200, r.text
    return r.headers["x-served-by"]


WEIGHTED = MGMT + """
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - backends:
      - weight: 3
        ai: {name: a, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK"}
        policies: {responseHeaderModifier: {set: {x-served-by: a}}}
      - weight: 1
        ai: {name: b, provider: {openAI: {model: gpt-4o}}, hostOverride: "$MOCK"}
        policies: {responseHeaderModifier: {set: {x-served-by: b}}}
"""


def test_weighted_split_within_tolerance(mock: MockProc) -> None:
    gw = GatewayProc(WEIGHTED, env={"MOCK": mock.addr, "GATEWAY_RANDOM_SEED": "7"})
    try:
        counts = Counter(served_by(gw, "m") for _ in range(400))
    finally:
        gw.stop()
    assert set(counts) == {"a", "b"}
    assert abs(counts["a"] - 300) <= 40, counts  # 3:1, binomial sd ~8.7


LLM = MGMT + """
llm:
  port: $GATEWAY_PORT
  models:
  - name: public-gpt
    provider: openAI
    params: {model: gpt-4o-mini, hostOverride: "$MOCK", apiKey: k}
    responseHeaders: {set: {x-served-by: public}}
  - name: small
    visibility: internal
    provider: openAI
    params: {model: gpt-4o-mini, hostOverride: "$MOCK", apiKey: k}
    responseHeaders: {set: {x-served-by: small}}
  - name: big
    visibility: internal
    provider: openAI
    params: {model: gpt-4o, hostOverride: "$OTHER", apiKey: k}
    responseHeaders: {set: {x-served-by: big}}
  - name: down
    visibility: internal
    provider: anthropic
    params: {model: claude-haiku-4-5-20251001, hostOverride: "$DOWN", apiKey: k}
    responseHeaders: {set: {x-served-by: down}}
  - name: "vendor/*"
    visibility: internal
    provider: openAI
    params: {hostOverride: "$MOCK", apiKey: k}
    transformation: {model: 'llmRequest.model.stripPrefix("vendor/")'}
    responseHeaders: {set: {x-served-by: vendor}}
  virtualModels:
  - name: tiered
    routing:
      conditional:
        targets:
        - {when: 'default(llmRequest.metadata.cost_tier, "") == "premium"', model: big}
        - {model: vendor/gpt-4o-mini}
  - name: split
    routing: {weighted: {targets: [{model: small, weight: 1}, {model: big, weight: 1}]}}
  - name: resilient
    routing: {failover: {targets: [{model: down, priority: 0}, {model: big, priority: 1}]}}
  - name: by-size
    routing:
      conditional:
        targets:
        - {when: 'llmRequest.max_tokens > 1000', model: big}
        - {model: small}
"""


@pytest.fixture(scope="module")
def llm_gw(mock: MockProc, other: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(LLM, env={"MOCK": mock.addr, "OTHER": other.addr, "DOWN": f"127.0.0.1:{free_port()}"})
    yield g
    g.stop()


def test_virtual_weighted(llm_gw: GatewayProc) -> None:
    counts = Counter(served_by(llm_gw, "split") for _ in range(200))
    assert abs(counts["small"] - 100) <= 30 and counts["small"] + counts["big"] == 200, counts


def test_virtual_conditional(llm_gw: GatewayProc) -> None:
    assert served_by(llm_gw, "by-size", max_tokens=4000) == "big"
    assert served_by(llm_gw, "by-size", max_tokens=100) == "small"
    assert served_by(llm_gw, "by-size") == "small"  # no max_tokens: the expression has no value


def test_conditional_default_and_transformation(llm_gw: GatewayProc) -> None:
    ask = {"model": "tiered", "messages": [{"role": "user", "content": "hi"}]}
    r = http("POST", f"{llm_gw.url}/v1/chat/completions", json_body=ask)
    assert r.headers["x-served-by"] == "vendor"  # no metadata: default() gives "", the fallback serves
    assert r.json()["model"] == "gpt-4o-mini"  # vendor/gpt-4o-mini with the prefix stripped by CEL
    r = http("POST", f"{llm_gw.url}/v1/chat/completions", json_body={**ask, "metadata": {"cost_tier": "premium"}})
    assert r.headers["x-served-by"] == "big"


def test_virtual_failover_crosses_formats(llm_gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{llm_gw.url}/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="resilient", messages=[{"role": "user", "content": "anyone there?"}])
    assert raw.headers["x-served-by"] == "big"
    c = raw.parse()
    assert c.model == "gpt-4o" and "anyone there?" in (c.choices[0].message.content or "")


def test_internal_models_are_not_reachable_directly(llm_gw: GatewayProc) -> None:
    r = http("POST", f"{llm_gw.url}/v1/chat/completions",
             json_body={"model": "small", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404


def test_models_lists_public_and_virtual(llm_gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{llm_gw.url}/v1", api_key="unused", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert sorted(ids) == ["by-size", "public-gpt", "resilient", "split", "tiered"]


TRANSLATED = MGMT + """
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: openai-clients
      matches: [{path: {pathPrefix: /v1/chat}}]
      backends:
      - ai: {name: claude-primary, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$DOWN"}
      - ai: {name: gpt-fallback, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK"}
    - name: anthropic-clients
      backends:
      - ai: {name: gpt-primary, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$DOWN"}
      - ai: {name: claude-fallback, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK"}
"""


@pytest.fixture(scope="module")
def tr_gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(TRANSLATED, env={"MOCK": mock.addr, "DOWN": f"127.0.0.1:{free_port()}"})
    yield g
    g.stop()


def token_usage(gw: GatewayProc, system: str, kind: str) -> float:
    _, body = gw.get(gw.stats_port, "/metrics")
    pattern = (r'^agentgateway_gen_ai_client_token_usage_sum\{([^}]*)\} (\S+)$')
    return sum(float(v) for labels, v in re.findall(pattern, body.decode(), re.M)
               if f'gen_ai_system="{system}"' in labels and f'gen_ai_token_type="{kind}"' in labels)


def test_openai_client_fails_over_from_anthropic_to_openai(tr_gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{tr_gw.url}/v1", api_key="unused", max_retries=0)
    c = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "translated failover"}])
    assert c.model == "gpt-4o-mini" and "translated failover" in (c.choices[0].message.content or "")
    assert c.usage is not None
    assert token_usage(tr_gw, "openai", "output") == c.usage.completion_tokens
    assert token_usage(tr_gw, "anthropic", "output") == 0


def test_anthropic_client_stream_fails_over_to_anthropic_after_openai_down(tr_gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=tr_gw.url, api_key="unused", max_retries=0)
    with client.messages.stream(model="m", max_tokens=100,
                                messages=[{"role": "user", "content": "stream after failover"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert "stream after failover" in text and final.model == "claude-haiku-4-5-20251001"
    assert token_usage(tr_gw, "anthropic", "output") == final.usage.output_tokens


def test_count_tokens_forwarded_to_anthropic(tr_gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=tr_gw.url, api_key="unused", max_retries=0)
    raw = client.messages.with_raw_response.count_tokens(
        model="m", messages=[{"role": "user", "content": "x" * 40}])
    assert "x-gateway-token-count" not in raw.headers  # the provider counted
    assert raw.parse().input_tokens == 10


def test_count_tokens_estimated_for_openai_providers(mock: MockProc) -> None:
    cfg = TRANSLATED.replace("claude-fallback, provider: {anthropic: {model: claude-haiku-4-5-20251001}}",
                             "gpt-2, provider: {openAI: {model: gpt-4o}}")
    g = GatewayProc(cfg, env={"MOCK": mock.addr, "DOWN": f"127.0.0.1:{free_port()}"})
    try:
        client = anthropic.Anthropic(base_url=g.url, api_key="unused", max_retries=0)
        raw = client.messages.with_raw_response.count_tokens(
            model="m", system="s" * 8, messages=[{"role": "user", "content": "x" * 40}])
        assert raw.headers["x-gateway-token-count"] == "estimate"
        assert raw.parse().input_tokens == 12
    finally:
        g.stop()


SEED_STYLE = MGMT + """
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - match: {headers: [{name: X-User-Tier, value: premium}]}
      backends:
      - ai: {provider: {openai: {model: gpt-4-turbo}}, hostOverride: "$MOCK"}
    - match: {headers: [{name: X-User-Region, value: eu}]}
      backends:
      - ai:
          provider: {anthropic: {baseURL: "http://$OTHER"}}
          policies: {responseHeaderModifier: {set: {x-served-by: eu}}}
    - backends:
      - ai:
          name: cheap-primary
          provider: {anthropic: {model: claude-haiku-4-5-20251001}}
          hostOverride: "$MOCK"
          timeout: 500ms
      - ai:
          name: premium-fallback
          provider: {openai: {model: gpt-4-turbo}}
          hostOverride: "$OTHER"
          policies: {requestHeaderModifier: {remove: [x-mock-delay-ms]}}
"""


def test_seed_patterns_route_by_tier_region_and_cost(mock: MockProc, other: MockProc) -> None:
    g = GatewayProc(SEED_STYLE, env={"MOCK": mock.addr, "OTHER": other.addr})
    try:
        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
        ask = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        premium = client.chat.completions.with_raw_response.create(**ask, extra_headers={"X-User-Tier": "premium"})
        assert premium.parse().model == "gpt-4-turbo"
        eu = client.chat.completions.with_raw_response.create(**ask, extra_headers={"X-User-Region": "eu"})
        assert eu.headers["x-served-by"] == "eu" and eu.headers["x-mock-auth-header"] == "x-api-key"
        assert client.chat.completions.create(**ask).model == "claude-haiku-4-5-20251001"  # free tier: cheap
        slow = client.chat.completions.create(**ask, extra_headers={"x-mock-delay-ms": "3000"})
        assert slow.model == "gpt-4-turbo"  # cheap-primary passed its 500ms timeout: premium answered
    finally:
        g.stop()
