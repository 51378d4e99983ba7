"""agentgateway's Bedrock golden vectors: our Converse translation against its snapshots.

Request vectors (requests/{completions,messages}/*.bedrock.snap) must match except those in DIFFERS,
which are strict xfails (a vector that starts matching fails the run until DIFFERS is updated).
One normalization applies to all: agentgateway serializes absent optional fields as `null`
("status": null, "description": null); we omit them, which the Converse API treats the same.
The real ConverseStream captures (response/detect/bedrock-*.bin) drive the event-stream decoder.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.fastpath import FORMAT_ANTHROPIC, SseParser, UsageAccumulator
from gateway.providers.translate import completions_to_converse, messages_to_converse
from gateway.providers.translate.stream_converse_to_anthropic import ConverseStreamDecoder
from tests.translate.vectors import VECTORS, snap_json, vector_files, vector_name

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason=f"translation vectors not found at {VECTORS}")

DIFFERS: dict[str, str] = {
    "completions/full": "agentgateway's snapshot spells the tool choice `tool_choice`; the Converse API field "
                        "is `toolChoice` (Bedrock rejects unknown keys), so we send `toolChoice`",
    "completions/reasoning_replay": "an OpenAI assistant message's `reasoning_content`/`reasoning_signature` "
                                    "is not replayed as a reasoning block (our OpenAI->Messages translator "
                                    "does not carry it yet); the text of the turn is sent",
}
_MODULES = {"completions": completions_to_converse, "messages": messages_to_converse}


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _cases() -> list[Any]:
    cases = []
    for sub in _MODULES:
        for snap in vector_files(f"requests/{sub}", ".bedrock.snap"):
            key = f"{sub}/{vector_name(snap, '.bedrock.snap')}"
            marks = [pytest.mark.xfail(strict=True, reason=DIFFERS[key])] if key in DIFFERS else []
            cases.append(pytest.param(sub, snap, id=key, marks=marks))
    return cases


@pytest.mark.parametrize(("sub", "snap"), _cases())
def test_request_vector(sub: str, snap: Path) -> None:
    source = json.loads((snap.parent / f"{vector_name(snap, '.bedrock.snap')}.json").read_text())
    expected = _drop_nulls(snap_json(snap)["request"])
    assert _MODULES[sub].translate_request(source) == expected


def test_every_difference_names_a_vector() -> None:
    keys = {f"{sub}/{vector_name(p, '.bedrock.snap')}" for sub in _MODULES
            for p in vector_files(f"requests/{sub}", ".bedrock.snap")}
    assert set(DIFFERS) <= keys


def _capture(name: str) -> bytes:
    text = (VECTORS / "response" / "detect" / f"{name}.bedrock-detect-streaming.snap").read_text()
    line = next(x for x in text.splitlines() if x.startswith("base64: "))
    return base64.b64decode(line.removeprefix("base64: "))


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_real_converse_stream_becomes_anthropic_sse(step: int) -> None:
    raw = _capture("bedrock-basic")
    decoder = ConverseStreamDecoder("anthropic.claude-3-haiku")
    out = b"".join(decoder.feed(raw[i:i + step]) for i in range(0, len(raw), step)) + decoder.flush()
    events = SseParser().feed(out)
    names = [name.decode() for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    text = "".join(json.loads(d)["delta"]["text"] for n, d in events if n == b"content_block_delta")
    assert text.startswith("\nOnce upon a time, there was a little boy named Jack")
    usage = UsageAccumulator(FORMAT_ANTHROPIC)
    for _, data in events:
        usage.feed_event(data)
    assert (usage.input_tokens, usage.output_tokens) == (15, 142)  # agentgateway's snapshot numbers
    assert json.loads(events[-2][1])["delta"]["stop_reason"] == "end_turn"


def test_corrupt_converse_stream_ends_with_an_error_event() -> None:
    decoder = ConverseStreamDecoder("m")
    out = decoder.feed(_capture("bedrock-broken")) + decoder.flush()
    events = SseParser().feed(out)
    assert events and events[-1][0] == b"error"
    assert decoder.failed
