"""LLM endpoints the gateway answers itself: the model list and Anthropic token counts.

`/v1/models` lists what a client may put in `model`: llm.models names (internal ones hidden) and
virtual model names, or the provider models of a route's ai backends. `/v1/messages/count_tokens`
is forwarded to Anthropic providers; other providers have no such endpoint, so the gateway
answers with an estimate (about 4 characters per token, the same rule budgets use before a
response is known) rather than a 404.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from gateway.config.model import AIBackend, AIGroups, BackendTarget, ModelRouter, Route


def listed_models(route: Route | None, target: BackendTarget) -> list[str]:
    targets = [b.target for b in route.backends] if route is not None and route.backends else [target]
    names: list[str] = []
    for t in targets:
        for name in _names(t):
            if name not in names:
                names.append(name)
    return names


def _names(target: BackendTarget) -> list[str]:
    if isinstance(target, ModelRouter):
        return [v.name for v in target.virtual] + [m.pattern for m in target.models if not m.internal]
    if isinstance(target, AIBackend):
        return [target.provider.model] if target.provider.model else []
    if isinstance(target, AIGroups):
        return [b.provider.model for g in target.groups for b in g if b.provider.model]
    return []


def estimate_input_tokens(body: dict[str, Any]) -> int:
    """Characters of the prompt text (system, messages, tool definitions) / 4, rounded up."""
    chars = len(_text(body.get("system")))
    for message in body.get("messages") or ():
        if isinstance(message, dict):
            chars += len(_text(message.get("content")))
    tools = body.get("tools")
    if tools:
        chars += len(orjson.dumps(tools))
    return max(1, math.ceil(chars / 4))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                for key in ("text", "content", "input"):
                    value = block.get(key)
                    if value is not None:
                        parts.append(value if isinstance(value, str) else orjson.dumps(value).decode())
        return "".join(parts)
    return ""
