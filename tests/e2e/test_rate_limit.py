"""localRateLimit end to end: a real gateway process, the mock provider, the official SDKs.

Each test uses its own route (its own buckets), so the tests do not depend on their order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, http, stream_chunks

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: limited
      matches: [{path: {pathPrefix: /limited}}]
      policies:
        localRateLimit:
        - maxTokens: 10
          tokensPerFill: 1
          fillInterval: 60s
      backends: [{host: "$MOCK_ADDR"}]
    - name: openai-requests
      matches: [{path: {pathPrefix: /rq/openai}}]
      policies:
        localRateLimit: [{maxTokens: 2, tokensPerFill: 1, fillInterval: 60s}]
      backends:
      - ai: {name: oa, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK_ADDR"}
    - name: anthropic-requests
      matches: [{path: {pathPrefix: /rq/anthropic}}]
      policies:
        localRateLimit: [{maxTokens: 2, tokensPerFill: 1, fillInterval: 60s}]
      backends:
      - ai: {name: an, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK_ADDR"}
    - name: openai-tokens
      matches: [{path: {pathPrefix: /tok/openai}}]
      policies:
        localRateLimit: [{type: tokens, maxTokens: 1000, tokensPerFill: 1, fillInterval: 1h}]
      backends:
      - ai: {name: oa, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK_ADDR"}
    - name: anthropic-tokens-small
      matches: [{path: {pathPrefix: /tok/small}}]
      policies:
        localRateLimit: [{type: tokens, maxTokens: 5, tokensPerFill: 1, fillInterval: 1h}]
      backends:
      - ai: {name: an, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK_ADDR"}
    - name: anthropic-tokens-stream
      matches: [{path: {pathPrefix: /tok/stream}}]
      policies:
        localRateLimit: [{type: tokens, maxTokens: 1000, tokensPerFill: 1, fillInterval: 1h}]
      backends:
      - ai: {name: an, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK_ADDR"}
    - name: anthropic-tokens-cut
      matches: [{path: {pathPrefix: /tok/cut}}]
      policies:
        localRateLimit: [{type: tokens, maxTokens: 1000, tokensPerFill: 1, fillInterval: 1h}]
      backends:
      - ai: {name: an, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK_ADDR"}
    - name: per-user
      matches: [{path: {pathPrefix: /keyed}}]
      policies:
        localRateLimit:
        - {maxTokens: 2, tokensPerFill: 1, fillInterval: 60s, key: 'request.headers["x-user-id"]'}
      backends:
      - ai: {name: oa, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK_ADDR"}
    - name: two-limits
      matches: [{path: {pathPrefix: /two}}]
      policies:
        localRateLimit:
        - {maxTokens: 5, tokensPerFill: 1, fillInterval: 60s}
        - {maxTokens: 3, tokensPerFill: 1, fillInterval: 10s}
      backends: [{host: "$MOCK_ADDR"}]
"""

LLM_CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
llm:
  port: $GATEWAY_PORT
  policies:
    localRateLimit:
    - type: tokens
      maxTokens: 5
      tokensPerFill: 1
      fillInterval: 1h
  models:
  - name: "*"
    provider: openAI
    params: {apiKey: llm-openai-key, baseUrl: "http://$MOCK_ADDR/v1"}
