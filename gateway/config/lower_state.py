"""Lowering of `config.stateBackend` (our extension): memory (default) or a shared Redis."""

from __future__ import annotations

from urllib.parse import urlsplit

from .lower_policies import duration
from .model_state import FailureMode, SecretUrl, StateBackend
from .reader import Section

_TYPES = ("memory", "redis")
_MODES = {m.value: m for m in FailureMode}
_REDIS_ONLY = ("url", "keyPrefix", "timeout", "rateLimitFailureMode", "budgetFailureMode", "reservationTtl")


def lower_state_backend(config: Section) -> StateBackend | None:
    """`config` is the `config:` section; None when stateBackend is absent (memory)."""
    sec = config.section("stateBackend", "stateBackend")
    if sec is None:
        return None
    kind = sec.string("type") or "memory"
    if kind not in _TYPES:
        sec.error("type", f'invalid value "{kind}"; expected one of: {", ".join(_TYPES)}')
        return None
    if kind == "memory":
        for key in _REDIS_ONLY:
            if sec.has(key):
                sec.error(key, "only used with type: redis")
        return StateBackend("memory")
    sec.require("url")
    url = _url(sec)
    fields: dict[str, object] = {}
    prefix = sec.string("keyPrefix")
    if prefix is not None:
        fields["key_prefix"] = prefix
    timeout = duration(sec, "timeout")
    if timeout is not None:
        if 0.001 <= timeout <= 60:
            fields["timeout"] = timeout
        else:
            sec.error("timeout", "expected a duration between 1ms and 1m")
    ttl = duration(sec, "reservationTtl")
    if ttl is not None:
        if 1 <= ttl <= 86400:
            fields["reservation_ttl"] = ttl
        else:
            sec.error("reservationTtl", "expected a duration between 1s and 24h")
    modes = (("rateLimitFailureMode", "rate_limit_failure_mode"), ("budgetFailureMode", "budget_failure_mode"))
    for key, attr in modes:
        mode = _mode(sec, key)
        if mode is not None:
            fields[attr] = mode
    if url is None:
        return None
    return StateBackend("redis", url, **fields)  # type: ignore[arg-type]


def _url(sec: Section) -> SecretUrl | None:
    text = sec.string("url")
    if text is None:
        return None
    problem = None
    try:
        parts = urlsplit(text)
        if parts.scheme not in ("redis", "rediss", "unix"):
            problem = "expected redis://, rediss:// (TLS) or unix://"
        elif parts.scheme != "unix" and not parts.hostname:
            problem = "missing host"
        else:
            _ = parts.port  # raises on a bad port
    except ValueError as e:
        problem = str(e)
    if problem is not None:
        # Never echo the URL: it may hold a password.
        sec.error("url", f"invalid Redis URL ({problem})")
        return None
    return SecretUrl(text)


def _mode(sec: Section, key: str) -> FailureMode | None:
    text = sec.string(key)
    if text is None:
        return None
    if text not in _MODES:
        sec.error(key, f'invalid value "{text}"; expected one of: {", ".join(_MODES)}')
        return None
    return _MODES[text]
