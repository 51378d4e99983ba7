"""An OpenAI chat-completions client in front of an Anthropic messages upstream.

Three pure functions, no I/O:

* `translate_request(body)`: chat-completions request -> messages request.
* `translate_response(body)`: messages response -> `chat.completion`.
* `translate_error(body, status)`: Anthropic error body -> OpenAI error body.
(Streams: see `stream_anthropic_to_openai.AnthropicToOpenAIStream`.)

Translated in requests: `system`/`developer` messages (hoisted, in order, into `system`), user/assistant
turns, text and `image_url` parts (data URLs become base64 sources, other URLs `url` sources), assistant
`tool_calls` (parallel ones too) as `tool_use` blocks, `tool` messages as `tool_result` blocks (consecutive
ones merged into ONE user turn, as Anthropic expects every result of a parallel call in the next turn),
`tools` (legacy `functions` only when `tools` is absent), `tool_choice` (legacy `function_call` too),
`parallel_tool_calls: false`, `stop`, `max_completion_tokens`/`max_tokens` (default 4096 like
agentgateway), `temperature`, `top_p`, `stream`, `user` -> `metadata.user_id`, `reasoning_effort` ->
`thinking` budget, `response_format` -> `output_config.format`.

Not translated (dropped, Anthropic would reject them): `n`, `presence_penalty`, `frequency_penalty`,
`logit_bias`, `logprobs`, `seed`, `stream_options`, `modalities`, `audio`, `store`, `metadata`,
`prediction`, message `name`s, audio and file content parts. Tool-call arguments that are not a JSON
object become `{}` (Anthropic accepts only objects). `temperature` is passed through unscaled (OpenAI
allows up to 2, Anthropic up to 1), and is not removed when `reasoning_effort` turns thinking on (Anthropic
then rejects a temperature other than 1, which the client sees as Anthropic's error).
"""

from __future__ import annotations

import time
from typing import Any

from gateway.providers.translate._common import (
    ANTHROPIC_TO_OPENAI_ERROR,
    ANTHROPIC_TO_OPENAI_FINISH,
    ANTHROPIC_TO_OPENAI_TIER,
    DEFAULT_MAX_TOKENS,
    JsonDict,
    as_int,
    dumps,
    error_text,
    load_error_body,
    openai_error_type_for,
    parse_json_object,
)

# Thinking budgets for OpenAI's reasoning_effort levels; Anthropic's minimum budget is 1024.
_EFFORT_BUDGET = {"minimal": 1024, "low": 1024, "medium": 2048, "high": 4096, "xhigh": 8192, "max": 16384}
_MIN_THINKING_BUDGET = 1024


def translate_request(body: JsonDict) -> JsonDict:
    """The Anthropic messages request equivalent to an OpenAI chat-completions request."""
    system, messages = _messages(body.get("messages") or [])
    out: JsonDict = {"messages": messages}
    if system:
        out["system"] = system
    out["model"] = body.get("model")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    out["max_tokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stream"):
        out["stream"] = True
    _tools(body, out)
    if body.get("user"):
        out["metadata"] = {"user_id": body["user"]}
    thinking = _thinking(body.get("reasoning_effort"), max_tokens)
    if thinking:
        out["thinking"] = thinking
    output_format = _output_format(body.get("response_format"))
    if output_format:
        out["output_config"] = {"format": output_format}
    return out


