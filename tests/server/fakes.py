"""A transport that records what the protocol does, and a strict response parser."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httptools

from gateway.config.model import FrontendHTTP
from gateway.server.protocol import HttpProtocol
from gateway.server.state import ServerState
from gateway.server.types import Handler


class FakeTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.buffer = bytearray()
        self.closed = False
        self.reading_paused = False
        self.pause_reading_calls = 0
        self.writes_after_close = 0
        self.lost = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            self.writes_after_close += 1
            return
        self.buffer += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            # Real transports report the loss on a later loop iteration, after flushing.
            asyncio.get_running_loop().call_soon(self._lose)

    def abort(self) -> None:
        self.close()

    def _lose(self) -> None:
        if not self.lost:
            self.lost = True
            self.protocol.connection_lost(None)

    def pause_reading(self) -> None:
        self.reading_paused = True
        self.pause_reading_calls += 1

    def resume_reading(self) -> None:
        self.reading_paused = False

    def client_disconnects(self) -> None:
        self.closed = True
        self._lose()

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


@dataclass
class Conn:
    protocol: HttpProtocol
    transport: FakeTransport
    state: ServerState

    def feed(self, data: bytes) -> None:
        self.protocol.data_received(data)

    async def settle(self) -> None:
        """Run until no handler task is left and pending callbacks have run."""
        for _ in range(100):
            if self.state.tasks:
                await asyncio.wait(set(self.state.tasks))
            for _ in range(3):
                await asyncio.sleep(0)
            if not self.state.tasks:
                return


def connect(handler: Handler, settings: FrontendHTTP | None = None,
            state: ServerState | None = None) -> Conn:
    state = state if state is not None else ServerState()
    protocol = HttpProtocol(handler, settings or FrontendHTTP(), state, asyncio.get_running_loop())
    transport = FakeTransport(protocol)
    protocol.connection_made(transport)
    return Conn(protocol, transport, state)


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


class _Collector:
    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.parser: httptools.HttpResponseParser | None = None

    def on_message_begin(self) -> None:
        self.responses.append(Response(0))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.responses[-1].headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        self.responses[-1].status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.responses[-1].body += body


def parse_responses(data: bytes) -> list[Response]:
    """Every complete response in `data` (not for HEAD: a parser cannot know the body is absent)."""
    collector = _Collector()
    parser = httptools.HttpResponseParser(collector)
    collector.parser = parser
    parser.feed_data(data)
    return collector.responses
