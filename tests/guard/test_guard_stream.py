"""Streamed response masking: the BodyFilter on real mock-provider SSE streams, split everywhere."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.model_guard import RegexGuard
from gateway.fastpath import PII_ALL, PII_SSN, SseParser
from gateway.mock import formats
from gateway.policies.guard_engine import Detections, StreamText
from gateway.policies.guard_sse import GuardFilter

TEXT = "Card 4111 1111 1111 1111 then SSN 123-45-6789 and mail a.b@example.com, ok"
MASKED = "Card <CREDIT_CARD> then SSN <SSN> and mail <EMAIL_ADDRESS>, ok"
SECRETS = ("4111", "123-45", "6789", "a.b@", "example.com")
MASK = (RegexGuard(kinds=PII_ALL),)


def stream_bytes(kind: str, pieces: list[str]) -> bytes:
    c = formats.Completion("m", "".join(pieces), 5, 7)
    if kind == "openai":
        events = formats.openai_stream(c, "id1", pieces, include_usage=True)
    else:
        events = formats.anthropic_stream(c, "id1", pieces)
    return b"".join(events)


def client_text(body: bytes) -> tuple[str, list[Any]]:
    """What an SDK accumulates: text deltas in order; every event must be JSON (or [DONE])."""
    parser = SseParser()
    events = parser.feed(body) + parser.flush()
    text, objs = [], []
    for _name, data in events:
        if data == b"[DONE]":
            continue
        obj = orjson.loads(data)
        objs.append(obj)
        if "choices" in obj:
            text += [c["delta"].get("content") or "" for c in obj["choices"]]
        elif obj.get("type") == "content_block_delta":
            text.append(obj["delta"]["text"])
    return "".join(text), objs


def run_filter(chunks: list[bytes], guards: tuple[RegexGuard, ...] = MASK) -> bytes:
    f = GuardFilter(guards, Detections())
    return b"".join(f.feed(c) for c in chunks) + f.flush()


# Word-sized pieces put the card's groups in separate SSE events; 1-char pieces split everything.
PIECINGS = {
    "words": formats.split_text(TEXT, None),
    "chars": list(TEXT),
    "thirds": [TEXT[:12], TEXT[12:40], TEXT[40:]],
}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("piecing", list(PIECINGS))
def test_entity_split_across_events_is_masked(kind: str, piecing: str) -> None:
    body = stream_bytes(kind, PIECINGS[piecing])
    text, objs = client_text(run_filter([body]))
    assert text == MASKED
    if kind == "openai":
        assert objs[-1]["usage"]["completion_tokens"] == 7  # the usage chunk survives
        assert any(o["choices"] and o["choices"][0]["finish_reason"] == "stop" for o in objs)
    else:
        assert [o["type"] for o in objs][-1] == "message_stop"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_every_byte_boundary(kind: str) -> None:
    body = stream_bytes(kind, PIECINGS["words"])
    for cut in range(1, len(body)):
        out = run_filter([body[:cut], body[cut:]])
        text, _ = client_text(out)
        assert text == MASKED, cut
        assert not any(s.encode() in out for s in SECRETS), cut


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_byte_at_a_time(kind: str) -> None:
    body = stream_bytes(kind, PIECINGS["chars"])
    out = run_filter([body[i:i + 1] for i in range(len(body))])
    assert client_text(out)[0] == MASKED


def test_every_text_split_point_of_stream_text() -> None:
    for cut in range(len(TEXT) + 1):
        st = StreamText(MASK, Detections())
        assert st.push(TEXT[:cut]) + st.push(TEXT[cut:]) + st.flush() == MASKED, cut


def test_tokens_flow_promptly() -> None:
    """Plain words are released as soon as the next word starts; only the open tail is held."""
    st = StreamText(MASK, Detections())
    assert st.push("Hello there ") == "Hello there "
    assert st.push("my number is 4111 ") == "my number is "
    assert st.push("1111 1111 1111 and more") == "<CREDIT_CARD> and "
    assert st.flush() == "more"


def test_hold_back_is_bounded() -> None:
    st = StreamText(MASK, Detections())
    out = st.push("x" * 5000)
    assert len(st.pending) <= 1024 and len(out) + len(st.pending) == 5000


def test_reject_mid_stream_ends_with_error_event() -> None:
    guards = (RegexGuard(action="reject", kinds=PII_SSN),)
    body = stream_bytes("anthropic", PIECINGS["words"])
    out = run_filter([body], guards)
    assert b"123-45-6789" not in out
    _, objs = client_text(out)
    assert objs[-1]["type"] == "error" and objs[-1]["error"]["type"] == "permission_error"


def test_detections_counted_without_values() -> None:
    found = Detections()
    f = GuardFilter(MASK, found)
    f.feed(stream_bytes("openai", PIECINGS["words"]))
    f.flush()
    assert found.counts == {("CREDIT_CARD", "mask"): 1, ("SSN", "mask"): 1, ("EMAIL_ADDRESS", "mask"): 1}
    assert found.action() == "Mask"


# -- property: chunking never changes what is masked ---------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gateway.fastpath import mask_pii, scan_pii  # noqa: E402

LABELS = list(MASK[0].labels)
ASCII_PIECES = ["4111", "1111", " ", "-", ".", "123", "45", "6789", "(555)", "234", "5678", "+1", "+44", "20",
                "a", "b.c", "@", "example.com", "x", ",", "!", "\n", "046", "454", "286", "0", "9"]
ascii_texts = st.lists(st.sampled_from(ASCII_PIECES), max_size=30).map("".join)
cuts = st.lists(st.integers(min_value=0, max_value=400), max_size=8)


def chunked(text: str, positions: list[int]) -> str:
    st_ = StreamText(MASK, Detections())
    out, prev = [], 0
    for p in sorted({min(p, len(text)) for p in positions}):
        out.append(st_.push(text[prev:p]))
        prev = p
    out.append(st_.push(text[prev:]))
    return "".join(out) + st_.flush()


@settings(max_examples=1500, deadline=None)
@given(text=ascii_texts, positions=cuts)
def test_chunking_gives_the_same_masking(text: str, positions: list[int]) -> None:
    assert chunked(text, positions) == mask_pii(text, PII_ALL, LABELS)[0]


@settings(max_examples=500, deadline=None)
@given(text=st.lists(st.sampled_from([*ASCII_PIECES, "\u00e9", "\u0663", "_"]), max_size=30).map("".join),
       positions=cuts)
def test_chunking_never_leaks_an_entity(text: str, positions: list[int]) -> None:
    out = chunked(text, positions)
    for start, end, _kind in scan_pii(text, PII_ALL):
        assert text[start:end] not in out
