"""CORS, with agentgateway's (Envoy's) semantics. The pipeline runs it before the policy chain, so
preflights are answered without credentials and refusals (401/403/429) still carry CORS headers.

- No `Origin`: nothing to do.
- Origin allowed: an OPTIONS request is answered here (200, allow-origin echoing the origin,
  allow-methods/-headers, max-age, allow-credentials, expose-headers); other requests go on and
  their response (or error) gets allow-origin, allow-credentials and expose-headers.
- Origin not allowed: a preflight gets 200 with no CORS headers (never forwarded); other requests
  pass through without CORS headers, and the browser blocks the response.
Origins compare by scheme, host (case-insensitive, `*` wildcards) and port (defaults 80/443), so
`https://a.test` matches `https://a.test:443`. `*` in allowMethods/allowHeaders echoes what the
preflight asked for. `Vary: Origin` is added because the allow-origin value depends on it.
"""

from __future__ import annotations

from typing import NamedTuple

from gateway.config.model import Cors
from gateway.server.types import Headers, Request

_DEFAULT_PORTS = {"http": 80, "https": 443}
_VARY = (b"vary", b"origin")


class _Origin(NamedTuple):
    scheme: str
    host: str
    port: int


def parse_origin(value: str, allow_wildcard_host: bool = False) -> _Origin | None:
    scheme, sep, host_port = value.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS or not host_port or any(c in host_port for c in "/?#"):
        return None
    host, colon, port_s = host_port.rpartition(":")
    if not colon:
        host, port = host_port, _DEFAULT_PORTS[scheme]
    else:
        if not host or ":" in host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
            return None
        port = int(port_s)
    if not host or ("*" in host and not allow_wildcard_host):
        return None
    return _Origin(scheme, host.lower(), port)


def _host_matches(pattern: str, host: str) -> bool:
    if "*" not in pattern:
        return pattern == host
    parts = pattern.split("*")
    if not host.startswith(parts[0]) or not host.endswith(parts[-1]):
        return False
    pos, end = len(parts[0]), len(host) - len(parts[-1])
    for middle in parts[1:-1]:
        found = host.find(middle, pos, end)
        if found < 0:
            return False
        pos = found + len(middle)
    return pos <= end


def origin_allowed(cors: Cors, origin: str) -> bool:
    if "*" in cors.allow_origins:
        return True
    req = parse_origin(origin)
    if req is None:
        return False
    for allowed in cors.allow_origins:
        pat = parse_origin(allowed, allow_wildcard_host=True)
        if pat is not None and pat.scheme == req.scheme and pat.port == req.port and _host_matches(pat.host, req.host):
            return True
    return False


def _allow_list(configured: tuple[str, ...], requested: bytes | None, credentials: bool) -> bytes | None:
    if not configured:
        return None
    if "*" not in configured:
        return ",".join(configured).encode()
    asked = b", ".join(p.strip() for p in requested.split(b",") if p.strip()) if requested else b""
    if asked:
        return asked
    # A literal "*" means "anything" only for requests without credentials (Fetch spec).
    return None if credentials else b"*"


def _common(cors: Cors, origin: bytes) -> Headers:
    headers: Headers = [(b"access-control-allow-origin", origin), _VARY]
    if cors.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if cors.expose_headers:
        value = b"*" if "*" in cors.expose_headers else ",".join(cors.expose_headers).encode()
        headers.append((b"access-control-expose-headers", value))
    return headers


def preflight_response(cors: Cors, req: Request) -> tuple[int, Headers] | None:
    """The local answer to an OPTIONS request with an Origin, or None to carry on."""
    if req.method != "OPTIONS":
        return None
    origin = req.header(b"origin")
    if origin is None:
        return None
    if not origin_allowed(cors, origin.decode("latin-1")):
        requested = req.header(b"access-control-request-method")
        return (200, []) if requested and requested.strip() else None
    headers = _common(cors, origin)
    methods = _allow_list(cors.allow_methods, req.header(b"access-control-request-method"), cors.allow_credentials)
    if methods:
        headers.append((b"access-control-allow-methods", methods))
    allowed_headers = _allow_list(cors.allow_headers, req.header(b"access-control-request-headers"),
                                  cors.allow_credentials)
    if allowed_headers:
        headers.append((b"access-control-allow-headers", allowed_headers))
    if cors.max_age is not None:
        headers.append((b"access-control-max-age", str(int(cors.max_age)).encode()))
    return 200, headers


def response_headers(cors: Cors, req: Request) -> Headers:
    """Headers added to a normal (non-preflight) response, success or error."""
    origin = req.header(b"origin")
    if origin is None or not origin_allowed(cors, origin.decode("latin-1")):
        return []
    return _common(cors, origin)
