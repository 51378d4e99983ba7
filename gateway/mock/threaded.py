"""Run a MockProvider on its own event loop in a background thread (for synchronous callers)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from gateway.mock.server import MockProvider, RecordedRequest

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class ThreadedMockProvider:
    """Context manager: `with ThreadedMockProvider() as mock: ... mock.port ...`.

    Keyword arguments are passed to MockProvider. The thread is a daemon, so a test that forgets
    to stop it cannot hang interpreter exit.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_ms: float = 0.0,
                 **kwargs: Any) -> None:
        self.provider = MockProvider(host, port, latency_ms, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.provider.port

    @property
    def url(self) -> str:
        return self.provider.url

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.provider.requests

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mock-provider", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"mock provider did not start within {START_TIMEOUT_S:.0f}s")
        if self._error is not None:
            raise RuntimeError("mock provider failed to start") from self._error

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # loop already closed between the check and the call
                pass
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None

    def __enter__(self) -> ThreadedMockProvider:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.provider.start()
        except BaseException as e:  # surfaced to start() in the caller's thread
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.provider.stop()
