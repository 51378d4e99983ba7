"""A Bedrock ConverseStream body (AWS event-stream binary framing) -> Anthropic Messages SSE, incrementally.

`ConverseStreamDecoder.feed(bytes) -> bytes` takes the upstream bytes as they arrive, frames them with
botocore's EventStreamBuffer (CRC-checked; a frame larger than botocore's bound fails the stream rather
than growing memory) and returns the Anthropic SSE events completed so far. Only the frame being read
is buffered. Converse sends usage in a `metadata` event after `messageStop`, so `message_delta` (stop
reason + usage) is held until then; `flush()` emits it if the stream ended without metadata.
"""

from __future__ import annotations

from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from gateway.providers.translate._common import JsonDict, sse_event
from gateway.providers.translate.messages_to_converse import CONVERSE_TO_ANTHROPIC_STOP, new_message_id, usage


class ConverseToAnthropicStream:
    """The event-by-event state machine: one Converse event (type, payload) -> Anthropic SSE bytes."""

    __slots__ = ("_model", "_id", "_started", "_open", "_stop", "_done")

    def __init__(self, model: str | None, message_id: str | None = None) -> None:
        self._model = model or ""
        self._id = message_id or new_message_id()
        self._started = False
        self._open: int | None = None  # index of the open content block
        self._stop: str | None = None
        self._done = False

    def event(self, kind: str, data: JsonDict) -> bytes:
        out = [] if self._started or kind in ("metadata",) else [self._message_start()]
        if kind == "contentBlockStart":
            out.append(self._block_start(data))
        elif kind == "contentBlockDelta":
            out.append(self._block_delta(data))
        elif kind == "contentBlockStop":
            out.append(self._close_block())
        elif kind == "messageStop":
            out.append(self._close_block())
            self._stop = CONVERSE_TO_ANTHROPIC_STOP.get(str(data.get("stopReason")), "end_turn")
        elif kind == "metadata":
            out.append(self._finish(data.get("usage")))
        return b"".join(out)

    def error(self, kind: str, message: str) -> bytes:
        self._done = True
        err_type = "overloaded_error" if "throttl" in kind.lower() else "api_error"
        return sse_event("error", {"type": "error", "error": {"type": err_type, "message": message}})

    def finish(self) -> bytes:
        if self._done or not self._started:
            return b""
        return self._close_block() + self._finish(None)

    def _message_start(self) -> bytes:
        self._started = True
        message: JsonDict = {"id": self._id, "type": "message", "role": "assistant", "model": self._model,
                             "content": [], "stop_reason": None, "stop_sequence": None,
                             "usage": {"input_tokens": 0, "output_tokens": 0}}
        return sse_event("message_start", {"type": "message_start", "message": message})

    def _block_start(self, data: JsonDict) -> bytes:
        index = int(data.get("contentBlockIndex") or 0)
        start = data.get("start") if isinstance(data.get("start"), dict) else {}
        use = start.get("toolUse") if isinstance(start, dict) else None
        block: JsonDict
        if isinstance(use, dict):
            block = {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"), "input": {}}
        else:
            block = {"type": "text", "text": ""}
        return self._close_block() + self._open_block(index, block)

    def _open_block(self, index: int, block: JsonDict) -> bytes:
        self._open = index
        return sse_event("content_block_start", {"type": "content_block_start", "index": index,
                                                 "content_block": block})

    def _block_delta(self, data: JsonDict) -> bytes:
        index = int(data.get("contentBlockIndex") or 0)
        delta = data.get("delta") if isinstance(data.get("delta"), dict) else {}
        assert isinstance(delta, dict)
        out = b""
        reasoning = delta.get("reasoningContent")
        if "text" in delta:
            anth: JsonDict = {"type": "text_delta", "text": delta["text"]}
            first: JsonDict = {"type": "text", "text": ""}
        elif isinstance(delta.get("toolUse"), dict):
            anth = {"type": "input_json_delta", "partial_json": delta["toolUse"].get("input", "")}
            first = {"type": "tool_use", "id": "", "name": "", "input": {}}
        elif isinstance(reasoning, dict) and "signature" in reasoning:
            anth = {"type": "signature_delta", "signature": reasoning["signature"]}
            first = {"type": "thinking", "thinking": "", "signature": ""}
        elif isinstance(reasoning, dict):
            anth = {"type": "thinking_delta", "thinking": reasoning.get("text", "")}
            first = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            return b""
        if self._open != index:  # Converse opens text and reasoning blocks implicitly, with their first delta
            out = self._close_block() + self._open_block(index, first)
        return out + sse_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": anth})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        return sse_event("content_block_stop", {"type": "content_block_stop", "index": index})

    def _finish(self, raw_usage: Any) -> bytes:
        if self._done:
            return b""
        self._done = True
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop or "end_turn", "stop_sequence": None},
                 "usage": usage(raw_usage)}
        return sse_event("message_delta", delta) + sse_event("message_stop", {"type": "message_stop"})


class ConverseStreamDecoder:
    """AWS event-stream bytes in, Anthropic SSE bytes out (a response BodyFilter: feed/flush)."""

    __slots__ = ("_buffer", "_stream", "failed")

    def __init__(self, model: str | None, message_id: str | None = None) -> None:
        self._buffer = EventStreamBuffer()
        self._stream = ConverseToAnthropicStream(model, message_id)
        self.failed = False

    def feed(self, chunk: bytes) -> bytes:
        if self.failed:
            return b""
        self._buffer.add_data(chunk)
        out = []
        try:
            for message in self._buffer:
                out.append(self._message(message))
        except ParserError as exc:  # a corrupt frame: nothing after it can be trusted
            self.failed = True
            out.append(self._stream.error("api_error", f"malformed event stream from upstream ({type(exc).__name__})"))
        return b"".join(out)

    def flush(self) -> bytes:
        return self._stream.finish()

    def _message(self, message: EventStreamMessage) -> bytes:
        headers = message.headers
        kind = str(headers.get(":event-type") or headers.get(":exception-type") or "")
        try:
            payload = orjson.loads(message.payload) if message.payload else {}
        except orjson.JSONDecodeError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if headers.get(":message-type") != "event":
            text = payload.get("message") or payload.get("Message") or kind or "upstream error"
            return self._stream.error(kind, str(text))
        return self._stream.event(kind, payload)
