"""Small agentgateway vectors restated as literals, so conformance never depends only on ../shared.

Each case is (input, expected) as agentgateway's golden files have it, with our documented
differences (see DIFFERS in test_vectors.py) already applied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.providers.translate import completions_to_messages as c2m
from gateway.providers.translate import messages_to_completions as m2c
from gateway.providers.translate.sse_filter import anthropic_to_openai_filter, openai_to_anthropic_filter
from tests.translate.streams import anthropic_events, assemble_openai, openai_chunks, run_filter

COMPLETIONS_REQUESTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "basic": (
        {"model": "replaceme", "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the name of the LLM provider?"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is the name of the LLM provider?"}]}],
         "system": "You are a helpful assistant.", "model": "replaceme", "max_tokens": 4096},
    ),
    "image-url": (
        {"model": "claude-sonnet-4-20250514", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What's in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/image.png"}}]}]},
        {"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What's in this image?"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/image.png"}}]}],
         "model": "claude-sonnet-4-20250514", "max_tokens": 4096},
    ),
    "reasoning": (
        {"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "medium"},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "model": "gpt-3.5-turbo",
         "max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    ),
    "tool-call (results merged)": (
        {"model": "gpt-3.5-turbo", "messages": [
            {"role": "user", "content": "How is the current weather in Columbus?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "get_weather",
                              "arguments": "{\"format\":\"celsius\",\"location\":\"Columbus, OH\"}"}},
                {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "call_a", "name": "get_weather", "content": "{ \"temperature\": 15 }"},
            {"role": "tool", "tool_call_id": "call_b", "name": "get_time", "content": "{ \"time\": \"12:00\" }"}]},
        {"messages": [
            {"role": "user", "content": [{"type": "text", "text": "How is the current weather in Columbus?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "get_weather",
                 "input": {"format": "celsius", "location": "Columbus, OH"}},
                {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "{ \"temperature\": 15 }"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": "{ \"time\": \"12:00\" }"}]}],
         "model": "gpt-3.5-turbo", "max_tokens": 4096},
    ),
}

MESSAGES_REQUESTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "basic": (
        {"model": "claude-sonnet-4-20250514", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
         "model": "claude-sonnet-4-20250514", "max_completion_tokens": 1024, "stream": False},
    ),
    "metadata": (
        {"model": "m", "max_tokens": 100, "metadata": {"user_id": "u-1", "department": "eng"},
         "messages": [{"role": "user", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
         "model": "m", "max_completion_tokens": 100, "stream": False, "user": "u-1"},
    ),
    "server_tools": (
        {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "Search"}], "tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"name": "get_weather", "description": "Get the weather", "input_schema": {"type": "object"}}]},
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "Search"}]}],
         "model": "m", "max_completion_tokens": 64, "stream": False, "tools": [{"type": "function", "function": {
             "name": "get_weather", "description": "Get the weather", "parameters": {"type": "object"}}}]},
    ),
}


@pytest.mark.parametrize("name", COMPLETIONS_REQUESTS)
def test_completions_request_vector(name: str) -> None:
    body, expected = COMPLETIONS_REQUESTS[name]
    assert c2m.translate_request(body) == expected


@pytest.mark.parametrize("name", MESSAGES_REQUESTS)
def test_messages_request_vector(name: str) -> None:
    body, expected = MESSAGES_REQUESTS[name]
    assert m2c.translate_request(body) == expected


def test_anthropic_tool_response_vector() -> None:
    body = {"id": "msg_1", "type": "message", "model": "claude-opus-4-6", "stop_reason": "tool_use",
            "role": "assistant",
            "content": [{"type": "text", "text": "<thinking>call it</thinking>"},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                         "input": {"location": "San Francisco, CA", "unit": "celsius"}}],
            "usage": {"input_tokens": 558, "cache_creation_input_tokens": 1, "cache_read_input_tokens": 2,
                      "output_tokens": 48, "service_tier": "standard"}}
    assert c2m.translate_response(body, created=7) == {
        "id": "msg_1", "object": "chat.completion", "created": 7, "model": "claude-opus-4-6", "service_tier": "default",
        "usage": {"prompt_tokens": 561, "completion_tokens": 48, "total_tokens": 609,
                  "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
                  "cache_read_input_tokens": 2, "cache_creation_input_tokens": 1},
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "<thinking>call it</thinking>",
            "tool_calls": [{"id": "toolu_1", "type": "function", "function": {
                "name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}}]}}],
    }


def test_openai_cache_write_response_vector() -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-5.6",
            "service_tier": "default",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "cached response"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010,
                      "prompt_tokens_details": {"cached_tokens": 300, "cache_write_tokens": 200}}}
    assert m2c.translate_response(body) == {
        "id": "chatcmpl-1", "type": "message", "role": "assistant", "model": "gpt-5.6",
        "content": [{"type": "text", "text": "cached response"}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 500, "output_tokens": 10, "cache_creation_input_tokens": 200,
                  "cache_read_input_tokens": 300, "service_tier": "standard"},
    }


STREAM_TOOL_EMPTY_ARGS = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_e","type":"message","role":"assistant",'
    b'"model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":15,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_time","input":{}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"input_json_delta","partial_json":""}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},'
    b'"usage":{"input_tokens":15,"output_tokens":8}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_anthropic_stream_tool_without_arguments_vector() -> None:
    chunks, done = openai_chunks(run_filter(anthropic_to_openai_filter(include_usage=True), [STREAM_TOOL_EMPTY_ARGS]))
    assert done
    assert assemble_openai(chunks) == {
        "content": [], "reasoning": [], "finish_reason": "tool_calls",
        "tool_calls": {0: {"id": "toolu_01A", "name": "get_time", "arguments": "{}"}},
        "usage": {"prompt_tokens": 15, "completion_tokens": 8, "total_tokens": 23},
    }


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, Any] | None = None) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    body = {"id": "chatcmpl-t", "object": "chat.completion.chunk", "created": 1, "model": "claude-opus-4-8",
            "choices": choices, "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def test_openai_stream_tool_with_empty_content_vector() -> None:
    raw = b"".join([
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"tool_calls": [{"index": 0, "id": "toolu_e", "type": "function", "function": {"name": "Bash"}}]}),
        _chunk({"content": ""}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"com"}}]}),
        _chunk({"content": ""}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "mand\":\"pwd\"}"}}]}),
        _chunk({"content": None}, "tool_calls"),
        _chunk(None, usage={"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}),
        b"data: [DONE]\n\n",
    ])
    assert anthropic_events(run_filter(openai_to_anthropic_filter(), [raw])) == [
        ("message_start", {"type": "message_start", "message": {
            "id": "chatcmpl-t", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-8",
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_e", "name": "Bash", "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": "{\"com"}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "input_json_delta", "partial_json": "mand\":\"pwd\"}"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                           "usage": {"input_tokens": 12, "output_tokens": 8}}),
        ("message_stop", {"type": "message_stop"}),
    ]
