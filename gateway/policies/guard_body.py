"""Where guarded text lives in LLM request and response bodies (OpenAI and Anthropic shapes).

Each text is rewritten in place only when a guard changed it, so untouched fields keep their
exact values and an unchanged body is forwarded byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# A function that returns the (possibly masked) text for one text and its scope.
Rewrite = Callable[[str, str], str]

_SYSTEM_ROLES = ("system", "developer")
_TEXT_PARTS = ("text", "input_text", "output_text")  # chat/messages blocks, Responses API parts


def _text_parts(content: Any, scope: str, rewrite: Rewrite) -> bool:
    """Rewrite a `content` list's text blocks; True when any changed."""
    changed = False
    if not isinstance(content, list):
        return False
    for part in content:
        if isinstance(part, dict) and part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
            new = rewrite(part["text"], scope)
            if new != part["text"]:
                part["text"] = new
                changed = True
    return changed


def _field(obj: dict[str, Any], key: str, scope: str, rewrite: Rewrite) -> bool:
    """obj[key] when it is a string, or a list of text blocks."""
    value = obj.get(key)
    if isinstance(value, str):
        new = rewrite(value, scope)
        if new != value:
            obj[key] = new
            return True
        return False
    return _text_parts(value, scope, rewrite)


def _strings(value: Any, scope: str, rewrite: Rewrite) -> tuple[Any, bool]:
    """Every string inside a JSON value (tool-call input objects)."""
    if isinstance(value, str):
        new = rewrite(value, scope)
        return new, new != value
    changed = False
    if isinstance(value, dict):
        for k, v in value.items():
            value[k], c = _strings(v, scope, rewrite)
            changed |= c
    elif isinstance(value, list):
        for i, v in enumerate(value):
            value[i], c = _strings(v, scope, rewrite)
            changed |= c
    return value, changed


def _openai_message(msg: dict[str, Any], rewrite: Rewrite) -> bool:
    role = msg.get("role")
    scope = "systemPrompt" if role in _SYSTEM_ROLES else "toolOutput" if role == "tool" else "messages"
    changed = _field(msg, "content", scope, rewrite)
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            changed |= _field(fn, "arguments", "toolInput", rewrite)
    return changed


def _anthropic_block(block: dict[str, Any], rewrite: Rewrite) -> bool:
    kind = block.get("type")
    if kind == "text":
        return _field(block, "text", "messages", rewrite)
    if kind == "tool_result":
        return _field(block, "content", "toolOutput", rewrite)
    if kind == "tool_use" and "input" in block:
        block["input"], changed = _strings(block["input"], "toolInput", rewrite)
        return changed
    return False


def _anthropic_message(msg: dict[str, Any], rewrite: Rewrite) -> bool:
    content = msg.get("content")
    if isinstance(content, str):
        return _field(msg, "content", "messages", rewrite)
    changed = False
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict):
            changed |= _anthropic_block(block, rewrite)
    return changed


def _responses_item(item: dict[str, Any], rewrite: Rewrite) -> bool:
    """One Responses API `input` item: a message, a function call or a function call's output."""
    kind = item.get("type")
    if kind == "function_call":
        return _field(item, "arguments", "toolInput", rewrite)
    if kind == "function_call_output":
        return _field(item, "output", "toolOutput", rewrite)
    scope = "systemPrompt" if item.get("role") in _SYSTEM_ROLES else "messages"
    return _field(item, "content", scope, rewrite)


def _input(body: dict[str, Any], rewrite: Rewrite) -> bool:
    """Responses API `input` / `instructions`, embeddings `input`, legacy completions `prompt`."""
    changed = _field(body, "instructions", "systemPrompt", rewrite) if "instructions" in body else False
    for key in ("input", "prompt"):
        value = body.get(key)
        if isinstance(value, str):
            changed |= _field(body, key, "messages", rewrite)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    new = rewrite(item, "messages")
                    if new != item:
                        value[i] = new
                        changed = True
                elif isinstance(item, dict):
                    changed |= _responses_item(item, rewrite)
    return changed


def rewrite_request(body: dict[str, Any], rewrite: Rewrite) -> bool:
    """Every user-controlled text of an LLM request, any format; True when any changed.

    The shapes do not clash, so one walk serves all: Anthropic's top-level `system`, OpenAI's
    system/developer/tool roles, content strings and text blocks, tool results and calls, and
    the Responses/embeddings `input`, `instructions` and legacy completions `prompt`.
    """
    changed = _field(body, "system", "systemPrompt", rewrite) if "system" in body else False
    changed |= _input(body, rewrite)
    for msg in body.get("messages") or ():
        if not isinstance(msg, dict):
            continue
        if msg.get("role") in _SYSTEM_ROLES or msg.get("role") == "tool" or "tool_calls" in msg:
            changed |= _openai_message(msg, rewrite)
        elif isinstance(msg.get("content"), list) and any(
            isinstance(b, dict) and b.get("type") in ("tool_result", "tool_use") for b in msg["content"]
        ):
            changed |= _anthropic_message(msg, rewrite)
        else:
            changed |= _field(msg, "content", "messages", rewrite)
    return changed


def rewrite_response(body: dict[str, Any], rewrite: Rewrite) -> bool:
    """Assistant text of a non-streamed answer: OpenAI choices[].message, Anthropic content[],
    Responses API output[]."""
    changed = False
    for choice in body.get("choices") or ():
        msg = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(msg, dict):
            changed |= _openai_message(msg, rewrite)
    content = body.get("content")
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                changed |= _anthropic_block(block, rewrite)
    for item in body.get("output") or () if body.get("object") == "response" else ():
        if isinstance(item, dict):  # Responses API answer: message and function_call items
            changed |= _responses_item(item, rewrite)
    return changed
