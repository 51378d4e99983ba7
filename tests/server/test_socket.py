"""End to end on a real 127.0.0.1 socket with uvloop: start_server, pipelining, streaming, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from gateway.config.model import FrontendHTTP
from gateway.server.server import shutdown, start_server
from gateway.server.state import ServerState
from gateway.server.types import Request, Responder
from tests.server.fakes import parse_responses

PIPELINED = (
    b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
)
STREAM_CHUNK = b"z" * 65536
STREAM_CHUNKS = 64  # 4 MiB: far beyond socket buffers, so write flow control engages

pytestmark = pytest.mark.asyncio(loop_factories=["uvloop"])


async def app(request: Request, responder: Responder) -> None:
    if request.path == "/stream":
        responder.start(200, [(b"content-type", b"application/octet-stream")])
        for _ in range(STREAM_CHUNKS):
            await responder.write(STREAM_CHUNK)
            if responder.disconnected:
                return
        responder.end()
    elif request.path == "/slow":
        await asyncio.sleep(0.05)
        responder.send(200, [], b"slow done")
    else:
        responder.send(200, [(b"content-type", b"text/plain")], request.path.encode() + request.body)


async def read_until_eof_or(reader: asyncio.StreamReader, n_responses: int) -> bytes:
    data = b""
    while True:
        chunk = await reader.read(1 << 20)
        if not chunk:
            return data
        data += chunk
        try:
            if len(parse_responses(data)) >= n_responses and data.endswith(b"0\r\n\r\n"):
                return data
        except Exception:
            continue


async def test_real_socket_pipelining_and_streaming() -> None:
    assert "uvloop" in type(asyncio.get_running_loop()).__module__
    state = ServerState()
    server = await start_server(app, "127.0.0.1", 0, FrontendHTTP(), state)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22)
    writer.write(PIPELINED)
    await writer.drain()
    data = await asyncio.wait_for(read_until_eof_or(reader, 3), 10)
    resps = parse_responses(data)
    assert [r.status for r in resps] == [200, 200, 200]
    assert resps[0].body == b"/a" and resps[1].body == b"/bhello"
    assert resps[2].body == STREAM_CHUNK * STREAM_CHUNKS
    assert state.total_requests == 3 and state.connections_accepted == 1
    writer.close()
    await writer.wait_closed()
    await shutdown([server], state, deadline=1.0)


async def test_real_socket_graceful_shutdown() -> None:
    state = ServerState()
    server = await start_server(app, "127.0.0.1", 0, FrontendHTTP(), state)
    port = server.sockets[0].getsockname()[1]
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
    await writer.drain()
    for _ in range(5000):  # bounded: wait until the request is in flight
        if state.tasks:
            break
        await asyncio.sleep(0.001)
    assert state.tasks

    await shutdown([server], state, deadline=5.0)

    data = await asyncio.wait_for(reader.read(), 5)  # read to EOF: the server closed after answering
    (resp,) = parse_responses(data)
    assert resp.body == b"slow done" and resp.header(b"connection") == b"close"
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # idle connection just closed
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)  # no longer accepting
    assert not state.connections and not state.tasks
    for w in (writer, idle_writer):
        w.close()
