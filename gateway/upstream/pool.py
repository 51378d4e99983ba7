"""One pooled aiohttp session per upstream peer.

A connection is reused only for an identical peer (host, port, TLS settings), like pingora's peer
key: limits and keep-alive are per backend. Sessions are created lazily on first use, inside the
running loop, and closed on shutdown.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.config.model import BackendTLS, ProcessConfig


@dataclass(frozen=True)
class PeerKey:
    host: str
    port: int
    tls: bool
    insecure: bool = False
    root: str | None = None
    sni: str | None = None

    @property
    def origin(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def peer_key(host: str, port: int, tls: BackendTLS | None, tls_on: bool) -> PeerKey:
    if tls is None:
        return PeerKey(host, port, tls_on)
    return PeerKey(host, port, True, tls.insecure, tls.root, tls.sni)


ConnectObserver = Callable[[str, float], None]  # (peer origin, seconds to connect)


class _TimedConnector(aiohttp.TCPConnector):
    """Times new connections (agentgateway_upstream_connect_duration_seconds).

    Overriding connection creation costs nothing on requests that reuse a pooled connection,
    unlike an aiohttp TraceConfig, which adds several signal dispatches to every request.
    """

    def __init__(self, origin: str, on_connect: ConnectObserver, **kw: Any) -> None:
        super().__init__(**kw)
        self._origin = origin
        self._on_connect = on_connect

    async def _create_connection(self, *args: Any, **kw: Any) -> Any:
        start = time.monotonic()
        proto = await super()._create_connection(*args, **kw)
        self._on_connect(self._origin, time.monotonic() - start)
        return proto


class UpstreamPool:
    def __init__(self, process: ProcessConfig, on_connect: ConnectObserver | None = None) -> None:
        self._process = process
        self._sessions: dict[PeerKey, aiohttp.ClientSession] = {}
        self._on_connect = on_connect

    def occupancy(self) -> Iterator[tuple[str, int, int]]:
        """(peer origin, connections in use, idle connections) per peer, read at metrics scrape."""
        for key, session in self._sessions.items():
            conn: Any = session.connector
            idle = sum(len(v) for v in getattr(conn, "_conns", {}).values())
            yield key.origin, len(getattr(conn, "_acquired", ())), idle

    def session(self, key: PeerKey) -> aiohttp.ClientSession:
        session = self._sessions.get(key)
        if session is None:
            session = self._new_session(key)
            self._sessions[key] = session
        return session

    def _new_session(self, key: PeerKey) -> aiohttp.ClientSession:
        settings: dict[str, Any] = dict(
            limit=self._process.pool_max_size or 0,  # 0 = unbounded, agentgateway's default
            keepalive_timeout=self._process.pool_idle_timeout,
            ssl=self._ssl_context(key),
            ttl_dns_cache=300,
            enable_cleanup_closed=False,
        )
        connector = (_TimedConnector(key.origin, self._on_connect, **settings) if self._on_connect
                     else aiohttp.TCPConnector(**settings))
        return aiohttp.ClientSession(
            base_url=key.origin,
            connector=connector,
            # The gateway forwards bytes as they come; it decodes nothing it does not need to.
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._process.connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),
            raise_for_status=False,
        )

    @staticmethod
    def _ssl_context(key: PeerKey) -> ssl.SSLContext | bool:
        if not key.tls:
            return False
        ctx = ssl.create_default_context(cafile=key.root)
        if key.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
