"""Streamed tool-call arguments (scope toolInput) and custom patterns split across chunks."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from gateway.config.model_guard import RegexGuard
from gateway.fastpath import PII_ALL, SseParser
from gateway.policies.guard_engine import CUSTOM_CAP, MAX_HOLD, Detections, StreamText, pattern_hold
from gateway.policies.guard_sse import GuardFilter, guard_answer

ARGS = '{"city": "Paris", "ssn": "123-45-6789", "card": "4111 1111 1111 1111"}'
MASKED_ARGS = '{"city": "Paris", "ssn": "<SSN>", "card": "<CREDIT_CARD>"}'
TOOLS = (RegexGuard(kinds=PII_ALL, scope=("messages", "toolInput")),)
TEXT_ONLY = (RegexGuard(kinds=PII_ALL),)


def _sse(obj: dict[str, Any], event: str = "") -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def openai_tool_stream(pieces: list[str]) -> bytes:
    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    first = {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                  "function": {"name": "lookup", "arguments": ""}}]}
    out = [chunk(first)]
    out += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces]
    out += [chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
    return b"".join(out)


def anthropic_tool_stream(pieces: list[str]) -> bytes:
    out = [_sse({"type": "message_start", "message": {"id": "m1", "type": "message", "role": "assistant",
                                                       "content": [], "model": "m"}}, "message_start"),
           _sse({"type": "content_block_start", "index": 0,
                 "content_block": {"type": "tool_use", "id": "t1", "name": "lookup", "input": {}}},
                "content_block_start")]
    out += [_sse({"type": "content_block_delta", "index": 0,
                  "delta": {"type": "input_json_delta", "partial_json": p}}, "content_block_delta") for p in pieces]
    out += [_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse({"type": "message_stop"}, "message_stop")]
    return b"".join(out)


def client_args(body: bytes) -> str:
    """The arguments an SDK accumulates from the stream (every event must stay valid JSON)."""
    parser = SseParser()
    parts: list[str] = []
    for _name, data in parser.feed(body) + parser.flush():
        if data == b"[DONE]":
            continue
        obj = orjson.loads(data)
        for choice in obj.get("choices") or ():
            for call in choice["delta"].get("tool_calls") or ():
                parts.append(call["function"].get("arguments") or "")
        if obj.get("type") == "content_block_delta" and obj["delta"]["type"] == "input_json_delta":
            parts.append(obj["delta"]["partial_json"])
    return "".join(parts)


def run(body: bytes, guards: tuple[RegexGuard, ...], cut: int | None = None) -> bytes:
    f = GuardFilter(guards, Detections())
    chunks = [body] if cut is None else [body[:cut], body[cut:]]
    return b"".join(f.feed(c) for c in chunks) + f.flush()


STREAMS = {"openai": openai_tool_stream, "anthropic": anthropic_tool_stream}


@pytest.mark.parametrize("kind", list(STREAMS))
def test_tool_arguments_split_at_every_point_are_masked(kind: str) -> None:
    for split in range(len(ARGS) + 1):
        out = run(STREAMS[kind]([ARGS[:split], ARGS[split:]]), TOOLS)
        assert client_args(out) == MASKED_ARGS, split
        assert b"6789" not in out and b"4111" not in out, split
        assert orjson.loads(client_args(out))["city"] == "Paris"


@pytest.mark.parametrize("kind", list(STREAMS))
def test_tool_arguments_char_by_char_and_every_byte_boundary(kind: str) -> None:
    body = STREAMS[kind](list(ARGS))
    assert client_args(run(body, TOOLS)) == MASKED_ARGS
    for cut in range(1, len(body), 7):
        assert client_args(run(body, TOOLS, cut)) == MASKED_ARGS, cut


@pytest.mark.parametrize("kind", list(STREAMS))
def test_tool_arguments_untouched_without_tool_input_scope(kind: str) -> None:
    body = STREAMS[kind]([ARGS[:20], ARGS[20:]])
    assert client_args(run(body, TEXT_ONLY)) == ARGS


def test_tool_arguments_released_before_the_finish_chunk() -> None:
    out = run(openai_tool_stream(["{\"n\": \"123-45-", "6789\"}"]), TOOLS)
    parser = SseParser()
    events = [orjson.loads(d) for _, d in parser.feed(out) if d != b"[DONE]"]
    finish = next(i for i, e in enumerate(events) if e["choices"][0]["finish_reason"])
    assert client_args(out) == '{"n": "<SSN>"}'
    assert all("tool_calls" not in e["choices"][0]["delta"] for e in events[finish:])


def test_non_streamed_answer_masks_tool_arguments_only_in_scope() -> None:
    def answer() -> dict[str, Any]:
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "SSN 123-45-6789",
                                                     "tool_calls": [{"id": "c", "type": "function",
                                                                     "function": {"name": "f", "arguments": ARGS}}]}}]}
    obj = answer()
    assert guard_answer(obj, TOOLS, Detections())
    assert obj["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == MASKED_ARGS
    obj = answer()
    guard_answer(obj, TEXT_ONLY, Detections())
    assert obj["choices"][0]["message"]["content"] == "SSN <SSN>"
    assert obj["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == ARGS


# -- custom patterns ---------------------------------------------------------------------------------

def test_pattern_hold_is_the_regex_maximum_width() -> None:
    assert pattern_hold(re.compile(r"secret-[0-9]{4,8}")) == 15
    assert pattern_hold(re.compile(r"a|bcd")) == 3
    assert pattern_hold(re.compile(r"secret-[0-9]+")) == CUSTOM_CAP
    assert pattern_hold(re.compile(r"x{5000}")) == MAX_HOLD


# A 104-character match of space-separated words: longer than the old 64-character window, and
# not one token, so the builtin hold-back does not happen to cover it.
KEY = "KEY" + " AB12" * 20 + " END"
LONG = RegexGuard(patterns=(re.compile(r"KEY(?: [A-Z0-9]{4}){20} END"),))
TEXT = f"before {KEY} after"


def test_bounded_custom_match_split_at_every_point_is_masked() -> None:
    for cut in range(len(TEXT) + 1):
        st = StreamText((LONG,), Detections())
        out = st.push(TEXT[:cut]) + st.push(TEXT[cut:]) + st.flush()
        assert out == "before <masked> after", cut


def test_unbounded_custom_match_split_in_three_is_masked() -> None:
    guard = RegexGuard(patterns=(re.compile(r"ticket-(?:[0-9] )+end"),))
    text = "see ticket-" + "7 " * 75 + "end now"
    for a in range(0, len(text), 9):
        for b in range(a, len(text), 23):
            st = StreamText((guard,), Detections())
            out = st.push(text[:a]) + st.push(text[a:b]) + st.push(text[b:]) + st.flush()
            assert out == "see <masked> now", (a, b)


def test_bounded_pattern_holds_back_only_its_width() -> None:
    guard = RegexGuard(patterns=(re.compile(r"secret-[0-9]{4}"),))
    st = StreamText((guard,), Detections())
    released = st.push("x " * 100)
    assert len(st.pending) <= 11  # the longest match, not a fixed window
    assert released + st.flush() == "x " * 100


def test_response_scope_tool_input_loads_from_yaml() -> None:
    from gateway.config import load_config_text

    cfg = load_config_text("""
binds:
- port: 3000
  listeners:
  - routes:
    - backends:
      - ai: {name: openai, provider: {openAI: {model: gpt-4o-mini}}}
      policies:
        ai:
          promptGuard:
            response:
            - regex: {rules: [{builtin: ssn}]}
              scope: [toolInput, messages]
""", "config.yaml", {})
    guard = cfg.binds[0].listeners[0].routes[0].policies.ai.prompt_guard  # type: ignore[union-attr]
    assert guard is not None and guard.response[0].scope == ("messages", "toolInput")
