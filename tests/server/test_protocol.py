"""Request parsing, keep-alive, pipelining, limits and timeouts, driven without sockets."""

from __future__ import annotations

import asyncio

from gateway.config.model import FrontendHTTP
from gateway.server.types import Request, Responder
from tests.server.fakes import connect, parse_responses

SIMPLE_GET = b"GET /v1/models?x=1 HTTP/1.1\r\nHost: example\r\nX-Trace: Abc\r\n\r\n"
SIMPLE_HEAD = b"HEAD / HTTP/1.1\r\nHost: example\r\n\r\n"
GET_CLOSE = b"GET /close HTTP/1.1\r\nHost: example\r\nConnection: close\r\n\r\n"
HTTP10_GET = b"GET /old HTTP/1.0\r\n\r\n"
HTTP10_KEEPALIVE_GET = b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
POST_JSON = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
    b"Content-Length: 16\r\n\r\n"
    b'{"model":"gpt"}\n'
)
POST_CHUNKED = (
    b"POST /upload HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
)
POST_EXPECT_HEAD = (
    b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
)
POST_EXPECT_TOO_BIG = (
    b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 999999\r\n"
    b"Expect: 100-continue\r\n\r\n"
)
POST_TOO_BIG = b"POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 101\r\n\r\n" + b"x" * 101
POST_CHUNKED_TOO_BIG_HEAD = b"POST /upload HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNK_60 = b"3c\r\n" + b"y" * 60 + b"\r\n"
MALFORMED = b"GET / HTTP/1.1\r\nHost: example\r\nBad Header Line\r\n\r\n"
GARBAGE = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"  # a TLS ClientHello on the plain port
WEBSOCKET_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
H2C_UPGRADE = (
    b"GET /h2c HTTP/1.1\r\nHost: example\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
)
PARTIAL_HEAD = b"GET /slow HTTP/1.1\r\nHost: exa"


def too_many_headers(n: int) -> bytes:
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(n))
    return b"GET / HTTP/1.1\r\nHost: example\r\n" + lines + b"\r\n"


async def echo(request: Request, responder: Responder) -> None:
    """Answers with method, target and body so tests can check what the handler saw."""
    body = b"%s %s %s" % (request.method.encode(), request.target, request.body)
    responder.send(200, [(b"content-type", b"text/plain")], body)


async def test_simple_get() -> None:
    seen: list[Request] = []

    async def handler(request: Request, responder: Responder) -> None:
        seen.append(request)
        responder.send(200, [(b"content-type", b"text/plain")], b"hi")

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    (resp,) = parse_responses(raw)
    assert resp.body == b"hi"
    assert resp.header(b"content-length") == b"2"
    assert resp.header(b"server") == b"agentgateway-py"
    assert resp.header(b"date") is not None
    assert resp.header(b"connection") is None
    req = seen[0]
    assert (req.method, req.path, req.query, req.http_version) == ("GET", "/v1/models", "x=1", "1.1")
    assert req.headers == [(b"host", b"example"), (b"x-trace", b"Abc")]  # names lower-cased only
    assert req.body == b"" and req.keep_alive and req.client == ("127.0.0.1", 50000)
    assert req.received_at > 0
    assert not conn.transport.closed
    assert conn.state.total_requests == 1 and conn.state.connections_accepted == 1


async def test_head_response_has_no_body() -> None:
    conn = connect(echo)
    conn.feed(SIMPLE_HEAD)
    await conn.settle()
    raw = conn.transport.take()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"content-length: 7" in head  # the length a GET-style answer would have
    assert body == b""


async def test_post_content_length_body() -> None:
    conn = connect(echo)
    conn.feed(POST_JSON)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.body == b'POST /v1/chat/completions {"model":"gpt"}\n'


async def test_post_body_split_across_reads() -> None:
    conn = connect(echo)
    for i in range(0, len(POST_JSON), 7):
        conn.feed(POST_JSON[i:i + 7])
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.body.endswith(b'{"model":"gpt"}\n')


async def test_chunked_request_body() -> None:
    conn = connect(echo)
    conn.feed(POST_CHUNKED)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.body == b"POST /upload hello world"


async def test_pipelined_requests_answered_in_order() -> None:
    order: list[bytes] = []

    async def handler(request: Request, responder: Responder) -> None:
        order.append(request.target)
        # The first request is the slowest: a naive server would answer out of order.
        await asyncio.sleep(0.01 if request.target == b"/v1/models?x=1" else 0)
        await echo(request, responder)

    conn = connect(handler)
    conn.feed(SIMPLE_GET + POST_JSON + POST_CHUNKED)
    await conn.settle()
    resps = parse_responses(conn.transport.take())
    assert [r.body.split(b" ")[1] for r in resps] == [b"/v1/models?x=1", b"/v1/chat/completions",
                                                     b"/upload"]
    assert order == [b"/v1/models?x=1", b"/v1/chat/completions", b"/upload"]
    assert not conn.transport.closed


