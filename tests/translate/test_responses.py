"""Response, usage and error translation; outputs are checked with both official SDKs' models."""

from __future__ import annotations

from typing import Any

import anthropic.types
import openai.types.chat
import pytest

from gateway.providers.translate import completions_to_messages as c2m
from gateway.providers.translate import messages_to_completions as m2c


def _anthropic_msg(content: list[dict[str, Any]], stop: str, **usage: int) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5, **usage}}


def _openai_completion(message: dict[str, Any], finish: str, usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-x",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": usage}


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("max_tokens", "length"),
                                              ("tool_use", "tool_calls"), ("stop_sequence", "stop"),
                                              ("refusal", "content_filter"), ("pause_turn", "stop")])
def test_anthropic_stop_reason_maps_to_finish_reason(stop: str, finish: str) -> None:
    out = c2m.translate_response(_anthropic_msg([{"type": "text", "text": "x"}], stop))
    assert out["choices"][0]["finish_reason"] == finish
    openai.types.chat.ChatCompletion.model_validate(out)


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"),
                                              ("tool_calls", "tool_use"), ("content_filter", "refusal"),
                                              ("function_call", "tool_use")])
def test_openai_finish_reason_maps_to_stop_reason(finish: str, stop: str) -> None:
    out = m2c.translate_response(_openai_completion({"content": "x"}, finish, {"prompt_tokens": 3}))
    assert out["stop_reason"] == stop
    anthropic.types.Message.model_validate(out)


def test_parallel_tool_use_becomes_tool_calls_with_json_string_arguments() -> None:
    out = c2m.translate_response(_anthropic_msg([
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "t2", "name": "get_weather", "input": {}}], "tool_use"))
    message = openai.types.chat.ChatCompletion.model_validate(out).choices[0].message
    assert message.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("t1", "get_weather", "{\"city\":\"Paris\"}"), ("t2", "get_weather", "{}")]


def test_openai_tool_calls_become_tool_use_blocks() -> None:
    out = m2c.translate_response(_openai_completion({"content": "Let me check.", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}},
        {"id": "c2", "type": "function", "function": {"name": "g", "arguments": ""}}]}, "tool_calls", {}))
    msg = anthropic.types.Message.model_validate(out)
    assert [b.type for b in msg.content] == ["text", "tool_use", "tool_use"]
    assert [(b.id, b.name, b.input) for b in msg.content if isinstance(b, anthropic.types.ToolUseBlock)] == [
        ("c1", "f", {"a": 1}), ("c2", "g", {})]


def test_anthropic_usage_with_cache_tokens_is_counted_in_prompt_tokens() -> None:
    out = c2m.translate_response(_anthropic_msg([], "end_turn", cache_read_input_tokens=100,
                                                cache_creation_input_tokens=30))
    usage = openai.types.chat.ChatCompletion.model_validate(out).usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (140, 5, 145)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 100


def test_openai_usage_with_cached_tokens_is_split_out_of_input_tokens() -> None:
    out = m2c.translate_response(_openai_completion({"content": "x"}, "stop", {
        "prompt_tokens": 1200, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 1000}}))
    usage = anthropic.types.Message.model_validate(out).usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (200, 1000, 7)
    assert usage.cache_creation_input_tokens is None


def test_usage_round_trip_keeps_the_total_prompt() -> None:
    anth = {"input_tokens": 50, "output_tokens": 9, "cache_read_input_tokens": 400, "cache_creation_input_tokens": 20}
    assert m2c.translate_usage(c2m.translate_usage(anth)) == anth


def test_thinking_becomes_reasoning_content_and_refusal_becomes_text() -> None:
    out = c2m.translate_response(_anthropic_msg([{"type": "thinking", "thinking": "hmm", "signature": "s"},
                                                 {"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
                                                "end_turn"))
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "AB", "reasoning_content": "hmm"}
    refused = m2c.translate_response(_openai_completion({"content": None, "refusal": "I can't."}, "stop", {}))
    assert refused["content"] == [{"type": "text", "text": "I can't."}] and refused["stop_reason"] == "refusal"


@pytest.mark.parametrize(("anthropic_type", "status", "openai_type"), [
    ("rate_limit_error", 429, "rate_limit_error"), ("overloaded_error", 529, "service_unavailable"),
    ("api_error", 500, "server_error"), ("authentication_error", 401, "authentication_error"),
    ("invalid_request_error", 400, "invalid_request_error")])
def test_anthropic_error_becomes_openai_error(anthropic_type: str, status: int, openai_type: str) -> None:
    body = b'{"type":"error","error":{"type":"%s","message":"slow down"}}' % anthropic_type.encode()
    assert c2m.translate_error(body, status) == {
        "error": {"message": "slow down", "type": openai_type, "param": None, "code": None}}


@pytest.mark.parametrize(("openai_type", "status", "anthropic_type"), [
    ("rate_limit_error", 429, "rate_limit_error"), ("insufficient_quota", 429, "rate_limit_error"),
    ("server_error", 500, "api_error"), ("invalid_request_error", 400, "invalid_request_error")])
def test_openai_error_becomes_anthropic_error(openai_type: str, status: int, anthropic_type: str) -> None:
    body = {"error": {"message": "nope", "type": openai_type, "param": None, "code": None}}
    assert m2c.translate_error(body, status) == {"type": "error", "error": {"type": anthropic_type, "message": "nope"}}


def test_non_json_error_bodies_keep_their_text_and_use_the_status() -> None:
    assert c2m.translate_error(b"<html>Bad Gateway</html>", 502)["error"]["type"] == "server_error"
    assert m2c.translate_error(b"upstream overloaded", 503) == {
        "type": "error", "error": {"type": "overloaded_error", "message": "upstream overloaded"}}
    assert m2c.translate_error(b"", 404)["error"] == {
        "type": "not_found_error", "message": "upstream returned HTTP 404"}
