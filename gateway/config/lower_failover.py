"""Lowering of route `retry` and backend `health`: they tune failover (proxy/failover.py), which
works without them."""

from __future__ import annotations

from . import model as m
from .reader import Section
from .values import parse_duration


def retry_policy(sec: Section | None) -> m.Retry | None:
    """retry: {attempts (total, default 1), codes (required), backoff}."""
    if sec is None:
        return None
    sec.require("codes")
    attempts = sec.integer("attempts", 1, 255)
    codes = []
    for path, node, _ in sec.items("codes"):
        value = getattr(node, "value", None)
        if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
            codes.append(value)
        else:
            sec.ctx.error(getattr(node, "line", sec.line("codes")), path, "expected an HTTP status code (100-599)")
    return m.Retry(1 if attempts is None else attempts, frozenset(codes), _duration(sec, "backoff"))


def health_policy(sec: Section | None) -> m.Health | None:
    """health: {unhealthyExpression (CEL over response.code), eviction: {duration, consecutiveFailures}}."""
    if sec is None:
        return None
    unhealthy = None
    src = sec.string("unhealthyExpression")
    if src is not None:
        from gateway.cel import CelError, compile_expression  # cel imports the policy layer; keep it lazy

        try:
            unhealthy = compile_expression(src)
        except CelError as e:
            sec.error("unhealthyExpression", f"invalid CEL expression: {e}")
    eviction = sec.section("eviction", "healthEviction")
    duration = _duration(eviction, "duration") if eviction is not None else None
    failures = eviction.integer("consecutiveFailures", 1, 1000) if eviction is not None else None
    return m.Health(unhealthy, duration, 1 if failures is None else failures)


def check_retry_targets(sec: Section, route: m.Route) -> None:
    """`retry` is applied on LLM (ai) backends; refuse it where it would be silently ignored."""
    if route.policies.retry is not None and any(isinstance(b.target, m.HostBackend) for b in route.backends):
        sec.error("policies", "retry is supported on routes with ai backends only (not host backends) "
                              "by this gateway yet")


def _duration(sec: Section | None, key: str) -> float | None:
    text = sec.string(key) if sec is not None else None
    if sec is None or text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        sec.error(key, str(e))
        return None
