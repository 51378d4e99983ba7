"""Listening sockets and graceful shutdown for the HTTP/1.1 front end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from gateway.config.model import FrontendHTTP
from gateway.server.protocol import HttpProtocol
from gateway.server.state import ServerState
from gateway.server.types import Handler

logger = logging.getLogger(__name__)

_BACKLOG = 2048  # a burst of connects during a deploy should queue, not be refused


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    settings: FrontendHTTP,
    state: ServerState,
    reuse_port: bool = False,
) -> asyncio.AbstractServer:
    """Listen on host:port; every accepted connection gets its own HttpProtocol."""
    loop = asyncio.get_running_loop()

    def factory() -> HttpProtocol:
        return HttpProtocol(handler, settings, state, loop)

    return await loop.create_server(factory, host, port, reuse_port=reuse_port, backlog=_BACKLOG)


async def start_unix_server(handler: Handler, path: str, settings: FrontendHTTP,
                            state: ServerState) -> asyncio.AbstractServer:
    """The same front end on a unix socket (a `--workers` worker's private channel)."""
    loop = asyncio.get_running_loop()

    def factory() -> HttpProtocol:
        return HttpProtocol(handler, settings, state, loop)

    return await loop.create_unix_server(factory, path)


async def shutdown(servers: Iterable[asyncio.AbstractServer], state: ServerState, deadline: float) -> None:
    """Stop accepting, let in-flight requests finish for up to `deadline` seconds, then close all."""
    servers = list(servers)
    state.closing = True
    for server in servers:
        server.close()
    # Idle connections close now; busy ones answer their current request with `connection: close`.
    for conn in list(state.connections):
        conn.shutdown()

    if state.tasks:
        _, pending = await asyncio.wait(set(state.tasks), timeout=max(deadline, 0.0))
        if pending:
            logger.warning("shutdown deadline reached; cancelling %d in-flight request(s)", len(pending))
            for task in pending:
                task.cancel()
            # Cancelled handlers get a moment to unwind (close upstream streams); no more.
            await asyncio.wait(pending, timeout=1.0)

    for conn in list(state.connections):
        conn.close()
    for server in servers:
        await server.wait_closed()
