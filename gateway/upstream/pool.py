"""One pooled aiohttp session per upstream peer.

A connection is reused only for an identical peer (host, port, TLS settings), like pingora's peer
key: limits and keep-alive are per backend. Sessions are created lazily on first use, inside the
running loop, and closed on shutdown.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

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


class UpstreamPool:
    def __init__(self, process: ProcessConfig) -> None:
        self._process = process
        self._sessions: dict[PeerKey, aiohttp.ClientSession] = {}

    def session(self, key: PeerKey) -> aiohttp.ClientSession:
        session = self._sessions.get(key)
        if session is None:
            session = self._new_session(key)
            self._sessions[key] = session
        return session

    def _new_session(self, key: PeerKey) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._process.pool_max_size or 0,  # 0 = unbounded, agentgateway's default
            keepalive_timeout=self._process.pool_idle_timeout,
            ssl=self._ssl_context(key),
            ttl_dns_cache=300,
            enable_cleanup_closed=False,
        )
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
