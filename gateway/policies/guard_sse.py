"""Response guards on the fly: a BodyFilter for streamed (SSE) and buffered LLM responses.

Streams are re-framed event by event: text deltas (OpenAI `choices[].delta.content`, Anthropic
`text_delta`) go through a `StreamText` per choice/block, which holds back only the tail that
could still be the start of an entity, so an entity split over chunks or events is still masked
while the client keeps getting tokens. Held text is released in a synthetic delta event of the
same shape just before the next event that is not a text delta of that stream (finish chunk,
content_block_stop, [DONE]...), so the official SDKs accumulate the same final text.
A `reject` guard that fires mid-stream ends the stream with an error event in the client's format.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.model_guard import RegexGuard
from gateway.errors import GuardRejected
from gateway.fastpath import SseParser
from gateway.policies.guard_body import rewrite_response
from gateway.policies.guard_engine import Detections, StreamText, apply_guards

_DONE = b"[DONE]"


def _frame(event: bytes, data: bytes) -> bytes:
    head = b"event: " + event + b"\n" if event else b""
    return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"


def _error_frame(err: GuardRejected, anthropic: bool) -> bytes:
    message = err.body.decode("utf-8", "replace")
    if anthropic:
        body = {"type": "error", "error": {"type": "permission_error", "message": message}}
        return _frame(b"error", orjson.dumps(body))
    return _frame(b"", orjson.dumps({"error": {"message": message, "type": "permission_error",
                                               "code": "guardrail_rejected"}}))


class GuardFilter:
    """BodyFilter for one response. SSE when the body starts like SSE, else buffered JSON."""

    def __init__(self, guards: tuple[RegexGuard, ...], found: Detections) -> None:
        self.guards = guards
        self.found = found
        self._mode: str | None = None  # "sse" | "json"
        self._buf = bytearray()  # json mode: the whole body
        self._parser = SseParser()
        self._texts: dict[tuple[str, int], StreamText] = {}
        self._template: dict[str, Any] | None = None  # last OpenAI chunk, for synthetic ones
        self._anthropic = False
        self._dead = False  # a reject fired: drop the rest of the stream

    # -- BodyFilter --------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> bytes:
        if self._mode is None:
            head = chunk.lstrip()
            if not head:
                self._buf += chunk
                return b""
            self._mode = "json" if head[:1] in (b"{", b"[") else "sse"
            chunk, self._buf = bytes(self._buf) + chunk, bytearray()
        if self._mode == "json":
            self._buf += chunk
            return b""
        if self._dead:
            return b""
        try:
            return b"".join(self._event(e, d) for e, d in self._parser.feed(chunk))
        except GuardRejected as err:
            return self._kill(err)
        except ValueError:  # an event over the parser's size bound: fail closed, never leak it
            self._dead = True
            return b""

    def flush(self) -> bytes:
        if self._mode == "json":
            return self._json(bytes(self._buf))
        if self._mode is None or self._dead:
            return bytes(self._buf) if self._mode is None else b""
        try:
            out = b"".join(self._event(e, d) for e, d in self._parser.flush())
            return out + self._release_all()
        except GuardRejected as err:
            return self._kill(err)
        except ValueError:
            return b""

    # -- buffered JSON -------------------------------------------------------------------------
    def _json(self, body: bytes) -> bytes:
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(obj, dict):
            return body

        def rewrite(text: str, scope: str) -> str:
            return apply_guards(text, self.guards, self.found) if scope == "messages" else text

        # GuardRejected propagates: the pipeline has not sent anything yet and renders it.
        return orjson.dumps(obj) if rewrite_response(obj, rewrite) else body

    # -- SSE -------------------------------------------------------------------------------------
    def _kill(self, err: GuardRejected) -> bytes:
        self._dead = True
        return _error_frame(err, self._anthropic)

    def _text(self, key: tuple[str, int]) -> StreamText:
        st = self._texts.get(key)
        if st is None:
            st = self._texts[key] = StreamText(self.guards, self.found)
        return st

    def _event(self, event: bytes, data: bytes) -> bytes:
        if self._dead:
            return b""
        if data.strip() == _DONE:
            return self._release_all() + _frame(event, data)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._release_all() + _frame(event, data)
        if not isinstance(obj, dict):
            return self._release_all() + _frame(event, data)
        if isinstance(obj.get("choices"), list):
            return self._openai(event, data, obj)
        if obj.get("type") == "content_block_delta":
            self._anthropic = True
            return self._anthropic_delta(event, data, obj)
        if isinstance(obj.get("type"), str):
            self._anthropic = True
        return self._release_all() + _frame(event, data)

    def _openai(self, event: bytes, data: bytes, obj: dict[str, Any]) -> bytes:
        out = b""
        changed = False
        for choice in obj["choices"]:
            if not isinstance(choice, dict):
                continue
            idx = choice.get("index", 0)
            key = ("o", idx if isinstance(idx, int) else 0)
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            final = choice.get("finish_reason") is not None
            if isinstance(content, str) and isinstance(delta, dict):
                delta["content"] = self._text(key).push(content, final)
                self._template = obj
                changed = True
            elif final and key in self._texts and self._texts[key].pending:
                held = self._texts[key].flush()
                if isinstance(delta, dict):
                    delta["content"] = held
                    changed = True
                else:
                    out += self._synthetic_openai(key[1], held)
        if not obj["choices"]:
            out += self._release_all()
        return out + _frame(event, orjson.dumps(obj) if changed else data)

    def _anthropic_delta(self, event: bytes, data: bytes, obj: dict[str, Any]) -> bytes:
        delta = obj.get("delta")
        idx = obj.get("index", 0)
        if not (isinstance(delta, dict) and delta.get("type") == "text_delta" and isinstance(delta.get("text"), str)):
            return _frame(event, data)
        delta["text"] = self._text(("a", idx if isinstance(idx, int) else 0)).push(delta["text"])
        return _frame(event, orjson.dumps(obj))

    def _release_all(self) -> bytes:
        out = b""
        for key, st in self._texts.items():
            if not st.pending:
                continue
            held = st.flush()
            if key[0] == "a":
                body = {"type": "content_block_delta", "index": key[1], "delta": {"type": "text_delta", "text": held}}
                out += _frame(b"content_block_delta", orjson.dumps(body))
            else:
                out += self._synthetic_openai(key[1], held)
        return out

    def _synthetic_openai(self, index: int, text: str) -> bytes:
        chunk: dict[str, Any] = dict(self._template) if self._template is not None else {
            "object": "chat.completion.chunk"}
        chunk["choices"] = [{"index": index, "delta": {"content": text}, "finish_reason": None}]
        chunk.pop("usage", None)
        return _frame(b"", orjson.dumps(chunk))