def _messages(items: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    system_parts: list[str] = []
    out: list[JsonDict] = []
    for msg in items:
        role = msg.get("role")
        if role in ("system", "developer"):
            text = _text_of(msg.get("content"))
            if text:
                system_parts.append(text)
        elif role == "tool":
            block = _tool_result(msg)
            if out and out[-1]["role"] == "user" and _is_tool_results(out[-1]["content"]):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif role == "assistant":
            blocks = _content_blocks(msg.get("content")) + _tool_uses(msg.get("tool_calls") or [])
            if blocks:
                out.append({"role": "assistant", "content": blocks})
        elif role == "user":
            out.append({"role": "user", "content": _content_blocks(msg.get("content"))})
    return "\n".join(system_parts), out


def _is_tool_results(blocks: list[JsonDict]) -> bool:
    return bool(blocks) and all(b.get("type") == "tool_result" for b in blocks)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _content_blocks(content: Any) -> list[JsonDict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[JsonDict] = []
    for part in content if isinstance(content, list) else []:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal"):
            text = part.get(kind) if kind == "refusal" else part.get("text")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            image = _image(part.get("image_url"))
            if image:
                blocks.append(image)
    return blocks


def _image(spec: Any) -> JsonDict | None:
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str) or not url:
        return None
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type = header.split(";", 1)[0] or "image/png"
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _tool_uses(calls: list[JsonDict]) -> list[JsonDict]:
    blocks = []
    for call in calls:
        fn = call.get("function") or {}
        args = parse_json_object(fn.get("arguments"))
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": args or {}})
    return blocks


def _tool_result(msg: JsonDict) -> JsonDict:
    content = msg.get("content")
    result = content if isinstance(content, str) else _content_blocks(content)
    return {"type": "tool_result", "tool_use_id": msg.get("tool_call_id"), "content": result}


def _tools(body: JsonDict, out: JsonDict) -> None:
    if body.get("tools"):
        fns = [t.get("function") or {} for t in body["tools"] if t.get("type", "function") == "function"]
        choice = body.get("tool_choice")
    elif body.get("functions"):
        fns = list(body["functions"])
        choice = _legacy_choice(body.get("function_call"))
    else:
        return
    out["tools"] = [_tool(fn) for fn in fns]
    tool_choice = _tool_choice(choice)
    if body.get("parallel_tool_calls") is False:
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    if tool_choice:
        out["tool_choice"] = tool_choice


def _tool(fn: JsonDict) -> JsonDict:
    tool: JsonDict = {"name": fn.get("name")}
    if fn.get("description"):
        tool["description"] = fn["description"]
    tool["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    return tool


def _legacy_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _tool_choice(choice: Any) -> JsonDict | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and (choice.get("function") or {}).get("name"):
        return {"type": "tool", "name": choice["function"]["name"]}
    return None


def _thinking(effort: Any, max_tokens: int) -> JsonDict | None:
    budget = _EFFORT_BUDGET.get(effort) if isinstance(effort, str) else None
    if budget is None or max_tokens <= _MIN_THINKING_BUDGET:
        return None
    # Anthropic rejects a budget that is not below max_tokens.
    return {"type": "enabled", "budget_tokens": min(budget, max_tokens - 1)}


def _output_format(fmt: Any) -> JsonDict | None:
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_schema", "schema": {"type": "object", "additionalProperties": True}}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            return {"type": "json_schema", "schema": schema}
    return None


def translate_response(body: JsonDict, created: int | None = None) -> JsonDict:
    """The `chat.completion` equivalent to an Anthropic message response."""
    message: JsonDict = {"role": "assistant", "content": None}
    texts, thinking, calls = [], [], []
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": dumps(block.get("input") or {})}})
    if texts:
        message["content"] = "".join(texts)
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    out: JsonDict = {
        "id": body.get("id"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message,
                     "finish_reason": ANTHROPIC_TO_OPENAI_FINISH.get(body.get("stop_reason") or "", "stop")}],
        "usage": translate_usage(body.get("usage") or {}),
    }
    tier = ANTHROPIC_TO_OPENAI_TIER.get((body.get("usage") or {}).get("service_tier") or "")
    if tier:
        out["service_tier"] = tier
    return out


def translate_usage(usage: JsonDict) -> JsonDict:
    """OpenAI usage from Anthropic usage: OpenAI's prompt_tokens INCLUDES cached tokens, Anthropic's input does not."""
    cache_read = as_int(usage.get("cache_read_input_tokens"))
    cache_write = as_int(usage.get("cache_creation_input_tokens"))
    prompt = as_int(usage.get("input_tokens")) + cache_read + cache_write
    completion = as_int(usage.get("output_tokens"))
    out: JsonDict = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read, "cache_write_tokens": cache_write}
        # Kept under Anthropic's names too, as agentgateway does, for clients that read them.
        out["cache_read_input_tokens"] = cache_read
        out["cache_creation_input_tokens"] = cache_write
    return out


def translate_error(body: bytes | str | JsonDict, status: int) -> JsonDict:
    """OpenAI error body for an Anthropic error body (or any non-JSON error text) with HTTP `status`."""
    parsed = load_error_body(body)
    err = parsed.get("error") if parsed else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        err_type = ANTHROPIC_TO_OPENAI_ERROR.get(err.get("type") or "", openai_error_type_for(status))
        message = err["message"]
    else:
        err_type, message = openai_error_type_for(status), error_text(body, status)
    return {"error": {"message": message, "type": err_type, "param": None, "code": None}}
