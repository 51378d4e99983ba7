"""Raw-socket HTTP helpers for the mock tests (a plain module: tests/ has no packages)."""

from __future__ import annotations

import socket
import time

import httptools


class RawResponse:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.complete = False


class _Collector:
    """httptools callbacks collecting the responses read off one raw socket."""

    def __init__(self) -> None:
        self.responses: list[RawResponse] = []
        self.parser = httptools.HttpResponseParser(self)

    def on_message_begin(self) -> None:
        self.responses.append(RawResponse())

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1].headers[name.decode().lower()] = value.decode()

    def on_headers_complete(self) -> None:
        self.responses[-1].status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.responses[-1].body += body

    def on_message_complete(self) -> None:
        self.responses[-1].complete = True


def read_responses(sock: socket.socket, count: int, timeout: float = 5.0) -> list[RawResponse]:
    """Read exactly `count` complete HTTP responses from `sock` (bounded by `timeout`)."""
    col = _Collector()
    deadline = time.monotonic() + timeout
    while sum(r.complete for r in col.responses) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"got {len(col.responses)} of {count} responses")
        sock.settimeout(remaining)
        data = sock.recv(65536)
        if not data:
            break
        col.parser.feed_data(data)
    return col.responses


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5.0)
