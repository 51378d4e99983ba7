"""Reading a client credential from where a policy says it is, and removing it before forwarding.

A gateway credential (API key, JWT, Basic password) is for the gateway only: once a policy has
read it, it is taken off the request so no provider or backend ever sees it, with or without
backendAuth.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway.config.model_auth import CredentialLocation
from gateway.policies.base import Exchange, Services
from gateway.policies.identity import as_identity
from gateway.server.types import Request


def read(req: Request, loc: CredentialLocation) -> str | None:
    """The credential, or None when absent (a header with another scheme counts as absent)."""
    if loc.kind == "header":
        raw = req.header(loc.name.encode())
        if raw is None:
            return None
        value = raw.decode("latin-1")
        if loc.prefix:
            # Auth schemes are case-insensitive (RFC 9110 11.1): "bearer x" is "Bearer x".
            if value[: len(loc.prefix)].lower() != loc.prefix.lower():
                return None
            value = value[len(loc.prefix):]
        return value.strip() or None
    if loc.kind == "queryParameter":
        for k, v in parse_qsl(req.query, keep_blank_values=True):
            if k == loc.name:
                return v or None
        return None
    for name, value in _cookies(req):
        if name == loc.name:
            return value or None
    return None


def remove(req: Request, loc: CredentialLocation) -> None:
    """Take the credential off `req` so it is not forwarded."""
    if loc.kind == "header":
        name = loc.name.encode()
        req.headers = [h for h in req.headers if h[0] != name]
    elif loc.kind == "queryParameter":
        kept = [(k, v) for k, v in parse_qsl(req.query, keep_blank_values=True) if k != loc.name]
        req.query = urlencode(kept)
        req.target = (req.path + ("?" + req.query if req.query else "")).encode("latin-1")
    else:
        rest = "; ".join(f"{n}={v}" for n, v in _cookies(req) if n != loc.name)
        req.headers = [h for h in req.headers if h[0] != b"cookie"]
        if rest:
            req.headers.append((b"cookie", rest.encode("latin-1")))


def _cookies(req: Request) -> list[tuple[str, str]]:
    out = []
    for k, v in req.headers:
        if k != b"cookie":
            continue
        for part in v.decode("latin-1").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                out.append((name, value))
    return out


def attribute_identity(ex: Exchange, services: Services, metadata: Any) -> None:
    """Without `config.standardAttributes`, a key's (or user's) metadata `user` and `team` (or
    `group`) become the request's identity, so spend is attributed without extra config and
    without trusting client headers. With standardAttributes, its expressions decide instead."""
    if services.config.process.standard_attributes is not None or not isinstance(metadata, dict):
        return
    user = as_identity(metadata.get("user"))
    team = as_identity(metadata.get("team", metadata.get("group")))
    if user is not None:
        ex.user = user
    if team is not None:
        ex.team = team
