"""requestHeaderModifier / responseHeaderModifier: add, set, remove."""

from __future__ import annotations

from gateway.config.model import HeaderModifier
from gateway.server.types import Headers


def apply_header_modifier(headers: Headers, mod: HeaderModifier) -> Headers:
    """A new header list: `remove` first, then `set` (replaces), then `add` (appends)."""
    drop = {n.encode() for n in mod.remove} | {n.encode() for n, _ in mod.set}
    out = [(k, v) for k, v in headers if k not in drop] if drop else list(headers)
    out.extend((n.encode(), v.encode()) for n, v in mod.set)
    out.extend((n.encode(), v.encode()) for n, v in mod.add)
    return out
