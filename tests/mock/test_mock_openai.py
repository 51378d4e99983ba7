"""The mock against the official openai SDK: if the SDK parses it, the wire format is right."""

from __future__ import annotations

import time

import openai
import pytest

from gateway.mock import ThreadedMockProvider, key_fingerprint
from gateway.mock.formats import REPLY_PREFIX, token_estimate

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France? Please answer in one word only."},
]


def client(mock: ThreadedMockProvider, key: str = "k") -> openai.OpenAI:
    # max_retries=0: fault-injection tests must see the first answer, not a retried one.
    return openai.OpenAI(base_url=f"http://127.0.0.1:{mock.port}/v1", api_key=key, max_retries=0,
                         timeout=10.0)


def test_non_streaming_completion(mock: ThreadedMockProvider) -> None:
    resp = client(mock).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-4o-mini"
    assert resp.id.startswith("chatcmpl-")
    text = resp.choices[0].message.content
    assert text == REPLY_PREFIX + MESSAGES[1]["content"][:40]
    assert resp.choices[0].finish_reason == "stop"
    assert resp.choices[0].message.role == "assistant"
    assert resp.usage is not None
    prompt_chars = len(MESSAGES[0]["content"]) + len(MESSAGES[1]["content"])
    assert resp.usage.prompt_tokens == token_estimate(prompt_chars)
    assert resp.usage.completion_tokens == token_estimate(len(text))
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens


def test_streaming_with_usage_matches_non_streaming(mock: ThreadedMockProvider) -> None:
    c = client(mock)
    plain = c.chat.completions.create(model="m1", messages=MESSAGES)  # type: ignore[arg-type]
    stream = c.chat.completions.create(model="m1", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert all(ch.object == "chat.completion.chunk" and ch.model == "m1" for ch in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == plain.choices[0].message.content
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert plain.usage is not None
    assert last.usage.prompt_tokens == plain.usage.prompt_tokens
    assert last.usage.completion_tokens == plain.usage.completion_tokens
    assert all(ch.usage is None for ch in chunks[:-1])


def test_streaming_without_usage_has_no_usage_chunk(mock: ThreadedMockProvider) -> None:
    chunks = list(client(mock).chat.completions.create(model="m", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert all(ch.choices for ch in chunks)
    assert all(ch.usage is None for ch in chunks)


def test_chunk_count_header(mock: ThreadedMockProvider) -> None:
    stream = client(mock).chat.completions.create(
        model="m", messages=MESSAGES, stream=True, extra_headers={"x-mock-chunks": "7"},  # type: ignore[arg-type]
    )
    contents = [ch.choices[0].delta.content for ch in stream
                if ch.choices and ch.choices[0].delta.content]
    assert len(contents) == 7
    assert "".join(contents).startswith(REPLY_PREFIX)


def test_stream_helper_final_completion(mock: ThreadedMockProvider) -> None:
    with client(mock).chat.completions.stream(model="m", messages=MESSAGES,  # type: ignore[arg-type]
                                              stream_options={"include_usage": True}) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content is not None
    assert final.choices[0].message.content.startswith(REPLY_PREFIX)
    assert final.usage is not None and final.usage.total_tokens > 0


def test_models_list(mock: ThreadedMockProvider) -> None:
    ids = [m.id for m in client(mock).models.list()]
    assert ids and all(isinstance(i, str) for i in ids)


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, openai.BadRequestError, "invalid_request_error"),
        (401, openai.AuthenticationError, "invalid_request_error"),
        (429, openai.RateLimitError, "requests"),
        (500, openai.InternalServerError, "server_error"),
        (503, openai.InternalServerError, "server_error"),
    ],
)
def test_injected_status(mock: ThreadedMockProvider, status: int, exc: type[openai.APIStatusError],
                         etype: str) -> None:
    with pytest.raises(exc) as info:
        client(mock).chat.completions.create(model="m", messages=MESSAGES,  # type: ignore[arg-type]
                                             extra_headers={"x-mock-status": str(status)})
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == etype  # the SDK unwraps {"error": {...}}
    assert "message" in body and "code" in body


def test_injected_status_on_stream_request(mock: ThreadedMockProvider) -> None:
    with pytest.raises(openai.RateLimitError):
        client(mock).chat.completions.create(model="m", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
                                             extra_headers={"x-mock-status": "429"})


def test_delay_header(mock: ThreadedMockProvider) -> None:
    start = time.monotonic()
    client(mock).chat.completions.create(model="m", messages=MESSAGES,  # type: ignore[arg-type]
                                         extra_headers={"x-mock-delay-ms": "300"})
    assert time.monotonic() - start >= 0.29


def test_per_chunk_latency(mock: ThreadedMockProvider) -> None:
    start = time.monotonic()
    chunks = list(client(mock).chat.completions.create(
        model="m", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
        extra_headers={"x-mock-latency-ms": "30", "x-mock-chunks": "5"}))
    # 5 content chunks + role chunk + finish chunk + [DONE]: >= 7 gaps of 30 ms.
    assert len(chunks) == 7
    assert time.monotonic() - start >= 0.2


def test_reset_mid_stream(mock: ThreadedMockProvider) -> None:
    received = []
    with pytest.raises(openai.APIConnectionError):
        for ch in client(mock).chat.completions.create(
            model="m", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
            extra_headers={"x-mock-reset": "mid-stream"},
        ):
            received.append(ch)
    assert received, "some events arrive before the reset"


def test_malformed_sse(mock: ThreadedMockProvider) -> None:
    with pytest.raises(ValueError):  # json.JSONDecodeError is a ValueError
        for _ in client(mock).chat.completions.create(
            model="m", messages=MESSAGES, stream=True,  # type: ignore[arg-type]
            extra_headers={"x-mock-malformed": "sse"},
        ):
            pass


def test_auth_reported_without_raw_key(mock: ThreadedMockProvider) -> None:
    secret = "sk-test-very-secret-value-123"
    raw = client(mock, key=secret).chat.completions.with_raw_response.create(
        model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raw.headers["x-mock-auth-header"] == "authorization"
    assert raw.headers["x-mock-auth-key-sha256"] == key_fingerprint(secret)
    rec = mock.requests[-1]
    assert rec.auth == ("authorization", key_fingerprint(secret))
    assert rec.headers["authorization"] == f"<redacted sha256:{key_fingerprint(secret)}>"
    assert secret not in repr(rec) and secret not in repr(vars_of(rec))
    assert rec.json["model"] == "m"
    assert rec.path == "/v1/chat/completions" and rec.method == "POST"


def vars_of(rec: object) -> dict[str, object]:
    return {name: getattr(rec, name) for name in rec.__slots__}  # type: ignore[attr-defined]


def test_sdk_reuses_connection(mock: ThreadedMockProvider) -> None:
    c = client(mock)
    for _ in range(5):
        c.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert len({r.client for r in mock.requests}) == 1
    assert mock.provider.connections_accepted == 1
