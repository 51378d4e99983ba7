"""The supervisor's private channel to one worker: HTTP over the worker's unix socket.

The socket lives in a directory only the gateway's user can enter; it serves the worker's
readiness, its own metrics exposition and `POST /logging` (gateway/workers/worker.py).
"""

from __future__ import annotations

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


class WorkerChannel:
    def __init__(self, path: str) -> None:
        self.path = path
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No keep-alive: a restarted worker listens on a new socket at the same path.
            connector = aiohttp.UnixConnector(path=self.path, force_close=True)
            self._session = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)
        return self._session

    async def request(self, method: str, path: str) -> tuple[int, str]:
        """(status, body); raises OSError / aiohttp.ClientError when the worker cannot be reached."""
        async with self._client().request(method, f"http://worker{path}") as resp:
            return resp.status, await resp.text()

    async def ready(self) -> bool:
        try:
            status, _ = await self.request("GET", "/healthz/ready")
        except (OSError, aiohttp.ClientError, TimeoutError):
            return False
        return status == 200

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
