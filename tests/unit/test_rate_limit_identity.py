"""localRateLimit and identity policies on real lowered configs, with a controlled clock.

The e2e tests (tests/e2e/test_rate_limit.py) cover the wire; these cover what needs time travel
(refills, idle eviction) and the per-attribute identity rules.
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import dump_config, load_config_text
from gateway.config.model import GatewayConfig, RateLimit, RateLimitType, Route
from gateway.errors import RateLimited
from gateway.fastpath import TokenBucket
from gateway.policies import identity, local_rate_limit
from gateway.policies.base import Exchange, Services
from gateway.policies.local_rate_limit import LocalRateLimit
from gateway.server.types import Request
from gateway.telemetry.metrics import Metrics

ROUTE = """
binds:
- port: 3000
  listeners:
  - routes:
    - name: r
      policies:
        localRateLimit:
{limits}
      backends:
      - host: localhost:8080
"""


def load(limits: str, config: str = "") -> GatewayConfig:
    return load_config_text(config + ROUTE.format(limits=limits), "config.yaml", {})


def route_of(cfg: GatewayConfig) -> Route:
    return cfg.binds[0].listeners[0].routes[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def exchange(headers: dict[str, str] | None = None, protocol: str = "http") -> Exchange:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    ex = Exchange(Request("POST", b"/v1/chat/completions", raw, b""), 0.0)
    ex.protocol = protocol
    return ex


def policy(cfg: GatewayConfig, clock: Clock) -> LocalRateLimit:
    return LocalRateLimit(route_of(cfg).policies.local_rate_limit, "r", Metrics(), clock)


async def allowed(p: LocalRateLimit, ex: Exchange) -> bool:
    try:
        await p.on_request(ex)
    except RateLimited:
        return False
    return True


# -- config ---------------------------------------------------------------------------------------


def test_lowering_defaults_and_extension_keys() -> None:
    cfg = load("""        - {maxTokens: 10, tokensPerFill: 1, fillInterval: 60s}
        - {maxTokens: 500, tokensPerFill: 50, fillInterval: 1m30s, type: tokens,
           key: 'request.headers["x-user-id"]', maxKeys: 50}""")
    first, second = route_of(cfg).policies.local_rate_limit
    assert first == RateLimit(10, 1, 60.0, RateLimitType.REQUESTS, None, 10000)
    assert (second.max_tokens, second.tokens_per_fill, second.fill_interval, second.type, second.max_keys) == (
        500, 50, 90.0, RateLimitType.TOKENS, 50)
    assert second.key.source == 'request.headers["x-user-id"]'
    dumped = dump_config(cfg)["binds"][0]["listeners"][0]["routes"][0]["policies"]["localRateLimit"]
    assert dumped[0] == {"maxTokens": 10, "tokensPerFill": 1, "fillInterval": 60.0, "type": "requests",
                         "key": None, "maxKeys": 10000}


def test_standard_attributes_lowering() -> None:
    cfg = load("        - {maxTokens: 1, fillInterval: 1s}",
               "config:\n  standardAttributes:\n    user: jwt.sub\n    trustHeaders: true\n")
    attrs = cfg.process.standard_attributes
    assert attrs is not None and attrs.user.source == "jwt.sub" and attrs.group is None and attrs.trust_headers
    assert not any(k == "standardAttributes" for k, _ in cfg.process.extra)
    # Nothing to compute means no identity policy at all.
    empty = load("        - {maxTokens: 1, fillInterval: 1s}", "config:\n  standardAttributes: {}\n")
    assert empty.process.standard_attributes is None
    services = Services(empty, Metrics())
    assert identity.build(route_of(empty), services) is None


def test_no_local_rate_limit_builds_no_policy() -> None:
    cfg = load_config_text("binds:\n- port: 1\n  listeners:\n  - routes:\n    - backends: [{host: 'a:1'}]\n")
    assert local_rate_limit.build(route_of(cfg), Services(cfg, Metrics())) is None


# -- buckets --------------------------------------------------------------------------------------


async def test_requests_refill_after_fill_interval() -> None:
    clock = Clock()
    p = policy(load("        - {maxTokens: 2, tokensPerFill: 1, fillInterval: 10s}"), clock)
    assert [await allowed(p, exchange()) for _ in range(3)] == [True, True, False]
    clock.now += 9.9
    assert not await allowed(p, exchange())
    clock.now += 0.1
    ex = exchange()
    assert await allowed(p, ex)
    assert dict(ex.response_headers) == {b"x-ratelimit-limit": b"2", b"x-ratelimit-remaining": b"0",
                                         b"x-ratelimit-reset": b"10"}


async def test_rejection_headers_and_metric() -> None:
    clock = Clock()
    p = policy(load("        - {maxTokens: 1, tokensPerFill: 1, fillInterval: 30s}"), clock)
    await p.on_request(exchange())
    clock.now += 12.5
    with pytest.raises(RateLimited) as info:
        await p.on_request(exchange())
    err = info.value
    assert (err.status, err.message) == (429, "rate limit exceeded")
    assert dict(err.headers) == {b"x-ratelimit-limit": b"1", b"x-ratelimit-remaining": b"0",
                                 b"x-ratelimit-reset": b"17"}
    text = p._metrics.exposition().decode()
    assert 'agentgateway_rate_limit_rejections_total{route="r",type="requests"} 1.0' in text


async def test_tokens_entries_apply_to_llm_requests_only_and_debit_usage() -> None:
    clock = Clock()
    p = policy(load("        - {maxTokens: 100, tokensPerFill: 10, fillInterval: 1s, type: tokens}"), clock)
    plain = exchange(protocol="http")
    assert await allowed(p, plain) and plain.response_headers == []

    ex = exchange(protocol="llm")
    assert await allowed(p, ex)

    class Usage:
        output_tokens = 70

        def total_input_tokens(self) -> int:
            return 60

    ex.usage = Usage()
    p.on_complete(ex)  # 130 used: the bucket saturates at 0
    assert not await allowed(p, exchange(protocol="llm"))
    clock.now += 1.0
    assert await allowed(p, exchange(protocol="llm"))  # one fill: 10 tokens >= 1


# -- per-key buckets ------------------------------------------------------------------------------

KEYED = "        - {{maxTokens: 2, tokensPerFill: 1, fillInterval: 10s, key: 'request.headers[\"x-user-id\"]'{extra}}}"


def user(name: str) -> Exchange:
    return exchange({"x-user-id": name})


async def test_lru_bound_holds_and_keeps_recent_keys() -> None:
    clock = Clock()
    p = policy(load(KEYED.format(extra=", maxKeys: 3")), clock)
    (lim,) = p.requests
    for name in ("a", "b", "c"):
        await p.on_request(user(name))
        await p.on_request(user(name))  # each bucket now empty
    assert not await allowed(p, user("a"))  # touch a: b is now least recently used
    for i in range(20):
        await allowed(p, user(f"new{i}"))
        assert len(lim) <= 3
    assert len(lim) == 3
    # 20 newcomers pushed out a, b, c; a returns with a fresh bucket (the documented cost of the bound).
    assert await allowed(p, user("a"))


async def test_idle_buckets_are_evicted_only_once_equivalent_to_fresh() -> None:
    clock = Clock()
    p = policy(load(KEYED.format(extra="")), clock)
    (lim,) = p.requests
    assert lim.idle_after == 20.0  # ceil(2 / 1) fills of 10 s
    reference = TokenBucket(2, 1, 10.0, clock.now)
    for _ in range(2):
        await p.on_request(user("a"))
        assert reference.try_acquire(1, clock.now)
    clock.now += 19.9
    await p.on_request(user("b"))
    assert len(lim) == 2  # a is not idle long enough: kept
    clock.now += 0.1
    await p.on_request(user("c"))
    assert len(lim) == 2  # a dropped: at this point it had refilled completely ...
    assert reference.remaining(clock.now) == 2  # ... exactly like the unevicted reference
    assert [await allowed(p, user("a")) for _ in range(3)] == [True, True, False]


async def test_missing_key_shares_one_bucket() -> None:
    p = policy(load(KEYED.format(extra="")), Clock())
    assert [await allowed(p, exchange()) for _ in range(3)] == [True, True, False]
    assert await allowed(p, user("x"))


async def test_long_keys_are_hashed_not_merged() -> None:
    p = policy(load(KEYED.format(extra="")), Clock())
    (lim,) = p.requests
    for name in ("u" * 200, "v" * 5000):
        assert [await allowed(p, user(name)) for _ in range(3)] == [True, True, False]
    assert len(lim) == 2
    assert all(k is not None and k.startswith("sha256:") and len(k) == 71 for k in lim._slots)


# -- identity -------------------------------------------------------------------------------------

ID_ROUTE = "        - {maxTokens: 1, fillInterval: 1s}"


async def resolve(config: str, ex: Exchange) -> tuple[str | None, str | None]:
    cfg = load(ID_ROUTE, "config:\n  standardAttributes:\n" + config)
    p = identity.build(route_of(cfg), Services(cfg, Metrics()))
    assert p is not None
    await p.on_request(ex)
    return ex.user, ex.team


async def test_identity_from_cel_over_jwt_and_api_key() -> None:
    ex = exchange({"x-user-id": "spoofed"})
    ex.jwt = {"sub": "alice", "org": {"team": "research"}}
    assert await resolve("    user: jwt.sub\n    group: jwt.org.team\n", ex) == ("alice", "research")
    ex = exchange()
    ex.api_key = {"owner": "svc-batch", "team": 7}
    assert await resolve("    user: apiKey.owner\n    group: apiKey.team\n", ex) == ("svc-batch", "7")


async def test_identity_missing_value_keeps_what_auth_set() -> None:
    ex = exchange()
    ex.user = "from-auth"
    assert await resolve("    user: jwt.sub\n", ex) == ("from-auth", None)


async def test_trusted_headers_only_when_opted_in_and_no_expression() -> None:
    headers = {"x-user-id": "bob", "x-team-id": "platform"}
    assert await resolve("    trustHeaders: true\n", exchange(headers)) == ("bob", "platform")
    ex = exchange(headers)
    ex.jwt = {"sub": "carol"}
    assert await resolve("    user: jwt.sub\n    trustHeaders: true\n", ex) == ("carol", "platform")
    # Without the opt-in the headers mean nothing.
    assert await resolve("    user: jwt.sub\n", exchange(headers)) == (None, None)


@pytest.mark.parametrize("value,expected", [
    ("alice", "alice"), (42, "42"), (True, "true"), ("", None), ("  ", None), ({"a": 1}, None),
    (["a"], None), (None, None), ("x" * 257, None),
])
def test_identity_value_rules(value: Any, expected: str | None) -> None:
    assert identity.as_identity(value) == expected
