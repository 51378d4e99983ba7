"""Wire formats of the mock provider: OpenAI chat completions and Anthropic messages.

Everything here is pure (bytes/dicts in, bytes out) so the protocol module stays about I/O.
The shapes follow what the real APIs send, closely enough for the official `openai` and
`anthropic` SDKs to parse them, including their streaming accumulators.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

OPENAI = "openai"
ANTHROPIC = "anthropic"

REPLY_PREFIX = "Hello! This is the mock provider. You said: "
SNIPPET_CHARS = 40
MAX_CHUNKS = 10_000  # bounds the per-request work a client can ask for with x-mock-chunks

# Headers whose values are credentials: never recorded or echoed, only fingerprinted.
# Order matters: it is the precedence used when a request carries several.
AUTH_HEADERS: tuple[str, ...] = ("x-api-key", "authorization", "api-key", "x-goog-api-key")
SECRET_HEADERS = frozenset(AUTH_HEADERS + ("proxy-authorization", "cookie", "x-amz-security-token"))


def key_fingerprint(key: str) -> str:
    """First 16 hex chars of sha256(key): enough to compare keys without revealing them."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def auth_of(headers: dict[str, str]) -> tuple[str, str]:
    """(header name, key fingerprint) of the credential in `headers`, or ("none", "").

    For `authorization` the scheme ("Bearer ") is stripped so the fingerprint is that of the
    key itself, whichever header carried it; tests can then compare against one value.
    """
    for name in AUTH_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "authorization":
            scheme, sep, rest = value.partition(" ")
            if sep and scheme.lower() in ("bearer", "basic", "token"):
                value = rest.strip()
        return name, key_fingerprint(value)
    return "none", ""


def redact(name: str, value: str) -> str:
    """The value to record for header `name`: credentials become a fingerprint, never the key."""
    if name == "authorization" and value.startswith("AWS4-HMAC-SHA256 "):
        return value  # a SigV4 signature is per request and holds no secret; tests recompute it
    if name in AUTH_HEADERS:
        return f"<redacted sha256:{auth_of({name: value})[1]}>"
    if name in SECRET_HEADERS:
        return "<redacted>"
    return value


