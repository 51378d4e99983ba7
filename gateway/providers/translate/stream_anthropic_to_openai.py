"""Anthropic messages SSE events -> OpenAI `chat.completion.chunk` SSE, one event at a time.

`AnthropicToOpenAIStream` is a small state machine: it keeps the message id/model, the usage seen so
far, and which content block is which tool call; it never holds text back. Output order:
a role chunk (from `message_start`), content / `reasoning_content` / tool-call deltas as they arrive,
a finish chunk (from `message_delta`), a usage chunk with `choices: []` when the client asked for
`stream_options.include_usage`, then `data: [DONE]` (from `message_stop`).

Usage follows OpenAI's meaning: prompt_tokens includes cache reads and cache writes. Values in
`message_delta.usage` replace those from `message_start` (Anthropic sends cumulative counts there).
An upstream `error` event becomes `data: {"error": {...}}` (what OpenAI sends, and what the openai SDK
raises on); a stream cut off before `message_stop` ends without `[DONE]`, so the client can tell.
Not translated: `signature_delta`, `citations_delta` and server-tool blocks (no OpenAI equivalent).
"""

from __future__ import annotations

import time
from typing import Any

from gateway.providers.translate._common import (
    ANTHROPIC_TO_OPENAI_ERROR,
    ANTHROPIC_TO_OPENAI_FINISH,
    SSE_DONE,
    JsonDict,
    sse_data,
)
from gateway.providers.translate.completions_to_messages import translate_usage

_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class AnthropicToOpenAIStream:
    """Translate one Anthropic stream; `event(name, data)` returns the OpenAI SSE bytes to send now."""

    __slots__ = ("_include_usage", "_created", "_id", "_model", "_usage", "_tools", "_args_sent", "_finished",
                 "_done")

    def __init__(self, include_usage: bool = False, created: int | None = None) -> None:
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._id = ""
        self._model = ""
        self._usage: JsonDict = {}
        self._tools: dict[int, int] = {}  # Anthropic block index -> OpenAI tool_calls index
        self._args_sent: set[int] = set()
        self._finished = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def event(self, name: str, data: JsonDict) -> bytes:
        if self._done:
            return b""
        kind = data.get("type") or name
        handler = _HANDLERS.get(kind)
        return handler(self, data) if handler else b""

    def openai_done(self) -> bytes:
        """Anthropic streams have no `[DONE]` marker; accepted for symmetry with the other direction."""
        return b""

    def finish(self) -> bytes:
        """End of the upstream body. Nothing is invented for a truncated stream."""
        return b""

    def _chunk(self, delta: JsonDict, finish_reason: str | None = None) -> bytes:
        chunk: JsonDict = {
            "id": self._id, "object": "chat.completion.chunk", "created": self._created, "model": self._model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self._include_usage:
            chunk["usage"] = None
        return sse_data(chunk)

    def _on_message_start(self, data: JsonDict) -> bytes:
        message = data.get("message") or {}
        self._id = message.get("id") or ""
        self._model = message.get("model") or ""
        self._merge_usage(message.get("usage"))
        return self._chunk({"role": "assistant", "content": ""})

    def _on_block_start(self, data: JsonDict) -> bytes:
        block = data.get("content_block") or {}
        index = _index(data)
        if block.get("type") == "text" and block.get("text"):
            return self._chunk({"content": block["text"]})
        if block.get("type") != "tool_use":
            return b""
        tool_index = len(self._tools)
        self._tools[index] = tool_index
        call = {"index": tool_index, "id": block.get("id"), "type": "function",
                "function": {"name": block.get("name"), "arguments": ""}}
        return self._chunk({"tool_calls": [call]})

    def _on_block_delta(self, data: JsonDict) -> bytes:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return self._chunk({"content": delta["text"]})
        if kind == "thinking_delta" and delta.get("thinking"):
            return self._chunk({"reasoning_content": delta["thinking"]})
        if kind == "input_json_delta" and delta.get("partial_json"):
            return self._arguments(_index(data), delta["partial_json"])
        return b""

    def _on_block_stop(self, data: JsonDict) -> bytes:
        index = _index(data)
        # A tool called with no arguments still needs valid JSON arguments on the client side.
        if index in self._tools and index not in self._args_sent:
            return self._arguments(index, "{}")
        return b""

    def _arguments(self, index: int, text: str) -> bytes:
        tool_index = self._tools.get(index)
        if tool_index is None:
            return b""
        self._args_sent.add(index)
        return self._chunk({"tool_calls": [{"index": tool_index, "function": {"arguments": text}}]})

    def _on_message_delta(self, data: JsonDict) -> bytes:
        self._merge_usage(data.get("usage"))
        stop = (data.get("delta") or {}).get("stop_reason")
        if self._finished:
            return b""
        self._finished = True
        return self._chunk({}, ANTHROPIC_TO_OPENAI_FINISH.get(stop or "", "stop"))

    def _on_message_stop(self, data: JsonDict) -> bytes:
        out = b"" if self._finished else self._chunk({}, "stop")
        self._finished = True
        if self._include_usage:
            out += sse_data({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                             "model": self._model, "choices": [], "usage": translate_usage(self._usage)})
        self._done = True
        return out + SSE_DONE

    def _on_error(self, data: JsonDict) -> bytes:
        err = data.get("error") or {}
        err_type = ANTHROPIC_TO_OPENAI_ERROR.get(err.get("type") or "", "server_error")
        self._done = True
        return sse_data({"error": {"message": err.get("message") or "upstream stream error", "type": err_type,
                                   "param": None, "code": None}})

    def _merge_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            for key in _USAGE_KEYS:
                if usage.get(key) is not None:
                    self._usage[key] = usage[key]


def _index(data: JsonDict) -> int:
    index = data.get("index")
    return index if isinstance(index, int) else -1


_HANDLERS = {
    "message_start": AnthropicToOpenAIStream._on_message_start,
    "content_block_start": AnthropicToOpenAIStream._on_block_start,
    "content_block_delta": AnthropicToOpenAIStream._on_block_delta,
    "content_block_stop": AnthropicToOpenAIStream._on_block_stop,
    "message_delta": AnthropicToOpenAIStream._on_message_delta,
    "message_stop": AnthropicToOpenAIStream._on_message_stop,
    "error": AnthropicToOpenAIStream._on_error,
}