"""

HELLO = [{"role": "user", "content": "Hello!"}]


@pytest.fixture(scope="module")
def gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def ratelimit_headers(headers: dict[str, str] | object) -> tuple[int, int, int]:
    get = headers.get  # type: ignore[attr-defined]
    return int(get("x-ratelimit-limit")), int(get("x-ratelimit-remaining")), int(get("x-ratelimit-reset"))


def test_plain_route_allows_ten_then_429(gw: GatewayProc) -> None:
    # The traffic-ratelimiting-local example: maxTokens 10, so 10 pass and then 429.
    statuses, remaining = [], []
    for _ in range(12):
        r = http("GET", f"{gw.url}/limited/v1/models")
        statuses.append(r.status_code)
        if r.status_code == 200:
            remaining.append(int(r.headers["x-ratelimit-remaining"]))
    assert statuses == [200] * 10 + [429] * 2
    assert remaining == list(range(9, -1, -1))
    assert r.text == "rate limit exceeded"
    assert r.headers["content-type"] == "text/plain"
    limit, left, reset = ratelimit_headers(r.headers)
    assert (limit, left) == (10, 0) and 0 <= reset <= 60
    assert "retry-after" not in r.headers


def rejections(gw: GatewayProc, route: str) -> float:
    _, body = gw.get(gw.stats_port, "/metrics")
    prefix = f'agentgateway_rate_limit_rejections_total{{route="{route}",type="requests"}} '
    return sum(float(ln[len(prefix):]) for ln in body.decode().splitlines() if ln.startswith(prefix))


def test_rejections_are_counted_in_metrics(gw: GatewayProc) -> None:
    before = rejections(gw, "limited")
    refused = sum(http("GET", f"{gw.url}/limited/v1/models").status_code == 429 for _ in range(12))
    assert refused >= 2  # 12 requests against a 10-token bucket, whatever ran before
    assert rejections(gw, "limited") - before == refused


def test_most_constrained_entry_is_reported(gw: GatewayProc) -> None:
    r = http("GET", f"{gw.url}/two/v1/models")
    assert ratelimit_headers(r.headers)[:2] == (3, 2)
    for _ in range(2):
        r = http("GET", f"{gw.url}/two/v1/models")
    r = http("GET", f"{gw.url}/two/v1/models")
    assert r.status_code == 429
    # The 3-token entry refused; the 5-token entry had already given its token (agentgateway order).
    limit, left, reset = ratelimit_headers(r.headers)
    assert (limit, left) == (3, 0) and reset <= 10


def test_openai_sdk_gets_rate_limit_error(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/rq/openai/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    assert raw.parse().choices[0].message.content
    assert ratelimit_headers(raw.headers)[:2] == (2, 1)
    client.chat.completions.create(model="m", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="m", messages=HELLO)
    err = info.value
    assert err.status_code == 429
    assert err.body == {"message": "rate limit exceeded", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
    assert ratelimit_headers(err.response.headers)[:2] == (2, 0)


def test_anthropic_sdk_gets_rate_limit_error(gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=f"{gw.url}/rq/anthropic", api_key="unused", max_retries=0)
    for expected_left in (1, 0):
        raw = client.messages.with_raw_response.create(model="m", max_tokens=32, messages=HELLO)
        assert raw.parse().type == "message"
        assert ratelimit_headers(raw.headers)[:2] == (2, expected_left)
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="m", max_tokens=32, messages=HELLO)
    assert info.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "rate limit exceeded"}}
    assert info.value.response.headers["x-ratelimit-limit"] == "2"


def test_tokens_mode_debits_actual_usage_after_the_response(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/tok/openai/v1", api_key="unused", max_retries=0)
    first = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    # Nothing is taken at request time without a pre-count.
    assert ratelimit_headers(first.headers)[:2] == (1000, 1000)
    usage = first.parse().usage
    assert usage is not None and usage.total_tokens > 0
    second = client.chat.completions.with_raw_response.create(model="m", messages=HELLO)
    assert ratelimit_headers(second.headers)[1] == 1000 - usage.total_tokens


def test_tokens_mode_overshoot_succeeds_and_the_next_request_is_refused(gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=f"{gw.url}/tok/small", api_key="unused", max_retries=0)
    msg = client.messages.create(model="m", max_tokens=64, messages=HELLO)
    assert msg.usage.input_tokens + msg.usage.output_tokens > 5  # more than the whole bucket
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="m", max_tokens=64, messages=HELLO)
    assert ratelimit_headers(info.value.response.headers)[:2] == (5, 0)


def test_tokens_mode_debits_a_streamed_response(gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=f"{gw.url}/tok/stream", api_key="unused", max_retries=0)
    with client.messages.stream(model="m", max_tokens=64, messages=[{"role": "user", "content": "Stream"}]) as s:
        for _ in s.text_stream:
            pass
        final = s.get_final_message()
    used = final.usage.input_tokens + final.usage.output_tokens
    assert used > 0
    raw = client.messages.with_raw_response.create(model="m", max_tokens=8, messages=HELLO)
    assert ratelimit_headers(raw.headers)[1] == 1000 - used


def test_tokens_mode_debits_what_was_counted_when_the_client_disconnects(gw: GatewayProc) -> None:
    body = {"model": "m", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "a long prompt " * 20}]}
    # 50 chunks 200 ms apart: the stream would run ~10 s; the client leaves after the first read.
    chunks = stream_chunks(f"{gw.url}/tok/cut/v1/messages", body,
                           {"x-mock-chunks": "50", "x-mock-latency-ms": "200"})
    first = next(chunks)
    assert b"message_start" in first
    chunks.close()
    deadline = time.monotonic() + 5
    left = 1000
    while time.monotonic() < deadline and left == 1000:
        time.sleep(0.2)
        r = http("POST", f"{gw.url}/tok/cut/v1/messages", json_body={"model": "m", "max_tokens": 8, "messages": HELLO},
                 headers={"x-mock-status": "500"})  # an upstream error: nothing more to debit
        left = int(r.headers["x-ratelimit-remaining"])
    # message_start carried the prompt's input tokens (~70 here); they were charged long before
    # the stream would have ended.
    assert 1000 - left >= 50, left


def test_per_key_buckets_are_independent(gw: GatewayProc) -> None:
    def call(user: str | None) -> int:
        headers = {"x-user-id": user} if user else {}
        return http("POST", f"{gw.url}/keyed/v1/chat/completions", headers=headers,
                    json_body={"model": "m", "messages": HELLO}).status_code

    assert [call("alice") for _ in range(3)] == [200, 200, 429]
    assert [call("bob") for _ in range(3)] == [200, 200, 429]
    assert call("alice") == 429
    # Requests without the header share one bucket of their own.
    assert [call(None) for _ in range(3)] == [200, 200, 429]


def test_llm_mode_policies_local_rate_limit(mock: MockProc) -> None:
    g = GatewayProc(LLM_CONFIG, env={"MOCK_ADDR": mock.addr})
    try:
        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)
        assert ratelimit_headers(raw.headers)[:2] == (5, 5)
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert json.loads(info.value.response.text)["error"]["type"] == "rate_limit_error"
    finally:
        g.stop()
