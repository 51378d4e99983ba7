"""SseParser behaviour from the shared case table, on every implementation."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.hotpath.cases import SSE_CASES, SseCase, recorded_streams


def run(impl: ModuleType, case: SseCase) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    parser = impl.SseParser() if case.max_size is None else impl.SseParser(case.max_size)
    events: list[tuple[bytes, bytes]] = []
    for chunk in case.chunks:
        events.extend(parser.feed(chunk))
    return events, parser.flush()


@pytest.mark.parametrize("case", SSE_CASES, ids=[c.id for c in SSE_CASES])
def test_sse_case(impl: ModuleType, case: SseCase) -> None:
    if case.raises:
        with pytest.raises(ValueError, match="max_event_size"):
            run(impl, case)
        return
    events, flushed = run(impl, case)
    assert events == case.events
    assert flushed == case.flushed


@pytest.mark.parametrize("case", SSE_CASES, ids=[c.id for c in SSE_CASES])
def test_sse_case_whole_stream_matches_chunked(impl: ModuleType, case: SseCase) -> None:
    whole = SseCase(case.id, [b"".join(case.chunks)], [], max_size=case.max_size)
    if case.raises:
        with pytest.raises(ValueError):
            run(impl, whole)
        return
    events, flushed = run(impl, whole)
    assert events + flushed == case.events + case.flushed


def test_parser_stays_failed_after_oversize(impl: ModuleType) -> None:
    parser = impl.SseParser(8)
    with pytest.raises(ValueError, match="max_event_size"):
        parser.feed(b"data: 0123456789\n\n")
    # Resynchronising would silently undercount usage, so every later call fails too.
    with pytest.raises(ValueError, match="failed earlier"):
        parser.feed(b"data: x\n\n")
    with pytest.raises(ValueError, match="failed earlier"):
        parser.flush()


def test_flush_resets_for_reuse(impl: ModuleType) -> None:
    parser = impl.SseParser()
    assert parser.feed(b"event: a\ndata: 1\r") == []
    assert parser.flush() == [(b"a", b"1")]
    # The pending CR must not swallow the first LF of the next stream.
    assert parser.feed(b"\ndata: 2\n\n") == [(b"", b"2")]


def test_default_and_invalid_max(impl: ModuleType) -> None:
    assert impl.SseParser().max_event_size == 1 << 20
    with pytest.raises(ValueError):
        impl.SseParser(0)


def test_large_event_under_default_limit(impl: ModuleType) -> None:
    payload = b"x" * (512 * 1024)
    parser = impl.SseParser()
    out: list[tuple[bytes, bytes]] = []
    for i in range(0, len(payload), 1000):
        out += parser.feed((b"data: " if i == 0 else b"") + payload[i : i + 1000])
    out += parser.feed(b"\n\n")
    assert out == [(b"", payload)]


def test_feed_requires_bytes(impl: ModuleType) -> None:
    with pytest.raises(TypeError):
        impl.SseParser().feed("data: x\n\n")


@pytest.mark.parametrize("path", recorded_streams(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recorded_streams_frame_identically_at_every_split(impl: ModuleType, path: object) -> None:
    from pathlib import Path

    assert isinstance(path, Path)
    raw = path.read_bytes()
    parser = impl.SseParser()
    expected = parser.feed(raw) + parser.flush()
    for size in (1, 2, 3, 7, 64, 4096):
        parser = impl.SseParser()
        got: list[tuple[bytes, bytes]] = []
        for i in range(0, len(raw), size):
            got += parser.feed(raw[i : i + size])
        assert got + parser.flush() == expected


def test_recorded_vectors_present_or_skipped() -> None:
    if not recorded_streams():
        pytest.skip("shared/agentgateway-examples not available")
    assert len(recorded_streams()) >= 8
