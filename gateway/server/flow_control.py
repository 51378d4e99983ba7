"""Read and write back-pressure for one connection (uvicorn's flow_control, trimmed)."""

from __future__ import annotations

import asyncio


class FlowControl:
    __slots__ = ("_transport", "read_paused", "write_paused", "_writable")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.read_paused = False
        self.write_paused = False
        # Set while the transport accepts writes; a streaming writer awaits it so a slow client
        # bounds our buffering to the transport's high-water mark.
        self._writable = asyncio.Event()
        self._writable.set()

    async def drain(self) -> None:
        await self._writable.wait()

    # Idempotent, because several code paths (pipelining, errors, shutdown) toggle reading.
    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self._transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True
        self._writable.clear()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._writable.set()

    def connection_lost(self) -> None:
        # Wake any writer parked in drain() so its handler can observe `disconnected`.
        self.write_paused = False
        self._writable.set()
