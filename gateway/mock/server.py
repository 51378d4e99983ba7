"""The mock provider's HTTP/1.1 server: a raw asyncio.Protocol driven by httptools.

It deliberately does not reuse gateway/server: the mock is the yardstick the gateway is measured
against, so it must not share the gateway's bugs or its costs. Hot path: a non-streaming request
without fault headers is answered synchronously inside `data_received` (no task, no await);
anything that needs time (delays, per-chunk latency, resets) goes through one task per
connection, which keeps pipelined responses in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import socket
import struct
import time
from collections import deque
from typing import Any, cast

import httptools
import orjson

from gateway.mock import cloud, formats
from gateway.mock.formats import ANTHROPIC, OPENAI

MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_QUEUED = 64  # pipelined requests buffered per connection before we stop reading
MAX_DELAY_S = 600.0  # clamp for header-controlled sleeps, so every wait is bounded
RESET_AFTER_EVENTS = 3

_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
    502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded",
}
# Precomputed status lines: formatting them per response is measurable at 50k req/s.
_STATUS_LINES = {code: f"HTTP/1.1 {code} {reason}\r\n".encode() for code, reason in _REASONS.items()}
_JSON_HEADERS = b"content-type: application/json\r\n"
_SSE_HEADERS = (
    b"content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n"
)
_SSE_HEADERS_UNCHUNKED = b"content-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\n"
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, timeout 0: close() sends RST


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = f"HTTP/1.1 {status} Mock Status\r\n".encode()
    return line


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class RecordedRequest:
    """One request as the mock saw it, minus secrets.

    `headers` maps lower-case names to values; credential headers (see formats.SECRET_HEADERS)
    are replaced by "<redacted sha256:XXXXXXXXXXXXXXXX>". `auth` is (header name, sha256 prefix
    of the key) or ("none", ""). `json` is the parsed body, or None if it was not JSON.
    `client` is the peer (host, port): one port per TCP connection.
    """

    __slots__ = ("method", "path", "query", "headers", "json", "body_size", "auth",
                 "anthropic_version", "stream", "client", "received_at", "body_sha256")

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str], json: Any,
                 body_size: int, auth: tuple[str, str], stream: bool,
                 client: tuple[str, int] | None = None, body_sha256: str = "") -> None:
        self.method = method
        self.body_sha256 = body_sha256  # lets a test recompute a request signature over the exact bytes
        self.path = path
        self.query = query
        self.headers = headers
        self.json = json
        self.body_size = body_size
        self.auth = auth
        self.anthropic_version = headers.get("anthropic-version")
        self.stream = stream
        # Peer address: lets tests check that a client (the gateway) reuses connections.
        self.client = client
        self.received_at = time.time()

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.path} auth={self.auth} stream={self.stream})"


class _Plan:
    """How to answer one request; built synchronously, executed sync or async."""

    __slots__ = ("status", "head", "body", "events", "delay", "chunk_delay", "reset",
                 "keep_alive", "chunked")

    def __init__(self) -> None:
        self.status = 200
        self.head = b""  # status line + headers, without the final blank line
        self.body = b""
        self.events: list[bytes] | None = None  # SSE events when streaming
        self.delay = 0.0
        self.chunk_delay = 0.0
        self.reset: str | None = None  # "mid-stream" | "before-response"
        self.keep_alive = True
        self.chunked = True


def _float_header(headers: dict[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return min(max(value, 0.0), MAX_DELAY_S * 1000.0)


def _int_header(headers: dict[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


class MockProvider:
    """In-process mock of the OpenAI and Anthropic chat APIs.

    `await start()` binds (port 0 picks a free port, see `.port`), `await stop()` closes the
    listener and every open connection. `.requests` records what arrived (without secrets).
    `latency_ms` delays every response unless the request sets `x-mock-delay-ms`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0.0, *,
                 record: bool = True, max_recorded: int = 10_000,
                 default_model: str = "mock-model") -> None:
        self.host = host
        self._requested_port = port
        self.latency_ms = latency_ms
        self.record = record
        self.max_recorded = max_recorded
        self.default_model = default_model
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._conns: set[_MockConnection] = set()
        self._port = 0
        self.connections_accepted = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _MockConnection(self), self.host, self._requested_port, backlog=4096,
            reuse_address=True,
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for conn in list(self._conns):
            conn.close()
        # Bounded: wait_closed may wait for connection handlers on newer Pythons.
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=5.0)
        except asyncio.TimeoutError:
            pass

    async def __aenter__(self) -> MockProvider:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def next_id(self) -> int:
        return next(self._ids)

    def _remember(self, rec: RecordedRequest) -> None:
        if len(self.requests) >= self.max_recorded:
            # Drop the oldest half: amortised O(1) and the list stays bounded in long runs.
            del self.requests[: max(1, self.max_recorded // 2)]
        self.requests.append(rec)

    # ------------------------------------------------------------------ request -> plan

    def plan(self, method: str, target: bytes, raw_headers: list[tuple[bytes, bytes]],
             body: bytes, keep_alive: bool, http11: bool, too_large: bool,
             client: tuple[str, int] | None = None) -> _Plan:
        path_b, _, query_b = target.partition(b"?")
        path = path_b.decode("latin-1")
        headers: dict[str, str] = {}
        for name_b, value_b in raw_headers:
            name = name_b.decode("latin-1").lower()
            value = value_b.decode("latin-1")
            prev = headers.get(name)
            headers[name] = value if prev is None else prev + ", " + value

        auth = formats.auth_of(headers)
        kind = ANTHROPIC if path.endswith("/messages") else OPENAI
        parsed: Any = None
        json_error = ""
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError as e:
                json_error = str(e)
        stream = isinstance(parsed, dict) and parsed.get("stream") is True
        cloud_route = cloud.classify(path, query_b.decode("latin-1"), headers, parsed)
        if cloud_route is not None:
            kind = cloud_route.kind
            stream = stream if cloud_route.stream is None else cloud_route.stream

        if self.record:
            recorded_headers = {k: formats.redact(k, v) for k, v in headers.items()}
            self._remember(RecordedRequest(method, path, query_b.decode("latin-1"), recorded_headers,
                                           parsed, len(body), auth, stream, client,
                                           hashlib.sha256(body).hexdigest()))

        plan = _Plan()
        plan.keep_alive = keep_alive
        plan.chunked = http11
        delay_ms = _float_header(headers, "x-mock-delay-ms")
        plan.delay = (self.latency_ms if delay_ms is None else delay_ms) / 1000.0
        plan.chunk_delay = (_float_header(headers, "x-mock-latency-ms") or 0.0) / 1000.0
        reset = headers.get("x-mock-reset")
        if reset in ("mid-stream", "before-response"):
            plan.reset = reset

        extra = b"x-mock-auth-header: " + auth[0].encode() + b"\r\n"
        if auth[1]:
            extra += b"x-mock-auth-key-sha256: " + auth[1].encode() + b"\r\n"
        retry_after = headers.get("x-mock-retry-after")
        if retry_after is not None and retry_after.isdigit():
            extra += b"retry-after: " + retry_after.encode() + b"\r\n"

        def error(status: int, message: str, k: str = kind) -> _Plan:
            plan.status = status
            plan.body = cloud.converse_error(status, message) if k == cloud.BEDROCK else (
                formats.error_body(k, status, message))
            plan.events = None
            plan.head = _status_line(status) + _JSON_HEADERS + extra
            return plan

        # Routing first: a fault header on a wrong path is still a wrong path.
        is_models = path.endswith("/models")
        if is_models and method == "GET":
            models_kind = ANTHROPIC if "anthropic-version" in headers else OPENAI
            plan.body = formats.models_list(models_kind)
            plan.head = _status_line(200) + _JSON_HEADERS + extra
            return plan
        if path in ("/healthz", "/health"):
            plan.body = b'{"status":"ok"}'
            plan.head = _status_line(200) + _JSON_HEADERS + extra
            plan.delay = 0.0
            return plan
        if path.endswith("/messages/count_tokens") and method == "POST" and isinstance(parsed, dict):
            # Anthropic's token counting: the same input_tokens a completion of this body reports.
            plan.body = b'{"input_tokens":%d}' % formats.complete(parsed, self.default_model).input_tokens
            plan.head = _status_line(200) + _JSON_HEADERS + extra
            return plan
        is_chat = path.endswith("/chat/completions") or path.endswith("/messages") or cloud_route is not None
        if not is_chat and not is_models:
            return error(404, f"Unknown path {path!r}: the mock serves */chat/completions, "
                              "*/messages and */models")
        if method != "POST" or not is_chat:
            return error(405, f"Method {method} not allowed on {path}")
        if too_large:
            return error(413, f"Request body exceeds {MAX_BODY_BYTES} bytes")

        if cloud_route is not None and cloud_route.refusal is not None:
            return error(*cloud_route.refusal)
        status = _int_header(headers, "x-mock-status")
        if status is not None and 400 <= status <= 599:
            return error(status, f"Injected error: status {status} requested by x-mock-status")

        if json_error or not isinstance(parsed, dict):
            return error(400, "We could not parse the JSON body of your request: "
                              + (json_error or "expected a JSON object"))
        if not isinstance(parsed.get("messages"), list):
            return error(400, "messages: Field required")

        malformed = headers.get("x-mock-malformed")
        if malformed == "json":
            plan.body = b'{"id": "broken", "choices": [{"message": {"content": "trunc'
            plan.head = _status_line(200) + _JSON_HEADERS + extra
            return plan

        if cloud_route is not None and cloud_route.model:  # Bedrock and Vertex name the model in the URL
            parsed = {**(cloud.bedrock_text(parsed) if kind == cloud.BEDROCK else parsed), "model": cloud_route.model}
        completion = formats.complete(parsed, self.default_model)
        if kind == cloud.BEDROCK:
            return _bedrock_plan(plan, completion, stream, _int_header(headers, "x-mock-chunks"), extra)
        n = self.next_id()
        if kind == ANTHROPIC:
            rid = f"msg_mock{n:016x}"
            extra += b"request-id: req_mock" + b"%016x" % n + b"\r\n"
        else:
            rid = f"chatcmpl-mock{n:016x}"
            extra += b"x-request-id: req_mock" + b"%016x" % n + b"\r\n"

        if malformed == "sse":
            plan.events = formats.malformed_stream(kind)
        elif stream:
            pieces = formats.split_text(completion.text, _int_header(headers, "x-mock-chunks"))
            if kind == ANTHROPIC:
                plan.events = formats.anthropic_stream(completion, rid, pieces)
            else:
                opts = parsed.get("stream_options")
                include_usage = isinstance(opts, dict) and opts.get("include_usage") is True
                plan.events = formats.openai_stream(completion, rid, pieces, include_usage)
        if plan.events is not None:
            if not http11:
                plan.keep_alive = False  # HTTP/1.0 has no chunked encoding: EOF ends the body
            plan.head = (_status_line(200) + (_SSE_HEADERS if http11 else _SSE_HEADERS_UNCHUNKED)
                         + extra)
            return plan

        if kind == ANTHROPIC:
            plan.body = formats.anthropic_message(completion, rid)
        else:
            plan.body = formats.openai_completion(completion, rid)
        plan.head = _status_line(200) + _JSON_HEADERS + extra
        return plan


def _bedrock_plan(plan: _Plan, completion: formats.Completion, stream: bool, chunks: int | None,
                  extra: bytes) -> _Plan:
    if stream:
        plan.events = cloud.converse_stream(completion, chunks)
        plan.head = _status_line(200) + cloud.EVENTSTREAM_HEADERS + extra
    else:
        plan.body = cloud.converse_response(completion)
        plan.head = _status_line(200) + _JSON_HEADERS + extra
    return plan


class _Pending:
    __slots__ = ("method", "target", "headers", "body", "keep_alive", "http11", "too_large")

    def __init__(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
                 keep_alive: bool, http11: bool, too_large: bool) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.http11 = http11
        self.too_large = too_large


class _MockConnection(asyncio.Protocol):
    def __init__(self, provider: MockProvider) -> None:
        self.provider = provider
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.queue: deque[_Pending] = deque()
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.reading_paused = False
        self.write_ready: asyncio.Future[None] | None = None
        self.peer: tuple[str, int] | None = None

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass, hence a cast not a check.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if peer else None
        self.provider._conns.add(self)
        self.provider.connections_accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.provider._conns.discard(self)
        if self.task is not None:
            self.task.cancel()
        if self.write_ready is not None and not self.write_ready.done():
            self.write_ready.set_result(None)

    def pause_writing(self) -> None:
        if self.write_ready is None or self.write_ready.done():
            self.write_ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.write_ready is not None and not self.write_ready.done():
            self.write_ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrade not supported")
        except httptools.HttpParserError:
            self._fail(400, b"malformed HTTP request")

    # ------------------------------------------------------------------ httptools callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body_parts = []
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # curl and some SDKs wait for this before sending large bodies.
        for name, value in self.headers:
            if name.lower() == b"expect" and value.lower() == b"100-continue":
                assert self.transport is not None
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size <= MAX_BODY_BYTES:  # past the cap keep counting but drop the bytes
            self.body_parts.append(body)

    def on_message_complete(self) -> None:
        p = self.parser
        req = _Pending(
            p.get_method().decode("latin-1"), self.url, self.headers,
            b"".join(self.body_parts) if len(self.body_parts) != 1 else self.body_parts[0],
            p.should_keep_alive(), p.get_http_version() == "1.1", self.body_size > MAX_BODY_BYTES,
        )
        if self.task is None and not self.queue:
            plan = self.provider.plan(req.method, req.target, req.headers, req.body,
                                      req.keep_alive, req.http11, req.too_large, self.peer)
            if plan.delay == 0.0 and plan.chunk_delay == 0.0 and plan.reset is None:
                self._write_all(plan)
                return
            self.queue.append(req)
            self.task = asyncio.get_running_loop().create_task(self._drain(plan))
            return
        self.queue.append(req)
        if len(self.queue) > MAX_QUEUED and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    # ------------------------------------------------------------------ responding

    def _write_all(self, plan: _Plan) -> None:
        """Answer at once: one write() per response, so one syscall in the common case."""
        t = self.transport
        if t is None or self.closed:
            return
        conn = b"" if plan.keep_alive else b"connection: close\r\n"
        if plan.events is None:
            t.write(b"%bcontent-length: %d\r\n%b\r\n%b"
                    % (plan.head, len(plan.body), conn, plan.body))
        elif plan.chunked:
            t.write(plan.head + conn + b"\r\n"
                    + b"".join(_chunk(e) for e in plan.events) + b"0\r\n\r\n")
        else:
            t.write(plan.head + conn + b"\r\n" + b"".join(plan.events))
        if not plan.keep_alive:
            self.closed = True
            t.close()

    async def _drain(self, first: _Plan | None) -> None:
        """Answer queued requests in order; runs while any of them needs to wait."""
        try:
            plan = first
            # Ends when the queue is empty: it only grows by what the client sends, and reading
            # pauses once MAX_QUEUED requests are waiting.
            while plan is not None or self.queue:
                if plan is None:
                    req = self.queue[0]
                    plan = self.provider.plan(req.method, req.target, req.headers, req.body,
                                              req.keep_alive, req.http11, req.too_large, self.peer)
                await self._respond_async(plan)
                if self.queue:
                    self.queue.popleft()
                if self.closed:
                    break
                if self.reading_paused and len(self.queue) <= MAX_QUEUED // 2 and self.transport:
                    self.reading_paused = False
                    self.transport.resume_reading()
                plan = None
        except asyncio.CancelledError:
            pass
        finally:
            self.task = None

    async def _respond_async(self, plan: _Plan) -> None:
        if plan.delay > 0:
            await asyncio.sleep(plan.delay)
        if plan.reset == "before-response":
            self._reset()
            return
        if plan.events is None or (plan.chunk_delay == 0.0 and plan.reset is None):
            self._write_all(plan)
            return
        t = self.transport
        if t is None or self.closed:
            return
        conn = b"" if plan.keep_alive else b"connection: close\r\n"
        t.write(plan.head + conn + b"\r\n")
        for i, event in enumerate(plan.events):
            if plan.reset == "mid-stream" and i >= min(RESET_AFTER_EVENTS, len(plan.events) - 1):
                await self._flush(1.0)
                # Give the client a moment to read what was sent: an RST can make the peer's
                # kernel drop unread data, and tests want "some events, then an error".
                await asyncio.sleep(0.05)
                self._reset()
                return
            if i and plan.chunk_delay > 0:
                await asyncio.sleep(plan.chunk_delay)
            if self.closed:
                return
            if self.write_ready is not None and not self.write_ready.done():
                await self.write_ready
            t.write(_chunk(event) if plan.chunked else event)
        if plan.chunked:
            t.write(b"0\r\n\r\n")
        if not plan.keep_alive:
            self.closed = True
            t.close()

    async def _flush(self, timeout: float) -> None:
        t = self.transport
        deadline = time.monotonic() + timeout
        while t is not None and not self.closed and t.get_write_buffer_size() and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    def _reset(self) -> None:
        """Close with RST instead of FIN: what a crashed upstream looks like to the client."""
        t = self.transport
        if t is None or self.closed:
            return
        self.closed = True
        sock = t.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            except OSError:
                pass
        t.abort()

    def _fail(self, status: int, message: bytes) -> None:
        t = self.transport
        if t is None or self.closed:
            return
        body = orjson.dumps({"error": {"message": message.decode(), "type": "invalid_request_error",
                                       "param": None, "code": None}})
        t.write(b"%b%bcontent-length: %d\r\nconnection: close\r\n\r\n%b"
                % (_status_line(status), _JSON_HEADERS, len(body), body))
        self.closed = True
        t.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
