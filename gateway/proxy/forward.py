"""Sending a request upstream and relaying the response to the client.

Streams are relayed chunk by chunk as they arrive, awaiting the client when it is slow; nothing
is accumulated except a non-streaming LLM body, which is needed whole for usage accounting.
A client that goes away closes the upstream response, so its connection is not reused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from gateway.errors import UpstreamFailed, UpstreamTimeout
from gateway.fastpath import latin1_headers, response_headers
from gateway.policies.base import BodyFilter
from gateway.server.types import Headers, Responder

# Hop-by-hop headers never cross the proxy; content-length is recomputed per side.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"host",
        b"content-length",
        b"expect",
    }
)
# Every header a client may carry a provider credential in.
CREDENTIAL_HEADERS = frozenset({b"authorization", b"x-api-key", b"api-key", b"x-goog-api-key"})


def upstream_request_headers(headers: Headers, drop: frozenset[bytes]) -> Headers:
    return [(k, v) for k, v in headers if k not in HOP_BY_HOP and k not in drop]


# The front end writes its own date and server headers.
_RESPONSE_DROP = HOP_BY_HOP | {b"date", b"server"}
_RESPONSE_DROP_KEEP_LENGTH = _RESPONSE_DROP - {b"content-length"}


def downstream_response_headers(raw: tuple[tuple[bytes, bytes], ...], keep_length: bool) -> Headers:
    return response_headers(raw, _RESPONSE_DROP_KEEP_LENGTH if keep_length else _RESPONSE_DROP)


class Upstream:
    """One upstream call: open, then relay or read."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL | str,
        headers: Headers,
        body: bytes,
        timeout: float | None,
    ) -> None:
        self._session = session
        self._method = method
        self._url = url  # absolute (UpstreamPool.url), or a path on the session's base_url
        # A multidict, so aiohttp does not build one from a list before copying it into its own.
        self._headers = CIMultiDict(latin1_headers(headers))
        self._body = body
        self._timeout = timeout

    async def open(self) -> aiohttp.ClientResponse:
        """Send the request and wait for the response head."""
        request = self._session.request(
            self._method,
            self._url,
            data=self._body if self._body else None,
            headers=self._headers,
            allow_redirects=False,
        )
        try:
            if self._timeout is None:  # no timer object per request when none is configured
                return await request
            async with asyncio.timeout(self._timeout):
                return await request
        except TimeoutError:
            raise UpstreamTimeout("upstream call timeout") from None
        except aiohttp.ClientError as exc:
            raise UpstreamFailed(f"upstream call failed: {_describe(exc)}") from None

    async def read_body(self, resp: aiohttp.ClientResponse, limit: int) -> bytes:
        """The whole body (it may arrive in many reads), refusing more than `limit` bytes."""
        content = resp.content
        if isinstance(content, aiohttp.StreamReader) and content.is_eof() and not content.exception():
            # Short answers usually arrive with their head: everything is buffered already, so
            # no read loop (and no timer) is needed.
            body = content.read_nowait()
            if len(body) > limit:
                resp.close()
                raise UpstreamFailed("upstream call failed: response body too large")
            resp.release()
            return body
        try:
            if self._timeout is None:
                body = await _read_all(resp, limit)
            else:
                async with asyncio.timeout(self._timeout):
                    body = await _read_all(resp, limit)
        except TimeoutError:
            resp.close()
            raise UpstreamTimeout("upstream call timeout") from None
        except aiohttp.ClientError as exc:
            resp.close()
            raise UpstreamFailed(f"upstream call failed: {_describe(exc)}") from None
        if len(body) > limit:
            resp.close()
            raise UpstreamFailed("upstream call failed: response body too large")
        resp.release()
        return body


async def _read_all(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def relay_stream(
    resp: aiohttp.ClientResponse,
    responder: Responder,
    on_chunk: Callable[[bytes], None] | None = None,
    filters: Sequence[BodyFilter] = (),
) -> bool:
    """Copy the upstream body to the client as it arrives. False if either side broke off.

    `on_chunk` observes the upstream bytes as received (usage accounting); `filters` rewrite
    what the client gets (masking), in order.
    """
    try:
        async for chunk in resp.content.iter_any():
            if on_chunk is not None:
                on_chunk(chunk)
            for f in filters:
                chunk = f.feed(chunk)
            if chunk:
                await responder.write(chunk)
            if responder.disconnected:
                resp.close()  # never reuse a connection whose response was not read to the end
                return False
    except (aiohttp.ClientError, asyncio.TimeoutError):
        resp.close()
        responder.abort()
        return False
    resp.release()
    tail = _flush(filters)
    if tail:
        await responder.write(tail)
    responder.end()
    return True


def _flush(filters: Sequence[BodyFilter]) -> bytes:
    """Flush each filter, passing what earlier ones release through the later ones."""
    out = b""
    for f in filters:
        out = f.feed(out) + f.flush() if out else f.flush()
    return out


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a transport error."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connect to {exc.host}:{exc.port} failed: {exc.os_error.strerror or type(exc.os_error).__name__}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "upstream closed the connection"
    return type(exc).__name__
