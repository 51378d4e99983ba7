"""One pooled aiohttp session per upstream peer.

A connection is reused only for an identical peer (host, port, TLS settings), like pingora's peer
key: limits and keep-alive are per backend. Sessions are created lazily on first use, inside the
running loop, and closed on shutdown.

Per-request cost of the aiohttp client is most of a proxied request's CPU, so what can be done once
is: peer keys and absolute request URLs are cached (aiohttp would otherwise join and re-parse the
URL on every request), and requests are built by `LeanRequest`, which skips aiohttp's automatic
headers (the gateway forwards the client's, it adds none of its own) without copying the header
multidict twice.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import hdrs
from aiohttp.client_reqrep import ClientRequest
from multidict import CIMultiDict, istr
from yarl import URL

from gateway.config.model import BackendTLS, ProcessConfig

# Headers aiohttp would add on its own; the gateway sends exactly what the client and policies set.
SKIP_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept", "Content-Type")
_SKIP = CIMultiDict[None]((h, None) for h in sorted(SKIP_AUTO_HEADERS))
_MAX_CACHED = 4096  # peer keys and URLs; a client's query strings can make paths unbounded


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


_PEERS: dict[tuple[str, int, BackendTLS | None, bool], PeerKey] = {}


def peer_key(host: str, port: int, tls: BackendTLS | None, tls_on: bool) -> PeerKey:
    # A frozen dataclass costs a microsecond or two to build; backends are few, so each is built once.
    cache_key = (host, port, tls, tls_on)
    key = _PEERS.get(cache_key)
    if key is None:
        if len(_PEERS) >= _MAX_CACHED:
            _PEERS.clear()
        if tls is None:
            key = PeerKey(host, port, tls_on)
        else:
            key = PeerKey(host, port, True, tls.insecure, tls.root, tls.sni)
        _PEERS[cache_key] = key
    return key


def _lean_request_applies() -> bool:
    """LeanRequest relies on aiohttp adding only these automatic headers (true for 3.9 - 3.14);
    a future aiohttp that adds others gets its own ClientRequest back."""
    auto = {istr(h) for h in ClientRequest.DEFAULT_HEADERS} | {istr(hdrs.USER_AGENT)}
    stored_privately = isinstance(ClientRequest.__dict__.get("skip_auto_headers"), property)  # since 3.10
    return auto <= {istr(h) for h in SKIP_AUTO_HEADERS} and stored_privately


class LeanRequest(ClientRequest):
    """aiohttp's request with the per-request header work cut to what the gateway needs.

    The session skips every automatic header, so computing which to skip per request (a sorted
    multidict and a copy of the headers, in aiohttp) is replaced by a shared constant; the headers
    the session prepared are copied in one C-level `extend` instead of a Python loop.
    """

    def update_auto_headers(self, skip_auto_headers: Any) -> None:
        self._skip_auto_headers = _SKIP

    def update_headers(self, headers: Any) -> None:
        host = self.url.host_port_subcomponent
        if not isinstance(headers, CIMultiDict) or hdrs.HOST in headers or host is None:
            super().update_headers(headers)  # an explicit Host header replaces aiohttp's
            return
        self.headers = CIMultiDict()
        self.headers[hdrs.HOST] = host
        self.headers.extend(headers)


_REQUEST_CLASS: type[ClientRequest] = LeanRequest if _lean_request_applies() else ClientRequest


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
        self._urls: dict[tuple[PeerKey, str], URL] = {}
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

    def url(self, key: PeerKey, path: str) -> URL:
        """The absolute URL of `path` (a request-target: path and query, as sent) on the peer."""
        url = self._urls.get((key, path))
        if url is None:
            if len(self._urls) >= _MAX_CACHED:
                self._urls.clear()
            # What aiohttp does with a path and the session's base_url, done once per (peer, path).
            url = self._urls[(key, path)] = URL(key.origin).join(URL(path))
        return url

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
            skip_auto_headers=SKIP_AUTO_HEADERS,
            request_class=_REQUEST_CLASS,
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
