"""Helpers shared by the translation modules: stop-reason tables, usage arithmetic, SSE framing.

Pure functions only; nothing here does I/O.
"""

from __future__ import annotations

from typing import Any

import orjson

JsonDict = dict[str, Any]

# Anthropic requires max_tokens; agentgateway fills this default when an OpenAI client sends none.
DEFAULT_MAX_TOKENS = 4096

ANTHROPIC_TO_OPENAI_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
OPENAI_TO_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

# The two APIs name the same service tiers differently; tiers with no counterpart are dropped
# because both SDKs validate the field against a closed list.
ANTHROPIC_TO_OPENAI_TIER = {"standard": "default", "priority": "priority"}
OPENAI_TO_ANTHROPIC_TIER = {"default": "standard", "priority": "priority"}

# Error `type` values. Both tables agree with gateway/errors.py for the statuses it renders.
ANTHROPIC_TO_OPENAI_ERROR = {
    "invalid_request_error": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "api_error": "server_error",
    "overloaded_error": "service_unavailable",
    "timeout_error": "timeout_error",
}
_ANTHROPIC_ERROR_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_OPENAI_ERROR_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}


def as_int(value: Any) -> int:
    """Token counts arrive as ints, nulls, or (from some OpenAI-compatible servers) floats."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return int(value)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def parse_json_object(text: Any) -> JsonDict | None:
    """`text` parsed as a JSON object, {} for empty text, None when it is not an object."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str) or not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def anthropic_error_type_for(status: int) -> str:
    return _ANTHROPIC_ERROR_BY_STATUS.get(status, "api_error" if status >= 500 else "invalid_request_error")


def openai_error_type_for(status: int) -> str:
    return _OPENAI_ERROR_BY_STATUS.get(status, "server_error" if status >= 500 else "invalid_request_error")


def load_error_body(body: bytes | str | JsonDict) -> JsonDict | None:
    if isinstance(body, dict):
        return body
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def error_text(body: bytes | str | JsonDict, status: int) -> str:
    """A message for an error body that is not JSON: its text, bounded, or the bare status."""
    if isinstance(body, dict):
        return f"upstream returned HTTP {status}"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()[:500]
    return text or f"upstream returned HTTP {status}"


def sse_data(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_event(name: str, obj: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"
