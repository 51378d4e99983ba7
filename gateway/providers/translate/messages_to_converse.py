"""Anthropic Messages <-> AWS Bedrock Converse (pure functions, no I/O).

`translate_request` turns a Messages request body into a Converse body (the model goes in the URL);
`translate_response` turns a Converse response into a Messages response, `translate_error` a Bedrock
error body (`{"message": ...}`) into Anthropic's error shape. Streams: stream_converse_to_anthropic.

Fields Converse has no place for (thinking, top_k, metadata, output_config.effort) travel in
`additionalModelRequestFields`, which Bedrock hands to the model as is, like agentgateway does.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from gateway.providers.translate._common import (
    DEFAULT_MAX_TOKENS,
    JsonDict,
    anthropic_error_type_for,
    as_int,
    dumps,
    error_text,
    load_error_body,
)

# Bedrock rejects a request whose history holds toolUse/toolResult blocks without a toolConfig;
# agentgateway declares this placeholder tool then, and so do we.
DUMMY_TOOL = {"toolSpec": {"name": "agentgateway_dummy_do_not_call",
                           "inputSchema": {"json": {"type": "object"}}}}
_CACHE_POINT = {"cachePoint": {"type": "default"}}
CONVERSE_TO_ANTHROPIC_STOP = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def translate_request(body: JsonDict) -> JsonDict:
    system: list[JsonDict] = _system_blocks(body.get("system"))
    messages: list[JsonDict] = []
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "system":  # tolerated by agentgateway: joins the system prompt
            system.extend(_system_blocks(msg.get("content")))
            continue
        content = _content(msg.get("content"))
        if content:
            messages.append({"role": "assistant" if role == "assistant" else "user", "content": content})
    out: JsonDict = {"messages": messages}
    if system:
        out["system"] = system
    out["inferenceConfig"] = _inference_config(body)
    output = _output_config(body.get("output_config"))
    if output is not None:
        out["outputConfig"] = output
    tools = _tool_config(body, messages)
    if tools is not None:
        out["toolConfig"] = tools
    extra = _additional_fields(body)
    if extra:
        out["additionalModelRequestFields"] = extra
    return out


def _system_blocks(system: Any) -> list[JsonDict]:
    if isinstance(system, str):
        return [{"text": system}] if system else []
    out: list[JsonDict] = []
    for block in system or ():
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            out.append({"text": block["text"]})
            if block.get("cache_control"):
                out.append(_CACHE_POINT)
    return out


def _content(content: Any) -> list[JsonDict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    out: list[JsonDict] = []
    for block in content or ():
        if not isinstance(block, dict):
            continue
        converted = _block(block)
        if converted is not None:
            out.append(converted)
            if block.get("cache_control"):
                out.append(_CACHE_POINT)
    return out


def _block(block: JsonDict) -> JsonDict | None:
    kind = block.get("type")
    if kind == "text":
        return {"text": block.get("text", "")}
    if kind == "image":
        return _image(block.get("source"))
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block.get("id"), "name": block.get("name"),
                            "input": block.get("input") if isinstance(block.get("input"), dict) else {}}}
    if kind == "tool_result":
        result: JsonDict = {"toolUseId": block.get("tool_use_id"), "content": _tool_result(block.get("content"))}
        if block.get("is_error") is True:
            result["status"] = "error"
        return {"toolResult": result}
    if kind == "thinking":
        text: JsonDict = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    return None  # server tool blocks, documents by URL ...: Converse has no counterpart


def _image(source: Any) -> JsonDict | None:
    if not isinstance(source, dict) or source.get("type") != "base64":
        return None  # Converse takes inline bytes or S3 locations, not URLs
    media = str(source.get("media_type") or "image/png")
    return {"image": {"format": media.rpartition("/")[2], "source": {"bytes": source.get("data", "")}}}


def _tool_result(content: Any) -> list[JsonDict]:
    if isinstance(content, str):
        return [{"text": content}]
    out: list[JsonDict] = []
    for block in content or ():
        if isinstance(block, dict):
            if block.get("type") == "text":
                out.append({"text": block.get("text", "")})
            elif block.get("type") == "image" and (image := _image(block.get("source"))) is not None:
                out.append(image)
    return out


def _inference_config(body: JsonDict) -> JsonDict:
    cfg: JsonDict = {"maxTokens": body.get("max_tokens") or DEFAULT_MAX_TOKENS}
    for src, dst in (("temperature", "temperature"), ("top_p", "topP"), ("stop_sequences", "stopSequences")):
        if body.get(src) is not None:
            cfg[dst] = body[src]
    return cfg


def _output_config(config: Any) -> JsonDict | None:
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    return {"textFormat": {"type": "json_schema",
                           "structure": {"jsonSchema": {"schema": dumps(fmt.get("schema") or {})}}}}


def _tool_config(body: JsonDict, messages: list[JsonDict]) -> JsonDict | None:
    tools = [
        {"toolSpec": {k: v for k, v in (("name", t.get("name")), ("description", t.get("description")),
                                         ("inputSchema", {"json": t.get("input_schema") or {"type": "object"}}))
                      if v is not None}}
        for t in body.get("tools") or () if isinstance(t, dict) and t.get("name") and "input_schema" in t
    ]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "none":
        tools = []
    if not tools:
        if any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"]):
            return {"tools": [DUMMY_TOOL]}
        return None
    out: JsonDict = {"tools": tools}
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "auto":
            out["toolChoice"] = {"auto": {}}
        elif kind == "any":
            out["toolChoice"] = {"any": {}}
        elif kind == "tool":
            out["toolChoice"] = {"tool": {"name": choice.get("name")}}
    return out


def _additional_fields(body: JsonDict) -> JsonDict:
    extra: JsonDict = {}
    if body.get("top_k") is not None:
        extra["top_k"] = body["top_k"]
    if isinstance(body.get("thinking"), dict) and body["thinking"].get("type") != "disabled":
        extra["thinking"] = body["thinking"]
    config = body.get("output_config")
    if isinstance(config, dict):
        rest = {k: v for k, v in config.items() if k != "format"}
        if rest:
            extra["output_config"] = rest
    if isinstance(body.get("metadata"), dict) and body["metadata"]:
        extra["metadata"] = body["metadata"]
    return extra


# -- responses ---------------------------------------------------------------------------------


def new_message_id() -> str:
    return "msg_bdrk_" + uuid.uuid4().hex[:24]


def translate_response(body: JsonDict, model: str | None, message_id: str | None = None) -> JsonDict:
    """A Messages response for a Converse response (`model` is the one the request was sent to)."""
    output = body.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = [b for b in map(_response_block, (message or {}).get("content") or ()) if b is not None]
    return {
        "id": message_id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model or "",
        "content": content,
        "stop_reason": CONVERSE_TO_ANTHROPIC_STOP.get(str(body.get("stopReason")), "end_turn"),
        "stop_sequence": None,
        "usage": usage(body.get("usage")),
    }


def _response_block(block: Any) -> JsonDict | None:
    if not isinstance(block, dict):
        return None
    if isinstance(block.get("text"), str):
        return {"type": "text", "text": block["text"]}
    use = block.get("toolUse")
    if isinstance(use, dict):
        return {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"),
                "input": use.get("input") if isinstance(use.get("input"), dict) else {}}
    reasoning = block.get("reasoningContent")
    if isinstance(reasoning, dict):
        text = reasoning.get("reasoningText")
        if isinstance(text, dict):
            return {"type": "thinking", "thinking": text.get("text", ""), "signature": text.get("signature", "")}
        if "redactedContent" in reasoning:
            data = reasoning["redactedContent"]
            if isinstance(data, bytes):
                data = base64.b64encode(data).decode()
            return {"type": "redacted_thinking", "data": data}
    return None


def usage(raw: Any) -> JsonDict:
    """Converse usage -> Anthropic usage. Both count cached input apart from `input_tokens`."""
    u = raw if isinstance(raw, dict) else {}
    out: JsonDict = {"input_tokens": as_int(u.get("inputTokens")), "output_tokens": as_int(u.get("outputTokens"))}
    if u.get("cacheReadInputTokens") is not None:
        out["cache_read_input_tokens"] = as_int(u.get("cacheReadInputTokens"))
    if u.get("cacheWriteInputTokens") is not None:
        out["cache_creation_input_tokens"] = as_int(u.get("cacheWriteInputTokens"))
    return out


def translate_error(body: bytes | str | JsonDict, status: int) -> JsonDict:
    """Anthropic error body for a Bedrock error (`{"message": ...}`, any casing) with HTTP `status`."""
    parsed = load_error_body(body)
    message = None
    if parsed:
        message = parsed.get("message", parsed.get("Message"))
    if not isinstance(message, str):
        message = error_text(body, status)
    return {"type": "error", "error": {"type": anthropic_error_type_for(status), "message": message}}
