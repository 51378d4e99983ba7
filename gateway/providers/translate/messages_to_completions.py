"""An Anthropic messages client in front of an OpenAI chat-completions upstream.

Three pure functions, no I/O:

* `translate_request(body)`: messages request -> chat-completions request.
* `translate_response(body)`: `chat.completion` -> messages response.
* `translate_error(body, status)`: OpenAI error body -> Anthropic error body.
(Streams: see `stream_openai_to_anthropic.OpenAIToAnthropicStream`.)

Translated in requests: `system` (string or text blocks) as the first system message, messages with
role `system` (a non-standard form some clients send) kept in place, text blocks, `image` blocks (base64
-> data URL, url -> URL), assistant `tool_use` blocks -> `tool_calls`, user `tool_result` blocks -> `tool`
messages placed before the rest of that user turn (OpenAI wants them right after the assistant's call),
custom `tools`, `tool_choice` (`disable_parallel_tool_use` -> `parallel_tool_calls: false`),
`stop_sequences`, `max_tokens` -> `max_completion_tokens`, `temperature`, `top_p`, `metadata.user_id` ->
`user`, `thinking` + `output_config.effort` -> `reasoning_effort`, `output_config.format` ->
`response_format`; `stream` is always sent, and a streamed request also asks for
`stream_options.include_usage` so that the usage of the stream can be counted.

Not translated (dropped): `top_k`, `cache_control` markers (OpenAI caches prompts by itself), server tools
(`web_search_*`, `bash_*`, ... have no chat-completions equivalent), `thinking`/`redacted_thinking` blocks
in history, `document` and `search_result` blocks, images inside tool results (OpenAI tool messages carry
text only), `is_error` on tool results, `container`, `mcp_servers`, `service_tier`.
In responses, `reasoning_content` is not turned into a thinking block (there is no signature to give it).
"""

from __future__ import annotations

from typing import Any

from gateway.providers.translate._common import (
    OPENAI_TO_ANTHROPIC_STOP,
    OPENAI_TO_ANTHROPIC_TIER,
    JsonDict,
    anthropic_error_type_for,
    as_int,
    dumps,
    error_text,
    load_error_body,
    parse_json_object,
)

_OPENAI_TO_ANTHROPIC_ERROR = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "server_error": "api_error",
    "service_unavailable": "overloaded_error",
    "timeout_error": "timeout_error",
}
_EFFORTS = ("low", "medium", "high")


def translate_request(body: JsonDict) -> JsonDict:
    """The OpenAI chat-completions request equivalent to an Anthropic messages request."""
    messages = _system(body.get("system"))
    for msg in body.get("messages") or []:
        messages.extend(_message(msg))
    out: JsonDict = {"messages": messages, "model": body.get("model")}
    effort = _reasoning_effort(body)
    if effort:
        out["reasoning_effort"] = effort
    if body.get("max_tokens") is not None:
        out["max_completion_tokens"] = body["max_tokens"]
    response_format = _response_format((body.get("output_config") or {}).get("format"))
    if response_format:
        out["response_format"] = response_format
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    out["stream"] = bool(body.get("stream"))
    if out["stream"]:
        out["stream_options"] = {"include_usage": True}
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    _tools(body, out)
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = user
    return out


def _system(system: Any) -> list[JsonDict]:
    if isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    parts = _text_parts(system)
    return [{"role": "system", "content": parts}] if parts else []


