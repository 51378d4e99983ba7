"""The official SDKs through a real gateway process in front of the mock provider.

The client holds no provider key (or a bogus one); the mock reports the sha256 prefix of the key
it received, which must be the gateway's server-side key.
"""

from __future__ import annotations

import hashlib

import anthropic
import openai
import pytest

from tests.e2e.conftest import SERVER_KEY_ANTHROPIC, SERVER_KEY_OPENAI
from tests.e2e.harness import GatewayProc, http


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_anthropic_sdk_message_uses_server_side_key(gateway: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-ant-client-leaked-key", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-3-whatever", max_tokens=64, messages=[{"role": "user", "content": "Hello!"}]
    )
    msg = raw.parse()
    assert msg.type == "message"
    assert msg.content[0].type == "text" and "Hello" in msg.content[0].text
    # The config's provider model replaces the client's (agentgateway rule).
    assert msg.model == "claude-haiku-4-5-20251001"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    assert raw.headers["x-mock-auth-header"] == "x-api-key"
    assert raw.headers["x-mock-auth-key-sha256"] == key_digest(SERVER_KEY_ANTHROPIC)
    assert raw.headers["x-gateway"] == "agentgateway-py"


def test_plain_http_client_without_any_key(gateway: GatewayProc) -> None:
    # The seed's client snippet: no key, plain JSON POST.
    r = http("POST", f"{gateway.url}/v1/messages", json_body={
        "model": "claude-haiku-4-5-20251001", "messages": [{"role": "user", "content": "Hello!"}]})
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "message"
    assert r.headers["x-mock-auth-key-sha256"] == key_digest(SERVER_KEY_ANTHROPIC)


def test_anthropic_sdk_streaming(gateway: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="client-key", max_retries=0)
    text = []
    with client.messages.stream(model="m", max_tokens=64,
                                messages=[{"role": "user", "content": "Stream please"}]) as stream:
        for delta in stream.text_stream:
            text.append(delta)
        final = stream.get_final_message()
    assert "".join(text) == final.content[0].text
    assert final.usage.output_tokens > 0
    assert final.model == "claude-haiku-4-5-20251001"


def test_openai_sdk_chat_uses_server_side_key(gateway: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-client-should-not-leak", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="anything", messages=[{"role": "user", "content": "Hi there"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert raw.headers["x-mock-auth-header"] == "authorization"
    assert raw.headers["x-mock-auth-key-sha256"] == key_digest(SERVER_KEY_OPENAI)


def test_openai_sdk_streaming_gets_usage(gateway: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    stream = client.chat.completions.create(
        model="anything", stream=True, messages=[{"role": "user", "content": "count to five"}]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    # The gateway asked for usage (stream_options.include_usage), so the last chunk carries it.
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_openai_sdk_lists_models_locally(gateway: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]


def test_upstream_error_passes_through_with_status(gateway: GatewayProc) -> None:
    client = anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0,
                                 default_headers={"x-mock-status": "429"})
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}])


def test_bad_json_is_400_in_client_shape(gateway: GatewayProc) -> None:
    r = http("POST", f"{gateway.url}/v1/messages", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    r = http("POST", f"{gateway.url}/v1/chat/completions", content=b"[1,2",
             headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_plain_backend_and_route_not_found(gateway: GatewayProc, mock: object) -> None:
    r = http("GET", f"{gateway.url}/plain/v1/models")
    assert r.status_code == 200


def test_admin_dump_redacts_keys(gateway: GatewayProc) -> None:
    status, body = gateway.get(gateway.admin_port, "/config_dump")
    assert status == 200
    assert SERVER_KEY_ANTHROPIC.encode() not in body and SERVER_KEY_OPENAI.encode() not in body
    assert b"<redacted>" in body


def test_metrics_and_readiness(gateway: GatewayProc) -> None:
    status, body = gateway.get(gateway.ready_port, "/healthz/ready")
    assert (status, body) == (200, b"ready\n")
    http("POST", f"{gateway.url}/v1/messages", json_body={"model": "m", "messages": [{"role": "user", "content": "x"}]})
    status, body = gateway.get(gateway.stats_port, "/metrics")
    assert status == 200
    assert b"agentgateway_requests_total{" in body
    assert b'gen_ai_token_type="output"' in body
    assert SERVER_KEY_ANTHROPIC.encode() not in body
