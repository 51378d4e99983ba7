"""Stream translation: event by event, independent of how the upstream bytes are split, and accepted by the
official SDKs (their models for each chunk/event, and their real clients reading the bytes over HTTP)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionChunk

from gateway.providers.translate.sse_filter import anthropic_to_openai_filter, openai_to_anthropic_filter
from gateway.providers.translate.stream_anthropic_to_openai import AnthropicToOpenAIStream
from tests.translate.streams import anthropic_events, assemble_openai, openai_chunks, run_filter


def _anthropic_sse(*events: dict[str, Any], crlf: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    return "".join(f"event: {e['type']}{nl}data: {json.dumps(e)}{nl}{nl}" for e in events).encode()


def _openai_sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


def _delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


ANTHROPIC_EVENTS: list[dict[str, Any]] = [
    {"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant", "model": "claude-x",
                                          "content": [], "stop_reason": None, "stop_sequence": None,
                                          "usage": {"input_tokens": 20, "cache_read_input_tokens": 100,
                                                    "cache_creation_input_tokens": 0, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    _delta(0, type="thinking_delta", thinking="Two cities, "),
    _delta(0, type="signature_delta", signature="sig"),
    {"type": "content_block_stop", "index": 0},
    {"type": "ping"},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    _delta(1, type="text_delta", text="Checking the weather in Zürich "),
    _delta(1, type="text_delta", text="and 東京 ☀️"),
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2,
     "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
    _delta(2, type="input_json_delta", partial_json="{\"city\": \"Zür"),
    _delta(2, type="input_json_delta", partial_json="ich\"}"),
    {"type": "content_block_stop", "index": 2},
    {"type": "content_block_start", "index": 3,
     "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}},
    _delta(3, type="input_json_delta", partial_json="{\"city\": \"東京\"}"),
    {"type": "content_block_stop", "index": 3},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 42}},
    {"type": "message_stop"},
]


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 5, "model": "gpt-x",
            "choices": choices, "usage": usage}


def _tc(index: int, id_: str | None = None, name: str | None = None, args: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if id_:
        call.update(id=id_, type="function")
        call["function"]["name"] = name
    return call


OPENAI_CHUNKS: list[dict[str, Any]] = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Checking Zürich "}),
    _chunk({"content": "and 東京 ☀️"}),
    _chunk({"tool_calls": [_tc(0, "call_1", "get_weather")]}),
    _chunk({"tool_calls": [_tc(0, args="{\"city\":")]}),
    _chunk({"tool_calls": [_tc(0, args="\"Zürich\"}")]}),
    _chunk({"tool_calls": [_tc(1, "call_2", "get_weather", "{\"city\":\"東京\"}")]}),
    _chunk({}, "tool_calls"),
    _chunk(None, usage={"prompt_tokens": 1300, "completion_tokens": 40, "total_tokens": 1340,
                        "prompt_tokens_details": {"cached_tokens": 1000}}),
]


def _split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40), crlf=st.booleans())
def test_anthropic_to_openai_output_does_not_depend_on_chunk_boundaries(cuts: list[int], crlf: bool) -> None:
    raw = _anthropic_sse(*ANTHROPIC_EVENTS, crlf=crlf)
    whole = run_filter(anthropic_to_openai_filter(include_usage=True, created=1), [raw])
    assert run_filter(anthropic_to_openai_filter(include_usage=True, created=1), _split(raw, cuts)) == whole


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_openai_to_anthropic_output_does_not_depend_on_chunk_boundaries(cuts: list[int]) -> None:
    raw = _openai_sse(*OPENAI_CHUNKS)
    whole = run_filter(openai_to_anthropic_filter(), [raw])
    assert run_filter(openai_to_anthropic_filter(), _split(raw, cuts)) == whole


def test_anthropic_stream_becomes_openai_chunks_the_openai_models_accept() -> None:
    chunks, done = openai_chunks(run_filter(anthropic_to_openai_filter(include_usage=True), [
        _anthropic_sse(*ANTHROPIC_EVENTS)]))
    assert done
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert assemble_openai(chunks) == {
        "content": ["Checking the weather in Zürich ", "and 東京 ☀️"], "reasoning": ["Two cities, "],
        "tool_calls": {0: {"id": "toolu_1", "name": "get_weather", "arguments": "{\"city\": \"Zürich\"}"},
                       1: {"id": "toolu_2", "name": "get_weather", "arguments": "{\"city\": \"東京\"}"}},
        "finish_reason": "tool_calls",
        "usage": {"prompt_tokens": 120, "completion_tokens": 42, "total_tokens": 162,
                  "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 0},
                  "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0}}
    assert chunks[-1]["choices"] == []  # usage travels in its own final chunk, as OpenAI sends it


def test_usage_chunk_only_when_the_client_asked_for_it() -> None:
    chunks, done = openai_chunks(run_filter(anthropic_to_openai_filter(), [_anthropic_sse(*ANTHROPIC_EVENTS)]))
    assert done and all("usage" not in c for c in chunks) and all(c["choices"] for c in chunks)


def test_openai_stream_becomes_anthropic_events_the_anthropic_models_accept() -> None:
    events = anthropic_events(run_filter(openai_to_anthropic_filter(), [_openai_sse(*OPENAI_CHUNKS)]))
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)
    for name, data in events:
        assert adapter.validate_python(data).type == name
    assert [n for n, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert events[-2][1]["usage"] == {"input_tokens": 300, "output_tokens": 40, "cache_read_input_tokens": 1000}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def _transport(body: bytes) -> httpx.MockTransport:
    """An HTTP transport answering every request with `body` as an event stream: the SDKs' own HTTP and
    SSE code reads our bytes, with no network."""
    return httpx.MockTransport(lambda _req: httpx.Response(200, content=body,
                                                          headers={"content-type": "text/event-stream"}))


def test_openai_sdk_client_reads_a_translated_anthropic_stream() -> None:
    body = run_filter(anthropic_to_openai_filter(include_usage=True), [_anthropic_sse(*ANTHROPIC_EVENTS)])
    http = httpx.Client(transport=_transport(body))
    client = openai.OpenAI(api_key="k", base_url="http://gw.test/v1", http_client=http)
    with client.chat.completions.stream(model="claude-x", messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_completion()
    msg = final.choices[0].message
    assert msg.content == "Checking the weather in Zürich and 東京 ☀️"
    assert [(c.id, json.loads(c.function.arguments)) for c in msg.tool_calls or []] == [
        ("toolu_1", {"city": "Zürich"}), ("toolu_2", {"city": "東京"})]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.prompt_tokens == 120


def test_anthropic_sdk_client_reads_a_translated_openai_stream() -> None:
    body = run_filter(openai_to_anthropic_filter(), [_openai_sse(*OPENAI_CHUNKS)])
    http = httpx.Client(transport=_transport(body))
    client = anthropic.Anthropic(api_key="k", base_url="http://gw.test", http_client=http)
    with client.messages.stream(model="gpt-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].type == "text" and final.content[0].text == "Checking Zürich and 東京 ☀️"
    assert [b.input for b in final.content if b.type == "tool_use"] == [{"city": "Zürich"}, {"city": "東京"}]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (300, 1000, 40)


def test_upstream_error_event_reaches_the_openai_client_as_an_error() -> None:
    raw = _anthropic_sse(ANTHROPIC_EVENTS[0], {"type": "error", "error": {"type": "overloaded_error",
                                                                          "message": "Overloaded"}})
    chunks, done = openai_chunks(run_filter(anthropic_to_openai_filter(), [raw]))
    assert not done
    assert chunks[-1] == {"error": {"message": "Overloaded", "type": "service_unavailable", "param": None,
                                    "code": None}}


def test_openai_error_chunk_becomes_an_anthropic_error_event() -> None:
    raw = _openai_sse(OPENAI_CHUNKS[1], {"error": {"message": "boom", "type": "server_error"}})
    events = anthropic_events(run_filter(openai_to_anthropic_filter(), [raw]))
    assert events[-1] == ("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})


def test_truncated_anthropic_stream_gets_no_invented_done() -> None:
    chunks, done = openai_chunks(run_filter(anthropic_to_openai_filter(), [_anthropic_sse(*ANTHROPIC_EVENTS[:8])]))
    assert not done and all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_openai_stream_without_usage_or_done_still_closes_the_message() -> None:
    raw = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in OPENAI_CHUNKS[:8])
    events = anthropic_events(run_filter(openai_to_anthropic_filter(), [raw]))
    assert [n for n, _ in events][-2:] == ["message_delta", "message_stop"]
    assert events[-2][1]["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_openai_stream_cut_before_finish_is_left_unterminated() -> None:
    raw = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in OPENAI_CHUNKS[:3])
    assert "message_stop" not in [n for n, _ in anthropic_events(run_filter(openai_to_anthropic_filter(), [raw]))]


def test_malformed_data_lines_are_skipped_and_counted() -> None:
    flt = anthropic_to_openai_filter()
    junk = b"data: {not json\n\ndata: [1]\n\n"
    raw = _anthropic_sse(ANTHROPIC_EVENTS[0]) + junk + _anthropic_sse(*ANTHROPIC_EVENTS[6:8])
    chunks, _ = openai_chunks(run_filter(flt, [raw]))
    assert flt.malformed == 2
    assert assemble_openai(chunks)["content"] == ["Checking the weather in Zürich "]


def test_translator_emits_per_event_without_buffering() -> None:
    stream = AnthropicToOpenAIStream(created=1)
    assert stream.event("message_start", ANTHROPIC_EVENTS[0])
    assert "Zürich".encode() in stream.event("content_block_delta", ANTHROPIC_EVENTS[7])
    assert stream.event("ping", {"type": "ping"}) == b""
