"""agentgateway's webhook guard (request side).

POST http://<host>/request with `{"body": {"messages": [{"role", "content"}...]}}`; the reply's
`action` is pass (`{}` / `{reason}`), mask (`{body: {messages: [...]}, reason?}`: the new message
texts) or reject (`{body: "text", status_code: N, reason?}`). A webhook that cannot be reached or
answers badly fails closed (503) unless `failureMode: failOpen`.
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


class WebhookFailed(GatewayError):
    status = 503
    reason = "Guardrail"
    code = "guardrail_webhook_failed"


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"
                 and isinstance(b.get("text"), str)]
        return "\n".join(parts) if parts else None
    return None


def _messages(body: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(original message, webhook message) for every message with text, Anthropic `system` first."""
    out: list[tuple[dict[str, Any], dict[str, str]]] = []
    system = _text(body.get("system"))
    if system is not None:
        out.append((body, {"role": "system", "content": system}))
    for msg in body.get("messages") or ():
        if isinstance(msg, dict) and isinstance(msg.get("role"), str):
            text = _text(msg.get("content"))
            if text is not None:
                out.append((msg, {"role": msg["role"], "content": text}))
    return out


def _write_back(holder: dict[str, Any], key: str, new: str) -> None:
    """Replace a text: a string stays a string; text blocks become one block where the first was."""
    value = holder.get(key)
    if isinstance(value, str):
        holder[key] = new
        return
    blocks: list[Any] = []
    placed = False
    for b in value if isinstance(value, list) else ():
        if isinstance(b, dict) and b.get("type") == "text":
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
            f"http://{guard.host}/request", data=payload, headers=_headers(guard, ex)) as resp:
        if resp.status != 200:
            raise WebhookFailed(f"guardrail webhook answered {resp.status}")
        reply = orjson.loads(await resp.read())
    action = reply.get("action") if isinstance(reply, dict) else None
    if not isinstance(action, dict):
        raise WebhookFailed("guardrail webhook reply has no action")
    return action


async def run_webhook(guard: WebhookGuard, ex: Exchange, body: dict[str, Any], found: Detections) -> bool:
    """Apply one webhook guard to `body`; True when it masked something."""
    pairs = _messages(body)
    payload = orjson.dumps({"body": {"messages": [w for _, w in pairs]}})
    try:
        action = await _call(guard, ex, payload)
    except (aiohttp.ClientError, asyncio.TimeoutError, orjson.JSONDecodeError, WebhookFailed) as e:
        if guard.fail_open:
            found.failed_open = True
            return False
        if isinstance(e, WebhookFailed):
            raise
        raise WebhookFailed("guardrail webhook failed") from e
    verdict = action.get("body")
    if isinstance(verdict, str):
        found.rejected = True
        status = action.get("status_code")
        raise GuardRejected(status if isinstance(status, int) and 100 <= status <= 599 else 403,
                            verdict.encode(), [])
    new = verdict.get("messages") if isinstance(verdict, dict) else None
    if not isinstance(new, list):
        return False  # pass
    changed = False
    for (holder, sent), reply in zip(pairs, new, strict=False):
        text = reply.get("content") if isinstance(reply, dict) else None
        if isinstance(text, str) and text != sent["content"]:
            _write_back(holder, "system" if holder is body else "content", text)
            changed = True
    if changed:
        found.add("webhook", "mask", 1)
    return changed
