"""RequestCycle: one per request; implements `Responder` (response framing and streaming)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from gateway.server.date_cache import date_header
from gateway.server.flow_control import FlowControl
from gateway.server.status import status_line
from gateway.server.types import Headers, Request

if TYPE_CHECKING:
    from gateway.server.protocol import HttpProtocol

# Framing and hop-by-hop headers are decided here, never copied from the handler: a proxied
# upstream's `transfer-encoding` or a duplicate `content-length` would corrupt the connection.
_FRAMING_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"connection", b"keep-alive"))
_CONNECTION_CLOSE = b"connection: close\r\n"
_CONNECTION_KEEP_ALIVE = b"connection: keep-alive\r\n"
_CHUNKED = b"transfer-encoding: chunked\r\n"
_LAST_CHUNK = b"0\r\n\r\n"
_CRLF = b"\r\n"

TEXT_PLAIN: Headers = [(b"content-type", b"text/plain; charset=utf-8")]


def _bodyless(status: int) -> bool:
    # RFC 9110 6.4.1: 1xx, 204 and 304 responses never carry a body.
    return status < 200 or status == 204 or status == 304


class RequestCycle:
    __slots__ = ("request", "keep_alive", "_protocol", "_transport", "_flow", "_server_header",
                 "_head_only", "_http10", "_started", "_complete", "_disconnected", "_chunked",
                 "_remaining")

    def __init__(
        self,
        protocol: HttpProtocol,
        transport: asyncio.Transport,
        flow: FlowControl,
        request: Request,
        server_header: bytes,
    ) -> None:
        self.request = request
        self.keep_alive = request.keep_alive  # final value fixed when the response head is built
        self._protocol = protocol
        self._transport = transport
        self._flow = flow
        self._server_header = server_header
        self._head_only = request.method == "HEAD"
        self._http10 = request.http_version == "1.0"
        self._started = False
        self._complete = False
        self._disconnected = False
        self._chunked = False
        self._remaining = -1  # bytes still owed under a handler-supplied content-length; -1: none

    # -- Responder ------------------------------------------------------------------------------

    @property
    def disconnected(self) -> bool:
        return self._disconnected

    @property
    def started(self) -> bool:
        return self._started

    @property
    def complete(self) -> bool:
        return self._complete

    def send(self, status: int, headers: Headers, body: bytes) -> None:
        if self._started:
            raise RuntimeError("response already started")
        self._started = True
        if self._disconnected:
            self._complete = True
            return
        parts, _ = self._head(status, headers)
        if _bodyless(status):
            parts.append(self._connection_header())
            parts.append(_CRLF)
        else:
            parts.append(b"content-length: %d\r\n" % len(body))
            parts.append(self._connection_header())
            parts.append(_CRLF)
            if body and not self._head_only:
                parts.append(body)
        self._transport.write(b"".join(parts))
        self._finish()

    def start(self, status: int, headers: Headers) -> None:
        if self._started:
            raise RuntimeError("response already started")
        self._started = True
        if self._disconnected:
            return
        parts, content_length = self._head(status, headers)
        if _bodyless(status):
            self._remaining = 0
        elif content_length is not None:
            parts.append(b"content-length: %d\r\n" % content_length)
            self._remaining = content_length
        elif self._http10:
            # HTTP/1.0 has no chunked coding: the body is delimited by closing the connection.
            self.keep_alive = False
        else:
            parts.append(_CHUNKED)
            self._chunked = True
        parts.append(self._connection_header())
        parts.append(_CRLF)
        self._transport.write(b"".join(parts))

    async def write(self, chunk: bytes) -> None:
        if self._disconnected:
            return
        if not self._started:
            raise RuntimeError("write() before start()")
        if self._complete:
            raise RuntimeError("write() after the response completed")
        if not chunk or self._head_only:
            # An empty chunk would read as the terminating chunk in chunked coding.
            return
        if self._flow.write_paused:
            await self._flow.drain()
            if self._disconnected:
                return
        if self._chunked:
            self._transport.write(b"".join((b"%x\r\n" % len(chunk), chunk, _CRLF)))
            return
        if self._remaining >= 0:
            if len(chunk) > self._remaining:
                raise RuntimeError("response body longer than its content-length")
            self._remaining -= len(chunk)
        self._transport.write(chunk)

    def end(self) -> None:
        if self._complete:
            return
        if not self._started:
            raise RuntimeError("end() before start()")
        if self._disconnected:
            self._complete = True
            return
        if self._chunked and not self._head_only:
            self._transport.write(_LAST_CHUNK)
        elif self._remaining > 0 and not self._head_only:
            # Short body: the client would wait for the missing bytes, so the connection ends here.
            self.keep_alive = False
        self._finish()

    def abort(self) -> None:
        self._complete = True
        self.keep_alive = False
        self._protocol.close()

    # -- internals ------------------------------------------------------------------------------

    def _head(self, status: int, headers: Headers) -> tuple[list[bytes], int | None]:
        """Status line, default and handler headers; returns the handler's content-length."""
        if self._protocol.closing:
            self.keep_alive = False
        parts = [status_line(status), self._server_header, date_header()]
        content_length: int | None = None
        append = parts.append
        for name, value in headers:
            if name in _FRAMING_HEADERS:
                if name == b"content-length":
                    content_length = int(value)
                elif name == b"connection" and b"close" in value.lower():
                    self.keep_alive = False
                continue
            append(name)
            append(b": ")
            append(value)
            append(_CRLF)
        return parts, content_length

    def _connection_header(self) -> bytes:
        if not self.keep_alive:
            return _CONNECTION_CLOSE
        # HTTP/1.0 defaults to close, so a persistent 1.0 connection must be confirmed.
        return _CONNECTION_KEEP_ALIVE if self._http10 else b""

    def _finish(self) -> None:
        self._complete = True
        self._protocol.on_response_complete(self)

    def on_disconnect(self) -> None:
        self._disconnected = True
