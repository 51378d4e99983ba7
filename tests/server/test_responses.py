"""Responder behaviour: framing, streaming, flow control, disconnects, handler failures."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.server.server import shutdown
from gateway.server.state import ServerState
from gateway.server.types import Request, Responder
from tests.server.fakes import connect, parse_responses

SIMPLE_GET = b"GET /stream HTTP/1.1\r\nHost: example\r\n\r\n"
SIMPLE_HEAD = b"HEAD /stream HTTP/1.1\r\nHost: example\r\n\r\n"
HTTP10_GET = b"GET /stream HTTP/1.0\r\n\r\n"

SSE = [(b"content-type", b"text/event-stream")]


async def test_streamed_response_chunk_framing() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        await responder.write(b"data: 1\n\n")
        await responder.write(b"")  # must not emit the terminating zero-size chunk
        await responder.write(b"x" * 300)
        responder.end()

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"\r\ntransfer-encoding: chunked" in head
    assert b"content-length" not in head
    assert body == b"9\r\ndata: 1\n\n\r\n12c\r\n" + b"x" * 300 + b"\r\n0\r\n\r\n"
    (resp,) = parse_responses(raw)
    assert resp.body == b"data: 1\n\n" + b"x" * 300
    assert not conn.transport.closed


async def test_streamed_response_with_handler_content_length() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, [(b"content-length", b"6")])
        await responder.write(b"abc")
        await responder.write(b"def")
        responder.end()

    conn = connect(handler)
    conn.feed(SIMPLE_GET + SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert b"transfer-encoding" not in raw
    assert [r.body for r in parse_responses(raw)] == [b"abcdef", b"abcdef"]
    assert not conn.transport.closed


async def test_short_content_length_stream_closes_connection() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, [(b"content-length", b"10")])
        await responder.write(b"abc")
        responder.end()

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert conn.transport.closed


async def test_head_streamed_writes_no_body() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        await responder.write(b"data: 1\n\n")
        responder.end()

    conn = connect(handler)
    conn.feed(SIMPLE_HEAD)
    await conn.settle()
    assert conn.transport.take().endswith(b"\r\n\r\n")
    assert not conn.transport.closed


async def test_http10_stream_is_close_delimited() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        await responder.write(b"data: 1\n\n")
        responder.end()

    conn = connect(handler)
    conn.feed(HTTP10_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert b"transfer-encoding" not in raw and b"connection: close\r\n" in raw
    assert raw.endswith(b"\r\n\r\ndata: 1\n\n")
    assert conn.transport.closed


async def test_204_has_no_content_length_or_body() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.send(204, [], b"")

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert raw.startswith(b"HTTP/1.1 204 No Content\r\n") and b"content-length" not in raw


async def test_handler_framing_headers_are_replaced() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.send(200, [(b"transfer-encoding", b"chunked"), (b"connection", b"close")], b"ok")

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert b"chunked" not in raw and raw.count(b"connection:") == 1
    assert parse_responses(raw)[0].body == b"ok"
    assert conn.transport.closed  # the handler asked to close


async def test_write_backpressure_blocks_until_resume() -> None:
    written: list[int] = []

    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        for i in range(3):
            await responder.write(b"chunk%d" % i)
            written.append(i)
        responder.end()

    conn = connect(handler)
    conn.protocol.pause_writing()  # the client is slow: the transport buffer is full
    conn.feed(SIMPLE_GET)
    for _ in range(5):
        await asyncio.sleep(0)
    assert written == []  # parked in drain, nothing buffered beyond the head
    assert b"chunk0" not in conn.transport.buffer
    conn.protocol.resume_writing()
    await conn.settle()
    assert written == [0, 1, 2]
    assert parse_responses(conn.transport.take())[0].body == b"chunk0chunk1chunk2"


async def test_disconnect_during_stream_cancels_the_parked_writer() -> None:
    outcome: list[str] = []
    parked = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        parked.set()
        try:
            await responder.write(b"first")  # blocks: the transport paused writing
        except asyncio.CancelledError:
            outcome.append(f"cancelled, disconnected={responder.disconnected}")
            raise
        outcome.append("resumed")

    conn = connect(handler)
    conn.protocol.pause_writing()
    conn.feed(SIMPLE_GET)
    await parked.wait()
    await asyncio.sleep(0)
    assert outcome == []  # still parked in drain
    conn.transport.client_disconnects()
    await conn.settle()
    assert outcome == ["cancelled, disconnected=True"]
    raw = bytes(conn.transport.buffer)
    assert raw.startswith(b"HTTP/1.1 200 OK") and b"first" not in raw
    assert conn.transport.writes_after_close == 0
    assert conn.protocol not in conn.state.connections


async def test_disconnect_cancels_a_handler_waiting_on_upstream() -> None:
    # An LLM call nobody will read must not run (and be billed) to the end.
    outcome: list[str] = []
    started = asyncio.Event()
    never = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        started.set()
        try:
            await never.wait()  # stands for the upstream call
        finally:
            outcome.append(f"finally ran, disconnected={responder.disconnected}")

    conn = connect(handler)
    conn.feed(SIMPLE_GET + SIMPLE_GET)
    await started.wait()
    conn.transport.client_disconnects()
    await conn.settle()
    assert outcome == ["finally ran, disconnected=True"]  # and the queued second request never ran
    assert conn.transport.buffer == b""


async def test_handler_exception_before_start_is_500(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: Request, responder: Responder) -> None:
        raise ValueError("boom")

    conn = connect(handler)
    with caplog.at_level(logging.ERROR):
        conn.feed(SIMPLE_GET)
        await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 500 and resp.body == b"internal error"
    assert resp.header(b"content-type", ).startswith(b"text/plain")  # type: ignore[union-attr]
    assert "boom" in caplog.text


async def test_handler_exception_after_start_aborts() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        await responder.write(b"partial")
        raise RuntimeError("upstream broke")

    conn = connect(handler)
    conn.feed(SIMPLE_GET + SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert b"partial" in raw and not raw.endswith(b"0\r\n\r\n")
    assert raw.count(b"HTTP/1.1") == 1
    assert conn.transport.closed


async def test_handler_returning_without_response_is_500() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        return None

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert parse_responses(conn.transport.take())[0].status == 500
    assert not conn.transport.closed


async def test_abort_closes_transport() -> None:
    async def handler(request: Request, responder: Responder) -> None:
        responder.start(200, SSE)
        responder.abort()

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert conn.transport.closed


async def test_send_twice_is_an_error() -> None:
    errors: list[Exception] = []

    async def handler(request: Request, responder: Responder) -> None:
        responder.send(200, [], b"one")
        try:
            responder.send(200, [], b"two")
        except RuntimeError as exc:
            errors.append(exc)

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert len(errors) == 1 and len(parse_responses(conn.transport.take())) == 1


async def test_shutdown_drains_in_flight_request_then_closes() -> None:
    state = ServerState()
    release = asyncio.Event()

    async def slow(request: Request, responder: Responder) -> None:
        await release.wait()
        responder.send(200, [], b"finished")

    busy = connect(slow, state=state)
    idle = connect(slow, state=state)
    busy.feed(SIMPLE_GET)
    await asyncio.sleep(0)

    drain = asyncio.create_task(shutdown([], state, deadline=5.0))
    await asyncio.sleep(0)
    assert idle.transport.closed  # nothing in flight: closed at once
    assert not busy.transport.closed
    release.set()
    await drain
    (resp,) = parse_responses(busy.transport.take())
    assert resp.body == b"finished" and resp.header(b"connection") == b"close"
    assert busy.transport.closed and not state.tasks


async def test_shutdown_cancels_after_deadline() -> None:
    state = ServerState()
    cancelled: list[bool] = []

    async def stuck(request: Request, responder: Responder) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    conn = connect(stuck, state=state)
    conn.feed(SIMPLE_GET)
    await asyncio.sleep(0)
    await shutdown([], state, deadline=0.02)
    assert cancelled == [True] and conn.transport.closed and not state.tasks