async def test_one_handler_at_a_time_per_connection() -> None:
    running = 0
    peak = 0

    async def handler(request: Request, responder: Responder) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        responder.send(200, [], b"ok")
        await asyncio.sleep(0)  # work after responding still blocks the next request
        running -= 1

    conn = connect(handler)
    conn.feed(SIMPLE_GET * 3)
    await conn.settle()
    assert len(parse_responses(conn.transport.take())) == 3
    assert peak == 1


async def test_read_backpressure_with_pipelined_requests() -> None:
    release = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        await release.wait()
        responder.send(200, [], b"ok")

    conn = connect(handler)
    conn.feed(SIMPLE_GET)
    await asyncio.sleep(0)
    assert not conn.transport.reading_paused  # one in flight, nothing queued
    conn.feed(SIMPLE_GET + SIMPLE_GET)
    assert conn.transport.reading_paused  # requests queued behind the running one
    release.set()
    await conn.settle()
    assert len(parse_responses(conn.transport.take())) == 3
    assert not conn.transport.reading_paused  # resumed once the queue drained


async def test_keep_alive_by_default_on_http11() -> None:
    conn = connect(echo)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert len(parse_responses(conn.transport.take())) == 2
    assert not conn.transport.closed


async def test_connection_close_is_honoured_and_later_requests_ignored() -> None:
    conn = connect(echo)
    conn.feed(GET_CLOSE + SIMPLE_GET)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.header(b"connection") == b"close"
    assert conn.transport.closed
    assert conn.state.total_requests == 1


async def test_http10_closes_by_default() -> None:
    conn = connect(echo)
    conn.feed(HTTP10_GET)
    await conn.settle()
    raw = conn.transport.take()
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in raw
    assert conn.transport.closed


async def test_http10_keep_alive_is_confirmed() -> None:
    conn = connect(echo)
    conn.feed(HTTP10_KEEPALIVE_GET)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.header(b"connection") == b"keep-alive"
    assert not conn.transport.closed


async def test_expect_100_continue() -> None:
    conn = connect(echo)
    conn.feed(POST_EXPECT_HEAD)
    assert conn.transport.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.feed(b"hello")
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.body == b"POST /upload hello"


