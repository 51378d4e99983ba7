"""agentgateway's webhook guard, request and response side.

Request: POST http://<host>/request with `{"body": {"messages": [{"role", "content"}...]}}`.
Response (non-streamed answers): POST http://<host>/response with `{"body": {"choices": [{"index",
"message": {"role": "assistant", "content"}}...]}}`; an Anthropic answer is sent as one choice
whose content is its text blocks joined by newlines, a Responses API answer as one choice per
output message. Request texts include the Responses API `instructions`/`input` and legacy `prompt`.
The reply's `action` is pass (`{}` / `{reason}`), mask (`{body: {messages|choices: [...]},
reason?}`: the new texts) or reject (`{body: "text", status_code: N, reason?}`). A webhook that
cannot be reached or answers badly fails closed (503) unless `failureMode: failOpen`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from gateway.config.model_guard import WebhookGuard
from gateway.errors import GatewayError, GuardRejected
from gateway.policies.base import Exchange
from gateway.policies.guard_engine import Detections

TIMEOUT = aiohttp.ClientTimeout(total=10)
_TEXT_TYPES = ("text", "input_text", "output_text")  # chat/messages blocks, Responses API parts


class WebhookFailed(GatewayError):
    status = 503
    reason = "Guardrail"
    code = "guardrail_webhook_failed"


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") in _TEXT_TYPES
                 and isinstance(b.get("text"), str)]
        return "\n".join(parts) if parts else None
    return None


# Where a text lives: (the dict or list holding it, its key or index).
Place = tuple[Any, Any]


def _inputs(body: dict[str, Any]) -> list[tuple[Place, dict[str, str]]]:
    """Responses API `instructions`/`input` and legacy `prompt` texts, as webhook messages."""
    out: list[tuple[Place, dict[str, str]]] = []
    if isinstance(body.get("instructions"), str):
        out.append(((body, "instructions"), {"role": "system", "content": body["instructions"]}))
    for key in ("input", "prompt"):
        value = body.get(key)
        if isinstance(value, str):
            out.append(((body, key), {"role": "user", "content": value}))
        for i, item in enumerate(value if isinstance(value, list) else ()):
            if isinstance(item, str):
                out.append(((value, i), {"role": "user", "content": item}))
            elif isinstance(item, dict) and isinstance(item.get("role"), str):
                text = _text(item.get("content"))
                if text is not None:
                    out.append(((item, "content"), {"role": item["role"], "content": text}))
    return out


def _messages(body: dict[str, Any]) -> list[tuple[Place, dict[str, str]]]:
    """(where it lives, webhook message) for every message with text, Anthropic `system` first."""
    out: list[tuple[Place, dict[str, str]]] = []
    system = _text(body.get("system"))
    if system is not None:
        out.append(((body, "system"), {"role": "system", "content": system}))
    for msg in body.get("messages") or ():
        if isinstance(msg, dict) and isinstance(msg.get("role"), str):
            text = _text(msg.get("content"))
            if text is not None:
                out.append(((msg, "content"), {"role": msg["role"], "content": text}))
    return out + _inputs(body)


def _write_back(holder: Any, key: Any, new: str) -> None:
    """Replace a text: a string stays a string; text blocks become one block where the first was."""
    value = holder[key]
    if isinstance(value, str):
        holder[key] = new
        return
    blocks: list[Any] = []
    placed = False
    for b in value if isinstance(value, list) else ():
        if isinstance(b, dict) and b.get("type") in _TEXT_TYPES:
            if not placed:
                blocks.append({**b, "text": new})
                placed = True
            continue
        blocks.append(b)
    holder[key] = blocks


def _headers(guard: WebhookGuard, ex: Exchange) -> dict[str, str]:
    out: dict[str, str] = {}
    # Only the client headers named in forwardHeaderMatches: never its credentials by default.
    for match in guard.forward:
        raw = ex.req.header(match.name.encode("latin-1"))
        value = raw.decode("latin-1") if raw is not None else None
        if value is not None and (match.exact is None or value == match.exact) and (
                match.regex is None or match.regex.fullmatch(value)):
            out[match.name] = value
    for name, expr in guard.headers:
        value = expr.evaluate(ex)
        if value is not None:
            out[name] = str(value)
    out["content-type"] = "application/json"
    return out


async def _call(guard: WebhookGuard, ex: Exchange, payload: bytes) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.post(
            f"http://{guard.host}{guard.path}", data=payload, headers=_headers(guard, ex)) as resp:
        if resp.status != 200:
            raise WebhookFailed(f"guardrail webhook answered {resp.status}")
        reply = orjson.loads(await resp.read())
    action = reply.get("action") if isinstance(reply, dict) else None
    if not isinstance(action, dict):
        raise WebhookFailed("guardrail webhook reply has no action")
    return action


async def _verdict(guard: WebhookGuard, ex: Exchange, payload: dict[str, Any], key: str,
                   found: Detections) -> list[Any] | None:
    """The webhook's replacement list under `key` (mask), None (pass); raises on reject/failure."""
    try:
        action = await _call(guard, ex, orjson.dumps({"body": payload}))
    except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError, WebhookFailed) as e:
        if guard.fail_open:
            found.failed_open = True
            return None
        if isinstance(e, WebhookFailed):
            raise
        raise WebhookFailed("guardrail webhook failed") from e
    verdict = action.get("body")
    if isinstance(verdict, str):
        found.rejected = True
        status = action.get("status_code")
        raise GuardRejected(status if isinstance(status, int) and 100 <= status <= 599 else 403,
                            verdict.encode(), [])
    new = verdict.get(key) if isinstance(verdict, dict) else None
    return new if isinstance(new, list) else None


