"""Test helpers: run a translator over SSE bytes and reduce a stream to what a client ends up with."""

from __future__ import annotations

import json
from typing import Any

from gateway.fastpath import SseParser
from gateway.providers.translate.sse_filter import SseTranslateFilter


def run_filter(flt: SseTranslateFilter, pieces: list[bytes]) -> bytes:
    return b"".join(flt.feed(p) for p in pieces) + flt.flush()


def sse_events(raw: bytes) -> list[tuple[str, str]]:
    parser = SseParser()
    return [(n.decode(), d.decode()) for n, d in parser.feed(raw) + parser.flush()]


def anthropic_events(raw: bytes) -> list[tuple[str, Any]]:
    return [(name, json.loads(data)) for name, data in sse_events(raw)]


def openai_chunks(raw: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The JSON chunks of an OpenAI stream, and whether it ended with [DONE]."""
    chunks, done = [], False
    for _, data in sse_events(raw):
        if data == "[DONE]":
            done = True
        else:
            chunks.append(json.loads(data))
    return chunks, done


def assemble_openai(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """What a client rebuilds from chunks: text pieces, reasoning pieces, tool calls, finish reason, usage."""
    out: dict[str, Any] = {"content": [], "reasoning": [], "tool_calls": {}, "finish_reason": None, "usage": None}
    for chunk in chunks:
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out["content"].append(delta["content"])
            if delta.get("reasoning_content"):
                out["reasoning"].append(delta["reasoning_content"])
            for call in delta.get("tool_calls") or []:
                slot = out["tool_calls"].setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                fn = call.get("function") or {}
                slot["name"] = fn.get("name") or slot["name"]
                slot["arguments"] += fn.get("arguments") or ""
            if choice.get("finish_reason"):
                out["finish_reason"] = choice["finish_reason"]
    return out