async def test_expect_100_continue_waits_for_earlier_response() -> None:
    release = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        if request.method == "GET":
            await release.wait()
        await echo(request, responder)

    conn = connect(handler)
    conn.feed(SIMPLE_GET + POST_EXPECT_HEAD)
    await asyncio.sleep(0)
    assert conn.transport.take() == b""  # a 100 now would land inside the GET's response
    release.set()
    await conn.settle()
    raw = conn.transport.take()
    first, sep, rest = raw.partition(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert sep and parse_responses(first)[0].status == 200 and rest == b""
    conn.feed(b"hello")
    await conn.settle()
    assert parse_responses(conn.transport.take())[0].body == b"POST /upload hello"


async def test_expect_100_continue_over_limit_is_413_without_continue() -> None:
    conn = connect(echo, FrontendHTTP(max_buffer_size=100))
    conn.feed(POST_EXPECT_TOO_BIG)
    raw = conn.transport.take()
    assert b"100 Continue" not in raw
    (resp,) = parse_responses(raw)
    assert resp.status == 413 and resp.header(b"connection") == b"close"
    assert conn.transport.closed


async def test_413_content_length_over_limit_before_body() -> None:
    conn = connect(echo, FrontendHTTP(max_buffer_size=100))
    conn.feed(POST_TOO_BIG)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 413
    assert resp.header(b"content-type", ).startswith(b"text/plain")  # type: ignore[union-attr]
    assert resp.body == b"payload too large"
    assert conn.transport.closed and conn.state.total_requests == 0


async def test_413_chunked_over_limit_stops_buffering() -> None:
    conn = connect(echo, FrontendHTTP(max_buffer_size=100))
    conn.feed(POST_CHUNKED_TOO_BIG_HEAD + CHUNK_60)
    assert conn.transport.take() == b""
    conn.feed(CHUNK_60)  # 120 bytes > 100
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 413
    assert conn.transport.closed
    conn.feed(CHUNK_60)  # late bytes are dropped, not parsed or answered
    await conn.settle()
    assert conn.transport.take() == b"" and conn.state.total_requests == 0


async def test_error_waits_for_pipelined_responses_ahead_of_it() -> None:
    conn = connect(echo, FrontendHTTP(max_buffer_size=100))
    conn.feed(SIMPLE_GET + POST_TOO_BIG)
    await conn.settle()
    resps = parse_responses(conn.transport.take())
    assert [r.status for r in resps] == [200, 413]
    assert conn.transport.closed


async def test_431_too_many_headers() -> None:
    conn = connect(echo, FrontendHTTP(http1_max_headers=10))
    conn.feed(too_many_headers(10))
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 431 and resp.body == b"request header fields too large"
    assert resp.header(b"connection") == b"close"
    assert conn.transport.closed


async def test_max_headers_at_limit_is_accepted() -> None:
    conn = connect(echo, FrontendHTTP(http1_max_headers=10))
    conn.feed(too_many_headers(9))  # plus Host = 10
    await conn.settle()
    assert parse_responses(conn.transport.take())[0].status == 200


async def test_431_head_too_large() -> None:
    conn = connect(echo, FrontendHTTP(max_header_bytes=1024))
    conn.feed(b"GET / HTTP/1.1\r\nHost: example\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 431 and conn.transport.closed


async def test_431_huge_header_value_trickled() -> None:
    # httptools buffers a partial header value itself; the raw byte count must still bound it.
    conn = connect(echo, FrontendHTTP(max_header_bytes=1024))
    conn.feed(b"GET / HTTP/1.1\r\nHost: example\r\nX-Big: ")
    for _ in range(20):
        if conn.transport.closed:
            break
        conn.feed(b"a" * 100)
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 431 and conn.transport.closed


async def test_400_malformed_then_close() -> None:
    conn = connect(echo)
    conn.feed(MALFORMED + SIMPLE_GET)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 400 and resp.body == b"bad request"
    assert resp.header(b"content-type") == b"text/plain; charset=utf-8"
    assert conn.transport.closed and conn.state.total_requests == 0


async def test_400_for_garbage_bytes() -> None:
    conn = connect(echo)
    conn.feed(GARBAGE)
    assert parse_responses(conn.transport.take())[0].status == 400
    assert conn.transport.closed


async def test_websocket_upgrade_is_501() -> None:
    conn = connect(echo)
    conn.feed(WEBSOCKET_UPGRADE)
    await conn.settle()
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 501 and conn.transport.closed


async def test_h2c_upgrade_is_ignored_and_served_as_http11() -> None:
    conn = connect(echo)
    conn.feed(H2C_UPGRADE + SIMPLE_GET)
    await conn.settle()
    resps = parse_responses(conn.transport.take())
    assert [r.status for r in resps] == [200, 200]
    assert resps[0].body == b"GET /h2c "
    assert not conn.transport.closed


async def test_slowloris_head_timeout_408() -> None:
    conn = connect(echo, FrontendHTTP(header_read_timeout=0.05))
    conn.feed(PARTIAL_HEAD)
    for _ in range(3):  # trickling bytes must not extend the deadline
        await asyncio.sleep(0.02)
        conn.feed(b"m")
    await asyncio.sleep(0.05)
    (resp,) = parse_responses(conn.transport.take())
    assert resp.status == 408 and resp.body == b"request timeout"
    assert conn.transport.closed


async def test_silent_connection_closed_after_head_timeout() -> None:
    conn = connect(echo, FrontendHTTP(header_read_timeout=0.02))
    await asyncio.sleep(0.05)
    assert conn.transport.closed and conn.transport.take() == b""


async def test_head_timeout_does_not_fire_once_head_complete() -> None:
    release = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        await release.wait()
        responder.send(200, [], b"late")

    conn = connect(handler, FrontendHTTP(header_read_timeout=0.02))
    conn.feed(SIMPLE_GET)
    await asyncio.sleep(0.05)
    release.set()
    await conn.settle()
    assert parse_responses(conn.transport.take())[0].status == 200
    assert not conn.transport.closed


async def test_idle_keep_alive_connection_closed() -> None:
    conn = connect(echo, FrontendHTTP(http1_idle_timeout=0.03))
    conn.feed(SIMPLE_GET)
    await conn.settle()
    assert not conn.transport.closed
    await asyncio.sleep(0.06)
    assert conn.transport.closed
    assert parse_responses(conn.transport.take())[0].status == 200  # and nothing else written


async def test_idle_timer_not_armed_while_handler_runs() -> None:
    release = asyncio.Event()

    async def handler(request: Request, responder: Responder) -> None:
        await release.wait()
        responder.send(200, [], b"ok")

    conn = connect(handler, FrontendHTTP(http1_idle_timeout=0.02))
    conn.feed(SIMPLE_GET)
    await asyncio.sleep(0.05)
    assert not conn.transport.closed
    release.set()
    await conn.settle()
    assert parse_responses(conn.transport.take())[0].body == b"ok"


async def test_data_cancels_idle_timer() -> None:
    conn = connect(echo, FrontendHTTP(http1_idle_timeout=0.04))
    conn.feed(SIMPLE_GET)
    await conn.settle()
    await asyncio.sleep(0.025)
    conn.feed(SIMPLE_GET)
    await conn.settle()
    await asyncio.sleep(0.025)  # 0.05 since the first request, 0.025 since the second
    assert not conn.transport.closed
    assert len(parse_responses(conn.transport.take())) == 2
