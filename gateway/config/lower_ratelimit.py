"""Lowering of `localRateLimit` (route and llm policies) and `config.standardAttributes`.

Both carry CEL expressions, which are compiled here, once, so a bad expression is a config error
with its line rather than a request-time surprise.
"""

from __future__ import annotations

from typing import Any

from . import model as m
from .reader import NOT_SUPPORTED, Section, type_name
from .values import parse_duration
from .yamlnodes import YMap

_U64_MAX = (1 << 63) - 1  # the buckets count in int64; agentgateway's u64 range beyond is unusable anyway
_TYPES = {t.value: t for t in m.RateLimitType}
DEFAULT_MAX_KEYS = 10000
MAX_KEYS_LIMIT = 10_000_000  # ~1 GB of buckets; beyond that a per-key local limit is the wrong tool


def expression(sec: Section, key: str) -> Any:
    """The compiled gateway.cel.Expression for a CEL-valued key, or None (absent or reported)."""
    source = sec.string(key)
    if source is None:
        return None
    # Imported here: gateway.cel imports the policy layer, which imports this package.
    from gateway.cel import CelError, compile_expression

    try:
        return compile_expression(source)
    except CelError as e:
        sec.error(key, f"invalid CEL expression: {e}")
        return None


def _duration(sec: Section, key: str) -> float | None:
    text = sec.string(key)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        sec.error(key, str(e))
        return None


def local_rate_limit(parent: Section, key: str = "localRateLimit") -> tuple[m.RateLimit, ...]:
    node = parent.get(key)
    if isinstance(node, YMap):  # {conditional: [...]}: agentgateway's CEL-selected form
        parent.error(key, f"the conditional form of localRateLimit is {NOT_SUPPORTED}")
        return ()
    out = []
    for path, item, schema in parent.items(key):
        sec = Section.open(parent.ctx, item, path, schema, "rateLimitSpec")
        limit = _entry(sec) if sec is not None else None
        if limit is not None:
            out.append(limit)
    return tuple(out)


def _entry(sec: Section) -> m.RateLimit | None:
    max_tokens = sec.integer("maxTokens", 0, _U64_MAX)
    per_fill = sec.integer("tokensPerFill", 0, _U64_MAX)
    interval = _duration(sec, "fillInterval")
    sec.require("fillInterval")
    ok = sec.pristine and sec.has("fillInterval")
    if interval is not None and interval <= 0:
        sec.error("fillInterval", "must be greater than 0")
        ok = False
    capacity = max_tokens if sec.has("maxTokens") else 0  # None: already reported as a bad value
    if per_fill is not None and capacity is not None and per_fill > capacity:
        # agentgateway refuses the same ("refill amount cannot exceed the max tokens").
        sec.error("tokensPerFill", f"must not exceed maxTokens ({capacity}), got {per_fill}")
        ok = False
    limit_type = _type(sec)
    key = expression(sec, "key")
    max_keys = sec.integer("maxKeys", 1, MAX_KEYS_LIMIT)
    if sec.has("maxKeys") and not sec.has("key"):
        sec.error("maxKeys", 'only applies together with "key"')
    if not ok or interval is None or limit_type is None or (sec.has("key") and key is None):
        return None
    return m.RateLimit(max_tokens or 0, per_fill or 0, interval, limit_type, key,
                       DEFAULT_MAX_KEYS if max_keys is None else max_keys)


def _type(sec: Section) -> m.RateLimitType | None:
    node = sec.get("type")
    if node is None or type_name(node) == "null":
        return m.RateLimitType.REQUESTS
    text = sec.string("type")
    if text is None:  # wrong type, reported
        return None
    if text not in _TYPES:
        sec.error("type", f'expected one of requests, tokens; got "{text}"')
        return None
    return _TYPES[text]


def standard_attributes(config: Section) -> m.StandardAttributes | None:
    sec = config.section("standardAttributes", "standardAttributes")
    if sec is None:
        return None
    attrs = m.StandardAttributes(
        user=expression(sec, "user"),
        group=expression(sec, "group"),
        trust_headers=bool(sec.boolean("trustHeaders")),
    )
    if attrs.user is None and attrs.group is None and not attrs.trust_headers:
        return None  # nothing to compute: no identity policy at all
    return attrs