def token_estimate(chars: int) -> int:
    """ceil(chars / 4), at least 1: the usual rule of thumb, deterministic."""
    return max(1, (chars + 3) // 4)


def _text_of(content: Any) -> str:
    """Text of an OpenAI/Anthropic message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


class Completion:
    """What the mock answers for one chat request, shared by streaming and non-streaming."""

    __slots__ = ("model", "text", "input_tokens", "output_tokens")

    def __init__(self, model: str, text: str, input_tokens: int, output_tokens: int) -> None:
        self.model = model
        self.text = text
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens


def complete(body: dict[str, Any], default_model: str) -> Completion:
    """Deterministic reply + usage for a parsed OpenAI or Anthropic chat body."""
    messages = body.get("messages")
    prompt_chars = 0
    last_user = ""
    if isinstance(messages, list):
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            text = _text_of(msg.get("content"))
            prompt_chars += len(text)
            if msg.get("role") == "user":
                last_user = text
    system = body.get("system")  # Anthropic carries the system prompt outside `messages`
    if system is not None:
        prompt_chars += len(_text_of(system))
    model = body.get("model")
    if not isinstance(model, str) or not model:
        model = default_model
    text = REPLY_PREFIX + last_user[:SNIPPET_CHARS]
    return Completion(model, text, token_estimate(prompt_chars), token_estimate(len(text)))


def split_text(text: str, chunks: int | None) -> list[str]:
    """Pieces whose concatenation is `text`.

    Default: word-sized pieces (each word with its following space), like real token streams.
    With an explicit count: that many near-equal pieces; if it exceeds the text length some
    pieces are empty, which both providers' formats allow, so the text stays the same.
    """
    if chunks is None:
        pieces: list[str] = []
        start = 0
        for i, ch in enumerate(text):
            if ch == " ":
                pieces.append(text[start : i + 1])
                start = i + 1
        if start < len(text):
            pieces.append(text[start:])
        return pieces or [text]
    n = max(1, min(chunks, MAX_CHUNKS))
    size, extra = divmod(len(text), n)
    out: list[str] = []
    pos = 0
    for i in range(n):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out


# ---------------------------------------------------------------------------------- OpenAI


def _openai_usage(c: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": c.input_tokens,
        "completion_tokens": c.output_tokens,
        "total_tokens": c.input_tokens + c.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_completion(c: Completion, rid: str) -> bytes:
    return orjson.dumps(
        {
            "id": rid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": c.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": c.text, "refusal": None,
                                "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _openai_usage(c),
            "service_tier": "default",
            "system_fingerprint": "fp_mock",
        }
    )


def openai_stream(c: Completion, rid: str, pieces: list[str], include_usage: bool) -> list[bytes]:
    """SSE events (each a complete `data: ...\\n\\n`) of a chat.completion.chunk stream."""
    created = int(time.time())
    base: dict[str, Any] = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": c.model,
        "service_tier": "default",
        "system_fingerprint": "fp_mock",
    }
    if include_usage:
        base["usage"] = None  # the real API sends null usage on every chunk but the last

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        obj = dict(base)
        obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events.extend(chunk({"content": p}, None) for p in pieces)
    events.append(chunk({}, "stop"))
    if include_usage:
        obj = dict(base)
        obj["choices"] = []
        obj["usage"] = _openai_usage(c)
        events.append(b"data: " + orjson.dumps(obj) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("server_error", "timeout"),
    413: ("invalid_request_error", "request_too_large"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "timeout"),
}


def openai_error(status: int, message: str) -> bytes:
    etype, code = _OPENAI_ERRORS.get(
        status, ("invalid_request_error", None) if status < 500 else ("server_error", None)
    )
    return orjson.dumps({"error": {"message": message, "type": etype, "param": None, "code": code}})


# ------------------------------------------------------------------------------- Anthropic


def anthropic_message(c: Completion, rid: str) -> bytes:
    return orjson.dumps(
        {
            "id": rid,
            "type": "message",
            "role": "assistant",
            "model": c.model,
            "content": [{"type": "text", "text": c.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": c.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": c.output_tokens,
            },
        }
    )


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def anthropic_stream(c: Completion, rid: str, pieces: list[str]) -> list[bytes]:
    """SSE events of a Messages stream, in the order the real API sends them."""
    events = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": rid,
                    "type": "message",
                    "role": "assistant",
                    "model": c.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    # The real API reports input tokens up front and a placeholder output count;
                    # the final count arrives in message_delta.
                    "usage": {
                        "input_tokens": c.input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                    },
                },
            },
        ),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        _sse("ping", {"type": "ping"}),
    ]
    events.extend(
        _sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": p}})
        for p in pieces
    )
    events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": c.output_tokens},
            },
        )
    )
    events.append(_sse("message_stop", {"type": "message_stop"}))
    return events


_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def anthropic_error(status: int, message: str) -> bytes:
    etype = _ANTHROPIC_ERRORS.get(status, "invalid_request_error" if status < 500 else "api_error")
    return orjson.dumps({"type": "error", "error": {"type": etype, "message": message}})


def error_body(kind: str, status: int, message: str) -> bytes:
    if kind == ANTHROPIC:
        return anthropic_error(status, message)
    return openai_error(status, message)


def malformed_stream(kind: str) -> list[bytes]:
    """A stream that starts well and then carries data that is not JSON."""
    if kind == ANTHROPIC:
        return [
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_bad"\n\n',
            b"event: content_block_delta\ndata: this is not json {{{\n\n",
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        ]
    return [
        b"data: this is not json {{{\n\n",
        b'data: {"id":"chatcmpl-bad","object":"chat.completion.chunk","choices":[{\n\n',
        b"data: [DONE]\n\n",
    ]


# ----------------------------------------------------------------------------------- models

MODEL_IDS: tuple[str, ...] = ("mock-gpt-4o", "mock-gpt-4o-mini", "mock-claude-sonnet")


def models_list(kind: str) -> bytes:
    if kind == ANTHROPIC:
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
            for m in MODEL_IDS
        ]
        return orjson.dumps(
            {"data": data, "has_more": False, "first_id": MODEL_IDS[0], "last_id": MODEL_IDS[-1]}
        )
    return orjson.dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 1735689600, "owned_by": "mock"}
                for m in MODEL_IDS
            ],
        }
    )
