"""Parsers for the string-encoded values of agentgateway configs (durations, host:port, URLs).

Each raises ValueError with a user-facing message; the caller adds file:line and the key path.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from .model import HostPort

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_UNIT_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
    "d": 86400.0,
}  # fmt: skip
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$")


def parse_duration(text: str) -> float:
    """Go/agentgateway-style duration to seconds: "500ms", "1.5s", "1m30s", "10m", "1h30m", "0"."""
    s = text.strip()
    if s == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise ValueError(f'invalid duration "{text}" (expected e.g. "500ms", "10s", "1m30s", "1h")')
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if not s:
        raise ValueError('invalid duration "" (expected e.g. "500ms", "10s", "1m30s", "1h")')
    return total


def parse_port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f'invalid host:port "{whole}": port must be a number 0-65535')
    return int(text)


def parse_host_port(text: str) -> HostPort:
    """ "host:port", "1.2.3.4:port" or "[::1]:port" (port required)."""
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f'invalid host:port "{text}": expected "[ipv6]:port"')
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f'invalid host:port "{text}": "{host}" is not an IPv6 address') from None
        return HostPort(host, parse_port(rest[1:], text))
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f'invalid host:port "{text}": missing ":port"')
    if not host or ":" in host or not _HOSTNAME.match(host):
        raise ValueError(f'invalid host:port "{text}": bad host "{host}"')
    return HostPort(host, parse_port(port, text))


def parse_listen_addr(text: str, allow_off: bool) -> HostPort | None:
    """adminAddr/statsAddr/readinessAddr: ip:port, localhost:port, [::1]:port; `off` (admin only)."""
    if allow_off and text.strip().lower() == "off":
        return None
    addr = parse_host_port(text.strip())
    if addr.host != "localhost":
        try:
            ipaddress.ip_address(addr.host)
        except ValueError:
            raise ValueError(f'invalid address "{text}": expected ip:port or localhost:port') from None
    return addr


def parse_base_url(text: str) -> tuple[HostPort, str | None, bool]:
    """llm params.baseUrl -> (host override, path prefix or None, tls)."""
    try:
        url = urlsplit(text)
        port = url.port
    except ValueError as e:
        raise ValueError(f'invalid baseUrl "{text}": {e}') from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f'invalid baseUrl "{text}": expected http(s)://host[:port][/path]')
    tls = url.scheme == "https"
    if port is None:
        port = 443 if tls else 80
    path = url.path.rstrip("/") or None
    return HostPort(url.hostname, port), path, tls
