"""Process-wide front-end state shared by every connection (uvicorn's ServerState)."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Connection(Protocol):
    """What shutdown needs from a connection (HttpProtocol implements it)."""

    def shutdown(self) -> None:
        """Close now if idle, else close after the current response."""
        ...

    def close(self) -> None:
        """Close the transport unconditionally."""
        ...


class ServerState:
    __slots__ = ("connections", "tasks", "total_requests", "connections_accepted", "closing",
                 "server_header")

    def __init__(self, server_name: bytes = b"agentgateway-py") -> None:
        self.connections: set[Connection] = set()
        self.tasks: set[asyncio.Task[None]] = set()  # handler tasks, so shutdown can await them
        self.total_requests = 0
        self.connections_accepted = 0
        # Set by shutdown so a connection accepted during the drain is closed at once.
        self.closing = False
        # Precomputed once; every response copies these bytes as they are.
        self.server_header = b"server: " + server_name + b"\r\n"
