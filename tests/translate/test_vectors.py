"""agentgateway's golden translation vectors, run against our translators.

Every vector must match, except the ones in DIFFERS: those are strict xfails (so a vector that starts
matching is noticed), and RECONCILE says exactly what we produce instead, so the rest of each differing
vector is still checked.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.providers.translate import completions_to_messages as c2m
from gateway.providers.translate import messages_to_completions as m2c
from gateway.providers.translate.sse_filter import anthropic_to_openai_filter, openai_to_anthropic_filter
from tests.translate.streams import anthropic_events, assemble_openai, openai_chunks, run_filter
from tests.translate.vectors import VECTORS, snap_json, split_stream_snap, vector_files, vector_name

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"translation vectors not found at {VECTORS}")

_PROMPT_TOKENS = ("OpenAI's prompt_tokens includes cached prompt tokens; agentgateway reports only Anthropic's "
                  "uncached input_tokens there, so cost and budget maths on prompt_tokens undercount")
_TIER_TO_OPENAI = ("agentgateway passes Anthropic's service_tier 'standard' through, which is not one of OpenAI's "
                   "tiers (the openai SDK's model rejects it); we map standard->default")
_TIER_TO_ANTHROPIC = ("agentgateway passes OpenAI's service_tier 'default' into Anthropic usage, which the anthropic "
                      "SDK's model rejects; we map default->standard")

# key: "<kind>/<vector name>"  ->  why we deliberately differ
DIFFERS: dict[str, str] = {
    "completions-request/tool-call": "consecutive tool messages are merged into ONE user turn of tool_result blocks "
                                     "(Anthropic wants all results of a parallel call in the next user turn); "
                                     "agentgateway emits one user turn per tool message",
    "messages-request/cache_control": "cache_control is dropped: agentgateway's prompt_cache_breakpoint is not part "
                                      "of OpenAI's chat-completions API, and OpenAI caches prompts automatically",
    "messages-request/gpt_adaptive_thinking_with_tools": "thinking: adaptive without an effort leaves the model's "
                                                         "default; agentgateway sends reasoning_effort 'none', turning "
                                                         "off the reasoning the client asked for",
    "anthropic-response/basic": f"{_PROMPT_TOKENS}; {_TIER_TO_OPENAI}",
    "anthropic-response/thinking": f"{_PROMPT_TOKENS}; {_TIER_TO_OPENAI}",
    "anthropic-response/tool": f"{_PROMPT_TOKENS}; {_TIER_TO_OPENAI}",
    "anthropic-response/multiple_text_blocks": _TIER_TO_OPENAI,
    "anthropic-stream/stream_message_delta_usage": _PROMPT_TOKENS,
    "completions-response/audio": _TIER_TO_ANTHROPIC,
    "completions-response/basic": _TIER_TO_ANTHROPIC,
    "completions-response/cache_write": _TIER_TO_ANTHROPIC,
    "completions-response/tool_call": _TIER_TO_ANTHROPIC,
    "completions-response/truncated_tool_call": "a tool call cut off mid-arguments gets input {} (Anthropic's "
                                                "tool_use input must be an object; the anthropic SDK rejects "
                                                "agentgateway's raw string)",
}


def _openai_prompt_includes_cache(expected: Any) -> Any:
    usage = expected["usage"]
    usage["prompt_tokens"] += usage.get("cache_read_input_tokens", 0) + usage.get("cache_creation_input_tokens", 0)
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return expected


def _stream_prompt_includes_cache(expected: Any) -> Any:
    assembled, done = expected
    return _openai_prompt_includes_cache(assembled), done


def _tier(mapping: dict[str, str], where: Callable[[Any], dict[str, Any]]) -> Callable[[Any], Any]:
    def fix(expected: Any) -> Any:
        where(expected)["service_tier"] = mapping[where(expected)["service_tier"]]
        return expected
    return fix


def _both(*fixes: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def fix(expected: Any) -> Any:
        for f in fixes:
            expected = f(expected)
        return expected
    return fix


def _merge_tool_turns(expected: Any) -> Any:
    msgs = expected["messages"]
    msgs[2]["content"] += msgs.pop(3)["content"]
    return expected


def _drop_breakpoints(expected: Any) -> Any:
    for msg in expected["messages"]:
        for part in msg.get("content") or []:
            part.pop("prompt_cache_breakpoint", None)
    return expected


def _drop_effort(expected: Any) -> Any:
    del expected["reasoning_effort"]
    return expected


def _empty_input(expected: Any) -> Any:
    expected["content"][0]["input"] = {}
    return expected


_to_openai_tier = _tier({"standard": "default"}, lambda e: e)
_to_anthropic_tier = _tier({"default": "standard"}, lambda e: e["usage"])

# What we produce instead, as an edit of the vector's expectation.
RECONCILE: dict[str, Callable[[Any], Any]] = {
    "completions-request/tool-call": _merge_tool_turns,
    "messages-request/cache_control": _drop_breakpoints,
    "messages-request/gpt_adaptive_thinking_with_tools": _drop_effort,
    "anthropic-response/basic": _both(_openai_prompt_includes_cache, _to_openai_tier),
    "anthropic-response/thinking": _both(_openai_prompt_includes_cache, _to_openai_tier),
    "anthropic-response/tool": _both(_openai_prompt_includes_cache, _to_openai_tier),
    "anthropic-response/multiple_text_blocks": _to_openai_tier,
    "anthropic-stream/stream_message_delta_usage": _stream_prompt_includes_cache,
    "completions-response/audio": _to_anthropic_tier,
    "completions-response/basic": _to_anthropic_tier,
    "completions-response/cache_write": _to_anthropic_tier,
    "completions-response/tool_call": _to_anthropic_tier,
    "completions-response/truncated_tool_call": _empty_input,
}


def _input(snap: Path, suffix: str) -> Path:
    return snap.parent / f"{vector_name(snap, suffix)}.json"


def _completions_request(snap: Path) -> tuple[Any, Any]:
    body = json.loads(_input(snap, ".anthropic.snap").read_text())
    return c2m.translate_request(body), snap_json(snap)["request"]


def _messages_request(snap: Path) -> tuple[Any, Any]:
    body = json.loads(_input(snap, ".completions.snap").read_text())
    return m2c.translate_request(body), snap_json(snap)["request"]


def _anthropic_response(snap: Path) -> tuple[Any, Any]:
    got = c2m.translate_response(json.loads(_input(snap, ".messages-completions.snap").read_text()))
    got["id"], got["created"] = "[id]", "[date]"
    return got, snap_json(snap)["response"]


def _completions_response(snap: Path) -> tuple[Any, Any]:
    got = m2c.translate_response(json.loads(_input(snap, ".completions-messages.snap").read_text()))
    got["id"] = "[id]"
    return got, snap_json(snap)["response"]


def _anthropic_stream(snap: Path) -> tuple[Any, Any]:
    """Compared as what the client assembles: our chunk framing deliberately follows OpenAI (a role chunk
    first, usage in its own chunk), agentgateway's does not, so frames are not compared one to one."""
    raw = _input(snap, ".messages-completions-streaming.snap").read_bytes()
    ours, done = openai_chunks(run_filter(anthropic_to_openai_filter(include_usage=True), [raw]))
    theirs, their_done = openai_chunks(split_stream_snap(snap)[0].encode())
    return (assemble_openai(ours), done), (assemble_openai(theirs), their_done)


