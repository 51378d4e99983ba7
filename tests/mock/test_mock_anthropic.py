"""The mock against the official anthropic SDK (messages API, plain and streaming)."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from gateway.mock import ThreadedMockProvider, key_fingerprint
from gateway.mock.formats import REPLY_PREFIX, token_estimate

SYSTEM = "You are terse."
MESSAGES = [
    {"role": "user", "content": "First question"},
    {"role": "assistant", "content": "First answer"},
    {"role": "user", "content": [{"type": "text", "text": "Tell me a fact about octopuses, quickly."}]},
]


def client(mock: ThreadedMockProvider, key: str = "k") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"http://127.0.0.1:{mock.port}", api_key=key, max_retries=0,
                               timeout=10.0)


def create(mock: ThreadedMockProvider, **kw: object) -> anthropic.types.Message:
    return client(mock).messages.create(model="claude-test", max_tokens=64, system=SYSTEM,  # type: ignore[call-overload,no-any-return]
                                        messages=MESSAGES, **kw)


def test_non_streaming_message(mock: ThreadedMockProvider) -> None:
    msg = create(mock)
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "claude-test"
    assert msg.stop_reason == "end_turn"
    assert msg.content[0].type == "text"
    text = msg.content[0].text
    assert text == REPLY_PREFIX + "Tell me a fact about octopuses, quickly."[:40]
    prompt_chars = len(SYSTEM) + len("First question") + len("First answer") + len(
        "Tell me a fact about octopuses, quickly.")
    assert msg.usage.input_tokens == token_estimate(prompt_chars)
    assert msg.usage.output_tokens == token_estimate(len(text))


def test_stream_event_sequence(mock: ThreadedMockProvider) -> None:
    events = list(create(mock, stream=True))
    types = [e.type for e in events]
    # The SDK drops `ping` events; the raw wire order is checked in test_mock_protocol.py.
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = types[2:-3]
    assert deltas and set(deltas) == {"content_block_delta"}
    assert all(e.delta.type == "text_delta" for e in events[2:-3])  # type: ignore[union-attr]
    md = events[-2]
    assert md.type == "message_delta"
    assert md.delta.stop_reason == "end_turn"


def test_stream_helper_matches_non_streaming(mock: ThreadedMockProvider) -> None:
    plain = create(mock)
    with client(mock).messages.stream(model="claude-test", max_tokens=64, system=SYSTEM,
                                      messages=MESSAGES) as s:  # type: ignore[arg-type]
        streamed_text = "".join(s.text_stream)
        final = s.get_final_message()
    assert streamed_text == plain.content[0].text  # type: ignore[union-attr]
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.stop_reason == "end_turn"


def test_chunk_count(mock: ThreadedMockProvider) -> None:
    events = list(create(mock, stream=True, extra_headers={"x-mock-chunks": "3"}))
    assert sum(e.type == "content_block_delta" for e in events) == 3


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.APIStatusError, "overloaded_error"),
    ],
)
def test_injected_status(mock: ThreadedMockProvider, status: int,
                         exc: type[anthropic.APIStatusError], etype: str) -> None:
    with pytest.raises(exc) as info:
        create(mock, extra_headers={"x-mock-status": str(status)})
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error" and body["error"]["type"] == etype


def test_reset_mid_stream(mock: ThreadedMockProvider) -> None:
    seen: list[str] = []
    # The anthropic SDK lets mid-stream transport errors through unwrapped (httpx2.ReadError);
    # before the stream starts it wraps them in APIConnectionError.
    with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)):
        for event in create(mock, stream=True, extra_headers={"x-mock-reset": "mid-stream"}):
            seen.append(event.type)
    assert seen[:1] == ["message_start"]
    assert "message_stop" not in seen


def test_malformed_sse(mock: ThreadedMockProvider) -> None:
    with pytest.raises(ValueError):
        for _ in create(mock, stream=True, extra_headers={"x-mock-malformed": "sse"}):
            pass


def test_auth_and_version_recorded(mock: ThreadedMockProvider) -> None:
    secret = "sk-ant-secret-xyz"
    raw = client(mock, key=secret).messages.with_raw_response.create(
        model="claude-test", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    # Older SDKs send the key as x-api-key, the installed one as "authorization: Bearer";
    # either way the fingerprint is that of the bare key (x-api-key is covered on the raw wire
    # in test_mock_protocol.py).
    header = raw.headers["x-mock-auth-header"]
    assert header in ("x-api-key", "authorization")
    assert raw.headers["x-mock-auth-key-sha256"] == key_fingerprint(secret)
    rec = mock.requests[-1]
    assert rec.auth == (header, key_fingerprint(secret))
    assert rec.anthropic_version  # the SDK always sends one
    assert rec.headers["anthropic-version"] == rec.anthropic_version
    assert secret not in str(rec.headers)
    assert rec.json["max_tokens"] == 8