async def run_webhook(guard: WebhookGuard, ex: Exchange, body: dict[str, Any], found: Detections) -> bool:
    """Apply one webhook guard to a request `body`; True when it masked something."""
    pairs = _messages(body)
    new = await _verdict(guard, ex, {"messages": [w for _, w in pairs]}, "messages", found)
    changed = False
    for (place, sent), reply in zip(pairs, new or (), strict=False):
        text = reply.get("content") if isinstance(reply, dict) else None
        if isinstance(text, str) and text != sent["content"]:
            _write_back(*place, text)
            changed = True
    if changed:
        found.add("webhook", "mask", 1)
    return changed


def _answers(body: dict[str, Any]) -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(holder, key, webhook choice) for every answer text: OpenAI choices, or Anthropic content."""
    out: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    for i, choice in enumerate(body.get("choices") or ()):
        msg = choice.get("message") if isinstance(choice, dict) else None
        text = _text(msg.get("content")) if isinstance(msg, dict) else None
        if isinstance(msg, dict) and text is not None:
            index = choice.get("index", i)
            out.append((msg, "content", {"index": index, "message": {"role": "assistant", "content": text}}))
    text = _text(body.get("content")) if body.get("type") == "message" else None
    if text is not None:
        out.append((body, "content", {"index": 0, "message": {"role": "assistant", "content": text}}))
    for item in body.get("output") or () if body.get("object") == "response" else ():
        text = _text(item.get("content")) if isinstance(item, dict) and item.get("type") == "message" else None
        if isinstance(item, dict) and text is not None:  # Responses API: one choice per output message
            out.append((item, "content", {"index": len(out), "message": {"role": "assistant", "content": text}}))
    return out


async def run_response_webhook(guard: WebhookGuard, ex: Exchange, body: dict[str, Any], found: Detections) -> bool:
    """Apply one webhook guard to a non-streamed answer `body`; True when it masked something."""
    answers = _answers(body)
    if not answers:
        return False
    new = await _verdict(guard, ex, {"choices": [c for _, _, c in answers]}, "choices", found)
    changed = False
    for (holder, key, sent), reply in zip(answers, new or (), strict=False):
        msg = reply.get("message") if isinstance(reply, dict) else None
        text = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(text, str) and text != sent["message"]["content"]:
            _write_back(holder, key, text)
            changed = True
    if changed:
        found.add("webhook", "mask", 1)
    return changed
