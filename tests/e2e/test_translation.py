"""Each official SDK talking to a provider of the other format, through the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc

CONFIG = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: to-anthropic
      matches: [{path: {pathPrefix: /v1/chat/completions}}]
      policies: {backendAuth: {key: anthropic-server-key}}
      backends:
      - ai: {name: claude, provider: {anthropic: {model: claude-haiku-4-5-20251001}}, hostOverride: "$MOCK_ADDR"}
    - name: to-openai
      policies: {backendAuth: {key: openai-server-key}}
      backends:
      - ai: {name: gpt, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$MOCK_ADDR"}
"""

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture(scope="module")
def gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def test_openai_client_anthropic_provider(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="any", max_tokens=100, tools=TOOLS,
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "Hello from OpenAI"}])
    c = raw.parse()
    assert raw.headers["x-mock-auth-header"] == "x-api-key"  # the Anthropic wire format reached the mock
    assert c.object == "chat.completion"
    assert "Hello from OpenAI" in (c.choices[0].message.content or "")
    assert c.choices[0].finish_reason == "stop"
    assert c.model == "claude-haiku-4-5-20251001"
    assert c.usage is not None and c.usage.completion_tokens > 0 and c.usage.prompt_tokens > 0


def test_openai_client_anthropic_provider_streaming(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="any", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Stream to OpenAI"}], extra_headers={"x-mock-chunks": "5"}))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert "Stream to OpenAI" in text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_anthropic_client_openai_provider(gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="any", max_tokens=100, system="be brief", messages=[{"role": "user", "content": "Hello from Claude"}])
    msg = raw.parse()
    assert raw.headers["x-mock-auth-header"] == "authorization"
    assert msg.type == "message" and msg.content[0].type == "text"
    assert "Hello from Claude" in msg.content[0].text
    assert msg.model == "gpt-4o-mini"
    assert msg.usage.output_tokens > 0


def test_anthropic_client_openai_provider_streaming(gw: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    with client.messages.stream(model="any", max_tokens=100, messages=[{"role": "user", "content": "Stream it"}],
                                extra_headers={"x-mock-chunks": "4"}) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "Stream it" in text
    assert final.usage.output_tokens > 0
    assert final.stop_reason == "end_turn"


def test_provider_errors_come_back_in_the_client_shape(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0,
                           default_headers={"x-mock-status": "429"})
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}])
    claude = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0,
                                 default_headers={"x-mock-status": "400"})
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model="any", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
