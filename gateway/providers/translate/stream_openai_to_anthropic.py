"""OpenAI `chat.completion.chunk` SSE -> Anthropic messages SSE events, one chunk at a time.

`OpenAIToAnthropicStream` is a small state machine: it keeps the open content block, the mapping from
OpenAI tool-call index to Anthropic block index, the finish reason and the latest usage; text is never
held back. Output order: `message_start` (on the first chunk, usage zero as the real counts are not
known yet), then per block `content_block_start` / `content_block_delta` (`text_delta` or
`input_json_delta`) / `content_block_stop`, then `message_delta` (stop_reason + usage) and
`message_stop`.

OpenAI sends the finish reason and the usage in different chunks (usage last, with
`stream_options.include_usage`), so `message_delta` is emitted once both are known: when a chunk
carries usage after the finish reason, at `[DONE]`, or at the end of the body, whichever is first.
Usage follows Anthropic's meaning: input_tokens excludes the cached part of prompt_tokens, which is
reported as cache_read_input_tokens. An OpenAI mid-stream `{"error": ...}` becomes an Anthropic
`error` event. Not translated: `reasoning_content` deltas (no signature to make a thinking block),
`logprobs`, choices other than index 0, audio. Empty content deltas open no block.
"""

from __future__ import annotations

from typing import Any

from gateway.providers.translate._common import (
    OPENAI_TO_ANTHROPIC_STOP,
    JsonDict,
    anthropic_error_type_for,
    sse_event,
)
from gateway.providers.translate.messages_to_completions import _OPENAI_TO_ANTHROPIC_ERROR, translate_usage


class OpenAIToAnthropicStream:
    """Translate one OpenAI stream; `event(name, data)` returns the Anthropic SSE bytes to send now."""

    __slots__ = ("_started", "_open", "_open_kind", "_next_index", "_tool_blocks", "_stop", "_usage", "_done")

    def __init__(self) -> None:
        self._started = False
        self._open: int | None = None  # Anthropic index of the block currently open
        self._open_kind = ""
        self._next_index = 0
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool_calls index -> Anthropic block index
        self._stop: str | None = None
        self._usage: JsonDict | None = None
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def event(self, name: str, data: JsonDict) -> bytes:
        if self._done:
            return b""
        if isinstance(data.get("error"), dict):
            return self._error(data["error"])
        out = [self._start(data)]
        if isinstance(data.get("usage"), dict):
            self._usage = data["usage"]
        for choice in data.get("choices") or []:
            if choice.get("index", 0) == 0:
                out.append(self._choice(choice))
        if self._stop is not None and self._usage is not None:
            out.append(self._end())
        return b"".join(out)

    def openai_done(self) -> bytes:
        """The `data: [DONE]` marker: close the message with whatever usage is known."""
        return self.finish()

    def finish(self) -> bytes:
        """End of the upstream body. A stream cut off before any finish reason is left unterminated."""
        if self._done or self._stop is None:
            return b""
        return self._end()

    def _start(self, data: JsonDict) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: JsonDict = {"id": data.get("id") or "", "type": "message", "role": "assistant", "content": [],
                   "model": data.get("model") or "", "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}
        return sse_event("message_start", {"type": "message_start", "message": message})

    def _choice(self, choice: JsonDict) -> bytes:
        delta = choice.get("delta") or {}
        out = []
        text = delta.get("content")
        if isinstance(text, str) and text:
            out.append(self._text(text))
        for call in delta.get("tool_calls") or []:
            out.append(self._tool_call(call))
        if choice.get("finish_reason"):
            out.append(self._close())
            self._stop = OPENAI_TO_ANTHROPIC_STOP.get(choice["finish_reason"], "end_turn")
        return b"".join(out)

    def _text(self, text: str) -> bytes:
        out = b""
        if self._open_kind != "text":
            out = self._open_block({"type": "text", "text": ""}, "text")
        return out + self._delta(self._open, {"type": "text_delta", "text": text})

    def _tool_call(self, call: JsonDict) -> bytes:
        tool_index = call.get("index", 0)
        fn = call.get("function") or {}
        out = b""
        if tool_index not in self._tool_blocks:
            call_id = call.get("id") or f"toolu_{tool_index}"
            block: JsonDict = {"type": "tool_use", "id": call_id, "name": fn.get("name") or "", "input": {}}
            out = self._open_block(block, "tool_use")
            self._tool_blocks[tool_index] = self._open  # type: ignore[assignment]
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            out += self._delta(self._tool_blocks[tool_index], {"type": "input_json_delta", "partial_json": args})
        return out

    def _open_block(self, block: JsonDict, kind: str) -> bytes:
        out = self._close()
        self._open, self._open_kind = self._next_index, kind
        self._next_index += 1
        return out + sse_event("content_block_start",
                               {"type": "content_block_start", "index": self._open, "content_block": block})

    def _delta(self, index: int | None, delta: JsonDict) -> bytes:
        return sse_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open, self._open_kind = self._open, None, ""
        return sse_event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _end(self) -> bytes:
        self._done = True
        usage = translate_usage(self._usage or {})
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop, "stop_sequence": None}, "usage": usage}
        return (self._close() + sse_event("message_delta", delta)
                + sse_event("message_stop", {"type": "message_stop"}))

    def _error(self, err: Any) -> bytes:
        self._done = True
        err_type = _OPENAI_TO_ANTHROPIC_ERROR.get(err.get("type") or "", anthropic_error_type_for(500))
        body = {"type": "error", "error": {"type": err_type, "message": err.get("message") or "upstream stream error"}}
        return sse_event("error", body)