def _completions_stream(snap: Path) -> tuple[Any, Any]:
    raw = _input(snap, ".completions-messages-streaming.snap").read_bytes()
    ours = anthropic_events(run_filter(openai_to_anthropic_filter(), [raw]))
    return ours, anthropic_events(split_stream_snap(snap)[0].encode())


_KINDS: list[tuple[str, str, str, Callable[[Path], tuple[Any, Any]]]] = [
    ("completions-request", "requests/completions", ".anthropic.snap", _completions_request),
    ("messages-request", "requests/messages", ".completions.snap", _messages_request),
    ("anthropic-response", "response/anthropic", ".messages-completions.snap", _anthropic_response),
    ("anthropic-stream", "response/anthropic", ".messages-completions-streaming.snap", _anthropic_stream),
    ("completions-response", "response/completions", ".completions-messages.snap", _completions_response),
    ("completions-stream", "response/completions", ".completions-messages-streaming.snap", _completions_stream),
]
CASES = [(f"{kind}/{vector_name(p, suffix)}", p, run)
         for kind, sub, suffix, run in _KINDS for p in vector_files(sub, suffix)]


def _params(differing: bool) -> list[Any]:
    out = []
    for key, path, run in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=DIFFERS[key])] if key in DIFFERS and not differing else []
        if not differing or key in DIFFERS:
            out.append(pytest.param(path, run, id=key, marks=marks))
    return out


@pytest.mark.parametrize(("snap", "run"), _params(differing=False))
def test_vector_matches_agentgateway(snap: Path, run: Callable[[Path], tuple[Any, Any]]) -> None:
    got, expected = run(snap)
    assert got == expected


@pytest.mark.parametrize(("snap", "run"), _params(differing=True))
def test_differing_vector_differs_only_as_documented(request: pytest.FixtureRequest, snap: Path,
                                                     run: Callable[[Path], tuple[Any, Any]]) -> None:
    key = request.node.callspec.id
    got, expected = run(snap)
    assert got == RECONCILE[key](copy.deepcopy(expected))


def test_every_documented_difference_names_a_real_vector() -> None:
    keys = {key for key, _, _ in CASES}
    assert set(DIFFERS) <= keys
    assert set(RECONCILE) == set(DIFFERS)
    assert len(CASES) >= 30  # the vector set was found and read, not silently empty
