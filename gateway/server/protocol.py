"""HttpProtocol: the HTTP/1.1 front end, an asyncio.Protocol driven by httptools.

One instance per connection. httptools calls back into it (on_url, on_header, ...) while
`data_received` feeds bytes; a complete request becomes a `RequestCycle` that is handed to the
handler. Requests are answered strictly in order: one handler task per connection at a time,
later (pipelined) requests wait in a deque with reading paused.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import cast

import httptools

from gateway.config.model import FrontendHTTP
from gateway.server.cycle import TEXT_PLAIN, RequestCycle
from gateway.server.date_cache import date_header
from gateway.server.flow_control import FlowControl
from gateway.server.state import ServerState
from gateway.server.status import CONTINUE_RESPONSE, status_line
from gateway.server.types import Handler, Headers, Request

logger = logging.getLogger(__name__)

# Decoding the method per request would allocate a new str each time.
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")}
# One set lookup per header instead of several comparisons; only these need attention.
_WATCHED_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"expect", b"upgrade"))

_MSG_BAD_REQUEST = b"bad request"
_MSG_TIMEOUT = b"request timeout"
_MSG_TOO_LARGE = b"payload too large"
_MSG_HEADERS_TOO_LARGE = b"request header fields too large"
_MSG_UPGRADE = b"upgrade not supported"
_MSG_INTERNAL = b"internal error"


class _StopParsing(Exception):
    """Raised from a parser callback to abandon the rest of the buffer (error already queued)."""


def error_response(status: int, message: bytes, server_header: bytes) -> bytes:
    """A protocol-level error: plain text, closes the connection."""
    return b"".join((
        status_line(status), server_header, date_header(),
        b"content-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n" % len(message),
        b"connection: close\r\n\r\n", message,
    ))


class HttpProtocol(asyncio.Protocol):
    def __init__(
        self,
        handler: Handler,
        settings: FrontendHTTP,
        state: ServerState,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # Global state (shared, read-only here except counters and registries)
        self._handler = handler
        self._state = state
        self._loop = loop if loop is not None else asyncio.get_event_loop()
        self._max_body = settings.max_buffer_size
        self._max_headers = settings.http1_max_headers
        self._max_head_bytes = settings.max_header_bytes
        self._header_timeout = settings.header_read_timeout
        self._idle_timeout = settings.http1_idle_timeout

        # Per-connection state
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport = None  # type: ignore[assignment]  # connection_made
        self._flow: FlowControl = None  # type: ignore[assignment]
        self._client: tuple[str, int] | None = None
        self._active: RequestCycle | None = None  # the request whose handler runs now
        self._active_task: asyncio.Task[None] | None = None
        self._queue: deque[RequestCycle] = deque()  # pipelined requests waiting, FIFO
        # One idle timer per connection, not one per request: going busy only clears `_idle_since`
        # and the timer, when it fires, re-arms itself for whatever idle time is still owed.
        self._idle_timer: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None  # loop.time() the connection went idle; None while busy
        self._head_timer: asyncio.TimerHandle | None = None
        self._stopped = False  # parser no longer fed: error, close pending, or connection gone
        self._lost = False
        self.closing = False  # no keep-alive after the current response (shutdown, close)
        self._pending_error: tuple[int, bytes] | None = None  # sent once earlier responses are out
        self._message_seq = 0  # tells whether a head spans data_received calls
        self._raw_head_bytes = 0

        # Per-request state (the message being parsed)
        self._in_head = False
        self._url = b""
        self._headers: Headers = []
        self._head_bytes = 0
        self._method = "GET"
        self._keep_alive = True
        self._received_at = 0.0
        self._body_parts: list[bytes] = []
        self._body_size = 0
        self._content_length = -1  # -1: no content-length header
        self._has_body = False
        self._expect_continue = False
        self._continue_pending = False  # 100 Continue owed once earlier responses are out
        self._upgrade = b""

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only structurally alike.
        self._transport = cast(asyncio.Transport, transport)
        self._flow = FlowControl(self._transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._client = (str(peer[0]), int(peer[1]))
        state = self._state
        state.connections.add(self)
        state.connections_accepted += 1
        if state.closing:
            self.close()
            return
        # The first request head must arrive in time too, or idle sockets pile up (slowloris).
        self._head_timer = self._loop.call_later(self._header_timeout, self._on_head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._state.connections.discard(self)
        self._lost = True
        self._stopped = True
        self.closing = True
        self._cancel_timers()
        if self._active is not None:
            self._active.on_disconnect()
            # Nobody is left to answer: stop the handler so an upstream call it is waiting on is
            # cancelled (and, for LLM calls, no longer billed) instead of running to the end.
            if self._active_task is not None and not self._active_task.done():
                self._active_task.cancel()
        for cycle in self._queue:
            cycle.on_disconnect()
        self._queue.clear()  # never started: nothing to run them for
        if self._flow is not None:
            self._flow.connection_lost()

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        if self._stopped:
            return
        head_before = self._message_seq if self._in_head else -1
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._after_ignored_upgrade(data, exc.args[0])
            return
        except httptools.HttpParserCallbackError as exc:
            if not self._stopped:  # a bug in a callback, not a deliberate stop
                logger.error("http parser callback failed", exc_info=exc.__context__)
                self._fail(400, _MSG_BAD_REQUEST)
            return
        except httptools.HttpParserError:
            self._fail(400, _MSG_BAD_REQUEST)
            return
        if self._in_head:
            # httptools buffers a partial header internally; bound it by what we have fed it.
            if head_before == self._message_seq:
                self._raw_head_bytes += len(data)
                if self._raw_head_bytes > self._max_head_bytes:
                    self._fail(431, _MSG_HEADERS_TOO_LARGE)
                    return
            if self._head_timer is None:
                self._head_timer = self._loop.call_later(self._header_timeout, self._on_head_timeout)
        elif self._active is None:
            self._arm_idle_timer()

    def pause_writing(self) -> None:
        self._flow.pause_writing()

    def resume_writing(self) -> None:
        self._flow.resume_writing()

    # -- httptools callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_head = True
        self._message_seq += 1
        self._raw_head_bytes = 0
        self._url = b""
        self._headers = []
        self._head_bytes = 0
        self._body_parts = []
        self._body_size = 0
        self._content_length = -1
        self._has_body = False
        self._expect_continue = False
        self._continue_pending = False
        self._upgrade = b""

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._max_head_bytes:
            self._fail(431, _MSG_HEADERS_TOO_LARGE)
            raise _StopParsing

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4  # ": " and CRLF
        name = name.lower()
        headers = self._headers
        headers.append((name, value))
        if len(headers) > self._max_headers or self._head_bytes > self._max_head_bytes:
            self._fail(431, _MSG_HEADERS_TOO_LARGE)
            raise _StopParsing
        if name in _WATCHED_HEADERS:
            if name == b"content-length":
                self._content_length = int(value)  # llhttp has validated the digits
                self._has_body = self._content_length > 0
            elif name == b"transfer-encoding":
                self._has_body = True
            elif name == b"expect":
                self._expect_continue = value.lower() == b"100-continue"
            else:
                self._upgrade = value.lower()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        parser = self._parser
        method = parser.get_method()
        self._method = _METHODS.get(method) or method.decode("latin-1")
        self._keep_alive = parser.should_keep_alive()
        self._received_at = self._loop.time()
        if parser.should_upgrade():
            # httptools skips the body of an upgrade request and hands us the raw stream; only a
            # body-less, non-websocket upgrade (h2c from curl) can be served as plain HTTP/1.1.
            if self._method == "CONNECT" or self._has_body or b"websocket" in self._upgrade:
                self._fail(501, _MSG_UPGRADE)
                raise _StopParsing
        if self._content_length > self._max_body:
            self._fail(413, _MSG_TOO_LARGE)
            raise _StopParsing
        if self._expect_continue and self._has_body and parser.get_http_version() != "1.0":
            if self._active is None:
                self._transport.write(CONTINUE_RESPONSE)
            else:
                # Writing now would land inside the in-flight response; wait for our turn.
                self._continue_pending = True

    def on_body(self, body: bytes) -> None:
        self._continue_pending = False  # the client stopped waiting
        self._body_size += len(body)
        if self._body_size > self._max_body:
            self._fail(413, _MSG_TOO_LARGE)
            raise _StopParsing
        self._body_parts.append(body)

    def on_message_complete(self) -> None:
        self._state.total_requests += 1
        request = Request(
            self._method,
            self._url,
            self._headers,
            b"".join(self._body_parts),  # one part: the same object, no copy
            self._parser.get_http_version(),
            self._keep_alive,
            self._client,
            self._received_at,
        )
        self._body_parts = []
        cycle = RequestCycle(self, self._transport, self._flow, request, self._state.server_header)
        if self._active is None:
            self._start(cycle)
        else:
            self._queue.append(cycle)
            # Stop reading while requests wait: bounds buffered requests per connection.
            self._flow.pause_reading()
        if not self._keep_alive:
            # Nothing after a closing request is answered, so do not parse it.
            self._stopped = True
            self._flow.pause_reading()
            raise _StopParsing

    # -- request cycles -------------------------------------------------------------------------

    def _start(self, cycle: RequestCycle) -> None:
        self._active = cycle
        task = self._active_task = self._loop.create_task(self._run(cycle))
        tasks = self._state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, cycle: RequestCycle) -> None:
        try:
            await self._handler(cycle.request, cycle)
        except asyncio.CancelledError:
            if not cycle.complete:
                cycle.abort()
            raise
        except Exception:
            logger.exception("handler failed for %s %s", cycle.request.method, cycle.request.path)
            if not cycle.started:
                cycle.send(500, TEXT_PLAIN, _MSG_INTERNAL)
            elif not cycle.complete:
                cycle.abort()
        else:
            if not cycle.started:
                logger.error("handler returned without responding to %s %s",
                             cycle.request.method, cycle.request.path)
                cycle.send(500, TEXT_PLAIN, _MSG_INTERNAL)
            elif not cycle.complete:
                logger.error("handler returned without ending the response to %s %s",
                             cycle.request.method, cycle.request.path)
                cycle.abort()
        finally:
            self._cycle_finished()

    def on_response_complete(self, cycle: RequestCycle) -> None:
        """Called by the cycle once its last byte is written."""
        if not cycle.keep_alive or self.closing:
            self.close()

    def _cycle_finished(self) -> None:
        """The handler task is done: run the next pipelined request, or go idle."""
        self._active = None
        if self._lost or self._transport.is_closing():
            return
        if self._queue:
            cycle = self._queue.popleft()
            if not self._queue and not self._stopped:
                self._flow.resume_reading()
            self._start(cycle)
        elif self._pending_error is not None:
            status, message = self._pending_error
            self._transport.write(error_response(status, message, self._state.server_header))
            self.close()
        elif self.closing:
            self.close()
        else:
            if self._continue_pending:
                self._continue_pending = False
                self._transport.write(CONTINUE_RESPONSE)
            if not self._in_head:
                self._arm_idle_timer()

    # -- errors, timers, shutdown ---------------------------------------------------------------

    def _fail(self, status: int, message: bytes) -> None:
        """A protocol-level error: stop parsing; answer once earlier responses are written."""
        if self._stopped:
            return
        self._stopped = True
        self._in_head = False
        self._cancel_timers()
        self._flow.pause_reading()
        if self._active is None:
            self._transport.write(error_response(status, message, self._state.server_header))
            self.close()
        else:
            self._pending_error = (status, message)

    def _after_ignored_upgrade(self, data: bytes, offset: int) -> None:
        # The parser stopped at the upgrade; the rest of the stream is still HTTP/1.1 to us.
        self._parser = httptools.HttpRequestParser(self)
        rest = data[offset:]
        if rest and not self._stopped:
            self.data_received(rest)
        elif self._active is None and not self._stopped:
            self._arm_idle_timer()

    def _arm_idle_timer(self) -> None:
        if self._stopped:
            return
        self._idle_since = self._loop.time()
        if self._idle_timer is None:
            self._idle_timer = self._loop.call_later(self._idle_timeout, self._on_idle_timeout)

    def _on_idle_timeout(self) -> None:
        self._idle_timer = None
        since = self._idle_since
        if since is None or self._active is not None or self._queue:
            return  # busy: re-armed when the connection goes idle again
        remaining = since + self._idle_timeout - self._loop.time()
        if remaining > 0:  # it was busy and went idle again after this timer was set
            self._idle_timer = self._loop.call_later(remaining, self._on_idle_timeout)
            return
        self.close()

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._fail(408, _MSG_TIMEOUT)
        elif self._active is None and not self._queue and self._message_seq == 0:
            self.close()  # connected but never sent a byte: nobody to answer

    def _cancel_timers(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def shutdown(self) -> None:
        """Close now if no handler is running, else after the current response."""
        self.closing = True
        if self._active is None and not self._queue:
            self.close()

    def close(self) -> None:
        self._stopped = True
        self.closing = True
        self._cancel_timers()
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.close()
