"""Response guards on the fly: a BodyFilter for streamed (SSE) and buffered LLM responses.

Streams are re-framed event by event: text deltas (OpenAI `choices[].delta.content`, Anthropic
`text_delta`) and, for guards whose `scope` has toolInput, tool-call argument deltas (OpenAI
`delta.tool_calls[].function.arguments`, Anthropic `input_json_delta.partial_json`) go through a
`StreamText` per choice/block/tool call, which holds back only the tail that could still be the
start of an entity, so an entity split over chunks or events is still masked while the client
keeps getting tokens. Held text is released in a synthetic delta event of the same shape just
before the next event that is not a delta of that stream (finish chunk, content_block_stop,
[DONE]...), so the official SDKs accumulate the same final text and arguments.
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
# StreamText keys: (kind, choice or block index, tool-call index). Kinds: OpenAI text / tool
# arguments, Anthropic text / tool input JSON.
_O_TEXT, _O_TOOL, _A_TEXT, _A_JSON = "o", "ot", "a", "aj"
Key = tuple[str, int, int]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _scoped(guards: tuple[RegexGuard, ...], scope: str) -> tuple[RegexGuard, ...]:
    return tuple(g for g in guards if scope in g.scope)


def guard_answer(obj: dict[str, Any], guards: tuple[RegexGuard, ...], found: Detections) -> bool:
    """Apply response guards to a non-streamed answer in place, each on the texts in its scope."""
    def rewrite(text: str, scope: str) -> str:
        scoped = _scoped(guards, scope)
        return apply_guards(text, scoped, found) if scoped else text

    return rewrite_response(obj, rewrite)


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
        self._text_guards = _scoped(guards, "messages")
        self._tool_guards = _scoped(guards, "toolInput")
        self._mode: str | None = None  # "sse" | "json"
        self._buf = bytearray()  # json mode: the whole body
        self._parser = SseParser()
        self._texts: dict[Key, StreamText] = {}
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
        # GuardRejected propagates: the pipeline has not sent anything yet and renders it.
        return orjson.dumps(obj) if guard_answer(obj, self.guards, self.found) else body

    # -- SSE -------------------------------------------------------------------------------------
    def _kill(self, err: GuardRejected) -> bytes:
        self._dead = True
        return _error_frame(err, self._anthropic)

    def _push(self, key: Key, text: str, final: bool = False) -> str:
        st = self._texts.get(key)
        if st is None:
            guards = self._tool_guards if key[0] in (_O_TOOL, _A_JSON) else self._text_guards
            st = self._texts[key] = StreamText(guards, self.found)
        return st.push(text, final)

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
        self._template = obj
        for choice in obj["choices"]:
            if not isinstance(choice, dict):
                continue
            idx = _int(choice.get("index", 0))
            delta = choice.get("delta")
            final = choice.get("finish_reason") is not None
            if isinstance(delta, dict):
                changed |= self._openai_tools(idx, delta)
            if final:
                out += self._release_tools(idx)
            content = delta.get("content") if isinstance(delta, dict) else None
            key = (_O_TEXT, idx, -1)
            if isinstance(content, str) and isinstance(delta, dict) and self._text_guards:
                delta["content"] = self._push(key, content, final)
                changed = True
            elif final and key in self._texts and self._texts[key].pending:
                held = self._texts[key].flush()
                if isinstance(delta, dict):
                    delta["content"] = held
                    changed = True
                else:
                    out += self._synthetic_openai(idx, {"content": held})
        if not obj["choices"]:
            out += self._release_all()
        return out + _frame(event, orjson.dumps(obj) if changed else data)

    def _openai_tools(self, idx: int, delta: dict[str, Any]) -> bool:
        calls = delta.get("tool_calls")
        if not self._tool_guards or not isinstance(calls, list):
            return False
        changed = False
        for call in calls:
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                fn["arguments"] = self._push((_O_TOOL, idx, _int(call.get("index", 0))), fn["arguments"])
                changed = True
        return changed

    def _release_tools(self, idx: int) -> bytes:
        """Held tool-call arguments of choice `idx`, before its finish chunk."""
        out = b""
        for key, st in self._texts.items():
            if key[0] == _O_TOOL and key[1] == idx and st.pending:
                out += self._synthetic_openai(idx, self._tool_delta(key[2], st.flush()))
        return out

    @staticmethod
    def _tool_delta(tool: int, args: str) -> dict[str, Any]:
        return {"tool_calls": [{"index": tool, "function": {"arguments": args}}]}

    def _anthropic_delta(self, event: bytes, data: bytes, obj: dict[str, Any]) -> bytes:
        delta = obj.get("delta")
        idx = _int(obj.get("index", 0))
        kind = delta.get("type") if isinstance(delta, dict) else None
        if kind == "text_delta" and self._text_guards and isinstance(delta, dict) and isinstance(
                delta.get("text"), str):
            delta["text"] = self._push((_A_TEXT, idx, 0), delta["text"])
        elif kind == "input_json_delta" and self._tool_guards and isinstance(delta, dict) and isinstance(
                delta.get("partial_json"), str):
            delta["partial_json"] = self._push((_A_JSON, idx, 0), delta["partial_json"])
        else:
            return _frame(event, data)
        return _frame(event, orjson.dumps(obj))

    def _release_all(self) -> bytes:
        out = b""
        for key, st in self._texts.items():
            if not st.pending:
                continue
            held = st.flush()
            if key[0] in (_A_TEXT, _A_JSON):
                delta = {"type": "text_delta", "text": held} if key[0] == _A_TEXT else {
                    "type": "input_json_delta", "partial_json": held}
                body = {"type": "content_block_delta", "index": key[1], "delta": delta}
                out += _frame(b"content_block_delta", orjson.dumps(body))
            elif key[0] == _O_TOOL:
                out += self._synthetic_openai(key[1], self._tool_delta(key[2], held))
            else:
                out += self._synthetic_openai(key[1], {"content": held})
        return out

    def _synthetic_openai(self, index: int, delta: dict[str, Any]) -> bytes:
        chunk: dict[str, Any] = dict(self._template) if self._template is not None else {
            "object": "chat.completion.chunk"}
        chunk["choices"] = [{"index": index, "delta": delta, "finish_reason": None}]
        chunk.pop("usage", None)
        return _frame(b"", orjson.dumps(chunk))
