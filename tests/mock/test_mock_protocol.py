"""HTTP/1.1 behaviour of the mock on raw sockets: keep-alive, pipelining, chunked bodies, auth."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import orjson
from mock_wire import connect, read_responses

from gateway.mock import MockProvider, ThreadedMockProvider, key_fingerprint
from gateway.mock.formats import REPLY_PREFIX

CHAT = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "ping"}]})


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "host: x", "content-type: application/json",
            f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_keep_alive_many_requests_one_connection(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        for i in range(5):
            body = orjson.dumps({"model": f"m{i}", "messages": [{"role": "user", "content": f"n{i}"}]})
            sock.sendall(post("/v1/chat/completions", body))
            (resp,) = read_responses(sock, 1)
            assert resp.status == 200
            doc = orjson.loads(resp.body)
            assert doc["model"] == f"m{i}"
            assert doc["choices"][0]["message"]["content"] == REPLY_PREFIX + f"n{i}"
    assert mock.provider.connections_accepted == 1
    assert len({r.client for r in mock.requests}) == 1


def test_pipelined_responses_stay_in_order(mock: ThreadedMockProvider) -> None:
    # The first request is delayed, the others are not: they must still come back in order.
    reqs = [post("/v1/chat/completions", orjson.dumps(
                {"model": f"p{i}", "messages": [{"role": "user", "content": "x"}]}),
                *(["x-mock-delay-ms: 150"] if i == 0 else []))
            for i in range(4)]
    with connect(mock.port) as sock:
        sock.sendall(b"".join(reqs))
        responses = read_responses(sock, 4)
    assert [orjson.loads(r.body)["model"] for r in responses] == ["p0", "p1", "p2", "p3"]


def test_chunked_request_body(mock: ThreadedMockProvider) -> None:
    half = len(CHAT) // 2
    parts = [CHAT[:half], CHAT[half:]]
    chunked = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    head = (b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    with connect(mock.port) as sock:
        sock.sendall(head + chunked)
        (resp,) = read_responses(sock, 1)
    assert resp.status == 200
    assert orjson.loads(resp.body)["type"] == "message"
    assert mock.requests[-1].json == orjson.loads(CHAT)


def test_anthropic_wire_event_order_includes_ping(mock: ThreadedMockProvider) -> None:
    body = orjson.dumps({"model": "c", "stream": True, "max_tokens": 9,
                         "messages": [{"role": "user", "content": "hello"}]})
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/messages", body, "x-mock-chunks: 2"))
        (resp,) = read_responses(sock, 1)
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["transfer-encoding"] == "chunked"
    blocks = [b for b in resp.body.decode().split("\n\n") if b]
    names = [b.split("\n")[0].removeprefix("event: ") for b in blocks]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    for b in blocks:  # every data line is JSON whose type matches the event name
        event, data = b.split("\n")
        assert orjson.loads(data.removeprefix("data: "))["type"] == event.removeprefix("event: ")
    delta = orjson.loads(blocks[-2].split("\n")[1].removeprefix("data: "))
    assert delta["usage"]["output_tokens"] >= 1 and delta["delta"]["stop_reason"] == "end_turn"


def test_openai_stream_ends_with_done(mock: ThreadedMockProvider) -> None:
    body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/chat/completions", body))
        (resp,) = read_responses(sock, 1)
    assert resp.body.endswith(b"data: [DONE]\n\n")


def test_bad_json_is_400_in_provider_shape(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/chat/completions", b"{nope") + post("/v1/messages", b"[1,"))
        openai_resp, anthropic_resp = read_responses(sock, 2)
    assert openai_resp.status == 400
    assert orjson.loads(openai_resp.body)["error"]["type"] == "invalid_request_error"
    assert anthropic_resp.status == 400
    doc = orjson.loads(anthropic_resp.body)
    assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"


def test_unknown_path_and_method(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/embeddings", CHAT)
                     + b"GET /v1/chat/completions HTTP/1.1\r\nhost: x\r\n\r\n")
        r404, r405 = read_responses(sock, 2)
    assert r404.status == 404 and "error" in orjson.loads(r404.body)
    assert r405.status == 405


def test_auth_headers_fingerprinted_never_recorded(mock: ThreadedMockProvider) -> None:
    cases = [("x-api-key", "ant-secret-1", "ant-secret-1"),
             ("authorization", "Bearer oai-secret-2", "oai-secret-2"),
             ("api-key", "azure-secret-3", "azure-secret-3")]
    with connect(mock.port) as sock:
        for header, value, key in cases:
            sock.sendall(post("/v1/chat/completions", CHAT, f"{header}: {value}",
                              "anthropic-version: 2023-06-01"))
            (resp,) = read_responses(sock, 1)
            assert resp.headers["x-mock-auth-header"] == header
            assert resp.headers["x-mock-auth-key-sha256"] == key_fingerprint(key)
            rec = mock.requests[-1]
            assert rec.auth == (header, key_fingerprint(key))
            assert rec.anthropic_version == "2023-06-01"
            assert key not in repr(rec.headers)
        sock.sendall(post("/v1/chat/completions", CHAT))
        (resp,) = read_responses(sock, 1)
    assert resp.headers["x-mock-auth-header"] == "none"
    assert "x-mock-auth-key-sha256" not in resp.headers
    assert mock.requests[-1].auth == ("none", "")


def test_connection_close_and_http10(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/chat/completions", CHAT, "connection: close"))
        (resp,) = read_responses(sock, 1)
        assert resp.status == 200 and resp.headers["connection"] == "close"
        sock.settimeout(5)
        assert sock.recv(1) == b""  # server closed
    raw = (b"POST /v1/chat/completions HTTP/1.0\r\ncontent-length: %d\r\n\r\n%b" % (len(CHAT), CHAT))
    with connect(mock.port) as sock:
        sock.sendall(raw)
        (resp,) = read_responses(sock, 1)
        assert resp.status == 200
        assert sock.recv(1) == b""


def test_reset_before_response(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        sock.sendall(post("/v1/chat/completions", CHAT, "x-mock-reset: before-response"))
        sock.settimeout(5)
        try:
            data = sock.recv(1024)
        except ConnectionResetError:
            data = b""
    assert data == b""


def test_malformed_http_gets_400_and_close(mock: ThreadedMockProvider) -> None:
    with connect(mock.port) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        (resp,) = read_responses(sock, 1)
    assert resp.status == 400


def test_global_latency_and_header_override() -> None:
    with ThreadedMockProvider(latency_ms=200) as mock, connect(mock.port) as sock:
        start = time.monotonic()
        sock.sendall(post("/v1/chat/completions", CHAT))
        read_responses(sock, 1)
        assert time.monotonic() - start >= 0.19
        start = time.monotonic()
        sock.sendall(post("/v1/chat/completions", CHAT, "x-mock-delay-ms: 0"))
        read_responses(sock, 1)
        assert time.monotonic() - start < 0.15


async def test_in_process_provider_with_aiohttp() -> None:
    mock = MockProvider("127.0.0.1", 0)
    await mock.start()
    try:
        assert mock.port > 0
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.post(f"{mock.url}/v1/chat/completions", data=CHAT,
                                        headers={"content-type": "application/json"}) as resp:
                    assert resp.status == 200
                    doc = await resp.json()
                    assert doc["usage"]["total_tokens"] > 0
            async with session.post(f"{mock.url}/v1/messages", data=CHAT,
                                    headers={"x-mock-status": "529"}) as resp:
                assert resp.status == 529
                assert (await resp.json())["error"]["type"] == "overloaded_error"
        assert [r.path for r in mock.requests] == ["/v1/chat/completions"] * 3 + ["/v1/messages"]
        assert mock.connections_accepted == 1
    finally:
        await mock.stop()
    # After stop() the port is closed.
    try:
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", mock.port), 2)
    except OSError:
        pass
    else:
        raise AssertionError("port still accepting after stop()")


def test_stop_closes_idle_keep_alive_connections() -> None:
    mock = ThreadedMockProvider()
    mock.start()
    sock = connect(mock.port)
    sock.sendall(post("/v1/chat/completions", CHAT))
    read_responses(sock, 1)
    mock.stop()
    sock.settimeout(5)
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass
    finally:
        sock.close()


def test_free_port_does_not_collide() -> None:
    with ThreadedMockProvider() as a, ThreadedMockProvider() as b:
        assert a.port != b.port
        s = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        s.close()
