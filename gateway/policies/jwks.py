"""JSON Web Key Sets for jwtAuth: fixed (inline/file, parsed at load) or fetched from a URL.

A remote set is fetched on first use, refreshed in the background once it is older than
`refresh_after`, and refetched at once when a token names a key id it does not know (key
rotation), at most every `min_refetch` seconds so tokens with made-up key ids cannot make the
gateway hammer the identity provider. A failed fetch keeps the previous keys.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import jwt

from gateway.config.lower_auth import parse_jwks

log = logging.getLogger("agentgateway.jwks")

MAX_JWKS_BYTES = 1024 * 1024
FETCH_TIMEOUT = 5.0


def to_keys(jwks: tuple[dict[str, Any], ...]) -> list[jwt.PyJWK]:
    return [jwt.PyJWK(k) for k in jwks]


class KeySet:
    """Keys known now; `candidates` may fetch (remote sets only)."""

    def __init__(self, keys: list[jwt.PyJWK]) -> None:
        self.keys = keys
        self.version = 0  # bumped whenever the keys change, so cached verifications are dropped

    def _match(self, kid: str | None) -> list[jwt.PyJWK]:
        if kid is None:
            return list(self.keys)
        return [k for k in self.keys if k.key_id == kid]

    async def candidates(self, kid: str | None) -> list[jwt.PyJWK]:
        return self._match(kid)


class RemoteKeySet(KeySet):
    def __init__(self, url: str, refresh_after: float = 300.0, min_refetch: float = 1.0) -> None:
        super().__init__([])
        self.url = url
        self.refresh_after = refresh_after
        self.min_refetch = min_refetch
        self._fetched_at: float | None = None  # last successful fetch (loop time)
        self._tried_at: float | None = None  # last attempt
        self._lock = asyncio.Lock()
        self._background: asyncio.Task[None] | None = None
        self._raw: tuple[dict[str, Any], ...] = ()

    async def candidates(self, kid: str | None) -> list[jwt.PyJWK]:
        now = asyncio.get_running_loop().time()
        if self._tried_at is None:
            await self.refresh()
        else:
            found = self._match(kid)
            if found:
                if self._fetched_at is None or now - self._fetched_at >= self.refresh_after:
                    self._refresh_in_background()
                return found
            if now - self._tried_at >= self.min_refetch:
                await self.refresh()
        return self._match(kid)

    def _refresh_in_background(self) -> None:
        if self._background is None or self._background.done():
            self._background = asyncio.create_task(self.refresh())

    async def refresh(self) -> None:
        started = asyncio.get_running_loop().time()
        async with self._lock:
            if self._tried_at is not None and self._tried_at >= started:
                return  # another request refreshed while this one waited
            self._tried_at = asyncio.get_running_loop().time()
            try:
                raw = parse_jwks(await self._fetch())
                keys = to_keys(raw)
                if raw != self._raw:
                    self._raw, self.keys = raw, keys
                    self.version += 1
                self._fetched_at = self._tried_at
            except (OSError, aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWKError) as e:
                log.warning("jwks fetch from %s failed (keeping %d known keys): %s", self.url, len(self.keys), e)

    async def _fetch(self) -> str:
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.url) as r:
            if r.status != 200:
                raise ValueError(f"HTTP {r.status}")
            body = await r.content.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
            return body.decode()
