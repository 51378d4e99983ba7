"""CORS. Runs first in the chain so preflights short-circuit and errors still carry CORS headers."""

from __future__ import annotations

from gateway.config.model import Cors
from gateway.server.types import Headers, Request


def _origin_allowed(cors: Cors, origin: str) -> bool:
    for allowed in cors.allow_origins:
        if allowed == "*" or allowed == origin:
            return True
        if "*" in allowed:
            head, _, tail = allowed.partition("*")
            if origin.startswith(head) and origin.endswith(tail) and len(origin) > len(head) + len(tail):
                return True
    return False


def _allow_origin_value(cors: Cors, origin: str) -> bytes:
    # With credentials the spec forbids "*": echo the origin instead.
    if "*" in cors.allow_origins and not cors.allow_credentials:
        return b"*"
    return origin.encode()


def preflight_response(cors: Cors, req: Request) -> tuple[int, Headers] | None:
    """The answer to a CORS preflight, or None when `req` is not one."""
    if req.method != "OPTIONS":
        return None
    origin = req.header(b"origin")
    if origin is None or req.header(b"access-control-request-method") is None:
        return None
    origin_s = origin.decode("latin-1")
    if not _origin_allowed(cors, origin_s):
        # agentgateway answers a disallowed preflight with 200 and no CORS headers.
        return 200, []
    headers: Headers = [(b"access-control-allow-origin", _allow_origin_value(cors, origin_s))]
    if cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.allow_methods:
        headers.append((b"access-control-allow-methods", ",".join(cors.allow_methods).encode()))
    if cors.allow_headers:
        headers.append((b"access-control-allow-headers", ",".join(cors.allow_headers).encode()))
    if cors.max_age is not None:
        headers.append((b"access-control-max-age", str(int(cors.max_age)).encode()))
    return 200, headers


def response_headers(cors: Cors, req: Request) -> Headers:
    """Headers added to a normal (non-preflight) response."""
    origin = req.header(b"origin")
    if origin is None:
        return []
    origin_s = origin.decode("latin-1")
    if not _origin_allowed(cors, origin_s):
        return []
    headers: Headers = [(b"access-control-allow-origin", _allow_origin_value(cors, origin_s))]
    if cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.expose_headers:
        headers.append((b"access-control-expose-headers", ",".join(cors.expose_headers).encode()))
    return headers
