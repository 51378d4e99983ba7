"""The contract between the HTTP front end and whoever answers requests.

The protocol (server/protocol.py) parses bytes into a `Request`, buffers its body (bounded by
frontendPolicies.http.maxBufferSize), then awaits `handler(request, responder)`. Requests on one
connection are answered strictly in order (pipelining), so at most one handler runs per
connection at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Headers = list[tuple[bytes, bytes]]  # names lower-case, values raw


class Request:
    __slots__ = ("method", "target", "path", "query", "headers", "body", "http_version",
                 "keep_alive", "client", "received_at")

    def __init__(
        self,
        method: str,
        target: bytes,
        headers: Headers,
        body: bytes,
        http_version: str = "1.1",
        keep_alive: bool = True,
        client: tuple[str, int] | None = None,
        received_at: float = 0.0,
    ) -> None:
        self.method = method  # "GET", "POST", ...
        self.target = target  # raw request-target as sent, e.g. b"/v1/messages?x=1"
        path, _, query = target.partition(b"?")
        self.path = path.decode("latin-1")
        self.query = query.decode("latin-1")
        self.headers = headers
        self.body = body
        self.http_version = http_version
        self.keep_alive = keep_alive
        self.client = client
        self.received_at = received_at  # loop.time() when the head was complete

    def header(self, name: bytes) -> bytes | None:
        """First value of a header (name lower-case), or None."""
        for k, v in self.headers:
            if k == name:
                return v
        return None


class Responder(Protocol):
    """How a handler answers. Either one `send` call, or `start` + `write`* + `end`."""

    @property
    def disconnected(self) -> bool:
        """True once the client has gone away; handlers stop work and cancel upstream calls."""
        ...

    @property
    def complete(self) -> bool:
        """True once the whole response has been written."""
        ...

    @property
    def started(self) -> bool:
        """True once the status line has been written (an error can then only abort)."""
        ...

    def send(self, status: int, headers: Headers, body: bytes) -> None:
        """A complete response; sets content-length. `headers` must not contain it."""
        ...

    def start(self, status: int, headers: Headers) -> None:
        """Begin a streamed response. Without a content-length header the body is chunked."""
        ...

    async def write(self, chunk: bytes) -> None:
        """Write a body chunk; waits while the client is slow (transport paused writing)."""
        ...

    def end(self) -> None:
        """Finish a streamed response (writes the last chunk when chunked)."""
        ...

    def abort(self) -> None:
        """Close the connection without finishing the response (a broken upstream stream)."""
        ...


Handler = Callable[[Request, Responder], Awaitable[None]]