def _text_parts(content: Any) -> list[JsonDict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    blocks = content if isinstance(content, list) else []
    return [{"type": "text", "text": b.get("text", "")} for b in blocks if b.get("type") == "text"]


def _message(msg: JsonDict) -> list[JsonDict]:
    role = msg.get("role")
    content = msg.get("content")
    if role == "assistant":
        return [_assistant(content)]
    if role == "system":
        return [{"role": "system", "content": _text_parts(content)}]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    tool_msgs = [_tool_message(b) for b in blocks if b.get("type") == "tool_result"]
    parts = [p for p in (_user_part(b) for b in blocks) if p is not None]
    return tool_msgs + ([{"role": "user", "content": parts}] if parts or not tool_msgs else [])


def _assistant(content: Any) -> JsonDict:
    out: JsonDict = {"role": "assistant"}
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
    parts = [{"type": "text", "text": b.get("text", "")} for b in blocks if b.get("type") == "text"]
    calls = [{"type": "function", "id": b.get("id"),
              "function": {"name": b.get("name"), "arguments": dumps(b.get("input") or {})}}
             for b in blocks if b.get("type") == "tool_use"]
    if parts:
        out["content"] = parts
    if calls:
        out["tool_calls"] = calls
    return out


def _user_part(block: JsonDict) -> JsonDict | None:
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": block.get("text", "")}
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") == "base64":
            url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
            return {"type": "image_url", "image_url": {"url": url}}
        if source.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": source.get("url")}}
    return None


def _tool_message(block: JsonDict) -> JsonDict:
    parts = _text_parts(block.get("content") or "")
    # OpenAI tool messages carry text only; an image-only result still needs a (blank) content part.
    content = parts or [{"type": "text", "text": ""}]
    return {"role": "tool", "content": content, "tool_call_id": block.get("tool_use_id")}


def _tools(body: JsonDict, out: JsonDict) -> None:
    # Server tools carry a versioned `type` (web_search_20250305, ...); only custom tools are functions.
    custom = [t for t in body.get("tools") or [] if t.get("type") in (None, "custom")]
    if custom:
        out["tools"] = [{"type": "function", "function": _function(t)} for t in custom]
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or not custom:
        return
    kind = choice.get("type")
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _function(tool: JsonDict) -> JsonDict:
    fn: JsonDict = {"name": tool.get("name")}
    if tool.get("description"):
        fn["description"] = tool["description"]
    fn["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return fn


def _reasoning_effort(body: JsonDict) -> str | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    effort = (body.get("output_config") or {}).get("effort")
    if effort in _EFFORTS:
        return str(effort)
    if effort in ("xhigh", "max"):
        return "high"
    budget = as_int(thinking.get("budget_tokens"))
    if not budget:
        return None  # adaptive without an effort: leave the model's own default
    return "low" if budget <= 1024 else "medium" if budget <= 8192 else "high"


def _response_format(fmt: Any) -> JsonDict | None:
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return {"type": "json_schema", "json_schema": {"name": "structured_output", "schema": fmt["schema"]}}
    return None


def translate_response(body: JsonDict) -> JsonDict:
    """The Anthropic message response equivalent to a `chat.completion`."""
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[JsonDict] = []
    text = message.get("content") or message.get("refusal")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                        "input": parse_json_object(fn.get("arguments")) or {}})
    stop = choice.get("finish_reason")
    stop_reason = "refusal" if message.get("refusal") and not message.get("content") else (
        OPENAI_TO_ANTHROPIC_STOP.get(stop or "", "end_turn"))
    usage = translate_usage(body.get("usage") or {})
    tier = OPENAI_TO_ANTHROPIC_TIER.get(body.get("service_tier") or "")
    if tier:
        usage["service_tier"] = tier
    return {"id": body.get("id"), "type": "message", "role": "assistant", "content": content,
            "model": body.get("model"), "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}


def translate_usage(usage: JsonDict) -> JsonDict:
    """Anthropic usage from OpenAI usage: Anthropic's input_tokens EXCLUDES the cached part of prompt_tokens."""
    details = usage.get("prompt_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    written = as_int(details.get("cache_write_tokens")) if isinstance(details, dict) else 0
    out: JsonDict = {"input_tokens": max(0, as_int(usage.get("prompt_tokens")) - cached - written),
                     "output_tokens": as_int(usage.get("completion_tokens"))}
    if isinstance(details, dict) and "cache_write_tokens" in details:
        out["cache_creation_input_tokens"] = written
    if isinstance(details, dict):
        out["cache_read_input_tokens"] = cached
    return out


def translate_error(body: bytes | str | JsonDict, status: int) -> JsonDict:
    """Anthropic error body for an OpenAI error body (or any non-JSON error text) with HTTP `status`."""
    parsed = load_error_body(body)
    err = parsed.get("error") if parsed else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        err_type = _OPENAI_TO_ANTHROPIC_ERROR.get(err.get("type") or "", anthropic_error_type_for(status))
        message = err["message"]
    else:
        err_type, message = anthropic_error_type_for(status), error_text(body, status)
    return {"type": "error", "error": {"type": err_type, "message": message}}
