"""Request translation in both directions: tools, parallel calls, images, stops, limits, sampling."""

from __future__ import annotations

from typing import Any

from gateway.providers.translate import completions_to_messages as c2m
from gateway.providers.translate import messages_to_completions as m2c

WEATHER_FN = {"name": "get_weather", "description": "Weather for a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def _openai(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_tools_become_anthropic_tools_with_input_schema() -> None:
    out = c2m.translate_request(_openai(tools=[{"type": "function", "function": WEATHER_FN}], tool_choice="required"))
    assert out["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                             "input_schema": WEATHER_FN["parameters"]}]
    assert out["tool_choice"] == {"type": "any"}


def test_tool_choice_forms() -> None:
    tools = [{"type": "function", "function": WEATHER_FN}]
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert c2m.translate_request(_openai(tools=tools, tool_choice="auto"))["tool_choice"] == {"type": "auto"}
    assert c2m.translate_request(_openai(tools=tools, tool_choice="none"))["tool_choice"] == {"type": "none"}
    assert c2m.translate_request(_openai(tools=tools, tool_choice=named))["tool_choice"] == {
        "type": "tool", "name": "get_weather"}
    assert c2m.translate_request(_openai(tools=tools, parallel_tool_calls=False))["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}


def test_legacy_functions_used_only_without_tools() -> None:
    out = c2m.translate_request(_openai(functions=[WEATHER_FN], function_call={"name": "get_weather"}))
    assert [t["name"] for t in out["tools"]] == ["get_weather"]
    assert out["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert "tools" not in c2m.translate_request(_openai())


def test_parallel_tool_calls_and_results_round_trip_as_one_turn_each() -> None:
    body = {"model": "m", "messages": [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": "Checking both.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "24C"}]},
        {"role": "user", "content": "thanks"}]}
    msgs = c2m.translate_request(body)["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "user"]
    assert msgs[1]["content"] == [
        {"type": "text", "text": "Checking both."},
        {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "c2", "name": "get_weather", "input": {"city": "Rome"}}]
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
        {"type": "tool_result", "tool_use_id": "c2", "content": [{"type": "text", "text": "24C"}]}]
    # ... and back: tool results come out as `tool` messages right after the assistant's calls.
    back = m2c.translate_request({"model": "m", "max_tokens": 10, "messages": c2m.translate_request(body)["messages"]})
    assert [m["role"] for m in back["messages"]] == ["user", "assistant", "tool", "tool", "user"]
    assert [c["function"]["arguments"] for c in back["messages"][1]["tool_calls"]] == [
        "{\"city\":\"Paris\"}", "{\"city\":\"Rome\"}"]
    assert [m["tool_call_id"] for m in back["messages"][2:4]] == ["c1", "c2"]


def test_tool_results_precede_the_rest_of_an_anthropic_user_turn() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "text", "text": "and also"},
                                     {"type": "tool_result", "tool_use_id": "t1", "content": "done"}]}]}
    msgs = m2c.translate_request(body)["messages"]
    assert msgs[0] == {"role": "assistant", "tool_calls": [
        {"type": "function", "id": "t1", "function": {"name": "f", "arguments": "{}"}}]}
    assert msgs[1] == {"role": "tool", "content": [{"type": "text", "text": "done"}], "tool_call_id": "t1"}
    assert msgs[2] == {"role": "user", "content": [{"type": "text", "text": "and also"}]}


def test_unparsable_tool_arguments_become_an_empty_object() -> None:
    body = {"model": "m", "messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{\"cut"}}]}]}
    assert c2m.translate_request(body)["messages"][0]["content"][0]["input"] == {}


def test_images_both_ways() -> None:
    parts = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AA="}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}}]
    blocks = c2m.translate_request({"model": "m", "messages": [{"role": "user", "content": parts}]})["messages"][0]
    assert blocks["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AA="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]
    back = m2c.translate_request({"model": "m", "max_tokens": 1, "messages": [blocks]})["messages"][0]["content"]
    assert back == [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AA="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]


def test_system_and_developer_messages_are_hoisted_in_order() -> None:
    body = {"model": "m", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}]}]}
    out = c2m.translate_request(body)
    assert out["system"] == "Be brief.\nUse French."
    assert [m["role"] for m in out["messages"]] == ["user"]


def test_anthropic_system_blocks_become_a_leading_system_message() -> None:
    out = m2c.translate_request({"model": "m", "max_tokens": 1, "system": [{"type": "text", "text": "Be brief."}],
                                 "messages": [{"role": "user", "content": "hi"}]})
    assert out["messages"][0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    plain = m2c.translate_request({"model": "m", "max_tokens": 1, "system": "Be brief.", "messages": []})
    assert plain["messages"] == [{"role": "system", "content": "Be brief."}]


def test_limits_stops_sampling_and_unknown_fields() -> None:
    out = c2m.translate_request(_openai(max_completion_tokens=77, max_tokens=5, stop="END", temperature=0.2, top_p=0.5,
                                        n=2, seed=3, logit_bias={"1": 2}, presence_penalty=0.1, user="u", stream=True,
                                        stream_options={"include_usage": True}))
    assert out == {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "model": "claude-x",
                   "max_tokens": 77, "stop_sequences": ["END"], "temperature": 0.2, "top_p": 0.5, "stream": True,
                   "metadata": {"user_id": "u"}}
    assert c2m.translate_request(_openai())["max_tokens"] == 4096
    assert c2m.translate_request(_openai(max_tokens=9))["max_tokens"] == 9


def test_anthropic_streaming_request_asks_for_usage() -> None:
    out = m2c.translate_request({"model": "m", "max_tokens": 3, "stream": True, "stop_sequences": ["x", "y"],
                                 "top_k": 5, "temperature": 0.1, "messages": [{"role": "user", "content": "hi"}]})
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    assert out["stop"] == ["x", "y"] and out["max_completion_tokens"] == 3 and out["temperature"] == 0.1
    assert "top_k" not in out


def test_anthropic_tool_choice_forms() -> None:
    def choice(tc: dict[str, Any]) -> tuple[Any, Any]:
        out = m2c.translate_request({"model": "m", "max_tokens": 1, "messages": [], "tool_choice": tc,
                                     "tools": [{"name": "f", "input_schema": {"type": "object"}}]})
        return out.get("tool_choice"), out.get("parallel_tool_calls")
    assert choice({"type": "auto"}) == ("auto", None)
    assert choice({"type": "any", "disable_parallel_tool_use": True}) == ("required", False)
    assert choice({"type": "tool", "name": "f"}) == ({"type": "function", "function": {"name": "f"}}, None)
    assert choice({"type": "none"}) == ("none", None)


def test_thinking_budget_stays_below_max_tokens() -> None:
    assert c2m.translate_request(_openai(reasoning_effort="high", max_tokens=2000))["thinking"] == {
        "type": "enabled", "budget_tokens": 1999}
    assert "thinking" not in c2m.translate_request(_openai(reasoning_effort="high", max_tokens=1000))
