"""`localRateLimit`: in-memory token buckets per route, with agentgateway's semantics.

* Every entry is checked, in order: `requests` entries take one token each (an earlier entry's
  token stays taken when a later one refuses, as in agentgateway); then, on LLM routes only,
  `tokens` entries admit the request while at least one token remains and are debited with the
  real usage (input + output tokens) when the response ends, including a stream cut short by the
  client, with what was counted so far. So the request that overshoots succeeds and the next
  one gets 429.
* Refusal: 429 `rate limit exceeded` in the client's format, with x-ratelimit-limit/-remaining/
  -reset. Allowed responses carry the same headers for the most constrained entry.
* Our extension (agentgateway issue #1909): an entry with `key:` (CEL) keeps one bucket per
  distinct value, e.g. per user. Buckets live in an LRU bounded by `maxKeys`; a bucket idle long
  enough to have refilled completely is full, the same as a fresh one, so it is dropped early.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gateway.config.model import RateLimit, RateLimitType, Route
from gateway.errors import RateLimited
from gateway.fastpath import TokenBucket
from gateway.policies.base import Exchange, Policy, Services
from gateway.policies.identity import as_identity
from gateway.server.types import Headers
from gateway.state import shared_state

MESSAGE = "rate limit exceeded"
_STATE = "localRateLimit"
# A key longer than this is stored as its sha256, so a client-chosen header value cannot make
# `maxKeys` buckets cost megabytes.
_MAX_RAW_KEY = 128
# Idle buckets dropped per request: bounded work on the request path; the LRU bound does the rest.
_EVICT_PER_CALL = 2


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


class _Slot:
    __slots__ = ("bucket", "last_used")

    def __init__(self, bucket: TokenBucket, now: float) -> None:
        self.bucket = bucket
        self.last_used = now


class Limiter:
    """One localRateLimit entry: a single bucket, or one bucket per key value."""

    def __init__(self, spec: RateLimit) -> None:
        self.spec = spec
        self._keyed = spec.key is not None
        # Created at the first request (buckets need the loop's clock, which config load lacks).
        self._single: TokenBucket | None = None
        self._slots: OrderedDict[str | None, _Slot] = OrderedDict()
        # After this long untouched, a bucket has refilled completely (see module docstring).
        if spec.tokens_per_fill > 0:
            self.idle_after = math.ceil(spec.max_tokens / spec.tokens_per_fill) * spec.fill_interval
        else:
            self.idle_after = 0.0 if spec.max_tokens == 0 else math.inf

    def _new(self, now: float) -> TokenBucket:
        s = self.spec
        return TokenBucket(s.max_tokens, s.tokens_per_fill, s.fill_interval, now)

    def __len__(self) -> int:
        return len(self._slots)

    def key_of(self, ex: Exchange) -> str | None:
        """The bucket key for this request; None is the shared bucket of requests without one."""
        if not self._keyed:
            return None
        key = as_identity(self.spec.key.evaluate(ex), max_length=None)
        if key is not None and len(key) > _MAX_RAW_KEY:
            key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        return key

    def bucket(self, key: str | None, now: float) -> TokenBucket:
        if not self._keyed:
            if self._single is None:
                self._single = self._new(now)
            return self._single
        slot = self._slots.get(key)
        if slot is not None:
            self._slots.move_to_end(key)
            slot.last_used = now
            return slot.bucket
        self._evict(now)
        slot = self._slots[key] = _Slot(self._new(now), now)
        return slot.bucket

    def _evict(self, now: float) -> None:
        slots = self._slots
        for _ in range(_EVICT_PER_CALL):
            if not slots:
                return
            oldest = next(iter(slots.values()))
            if now - oldest.last_used < self.idle_after:
                break
            slots.popitem(last=False)
        while len(slots) >= self.spec.max_keys:
            slots.popitem(last=False)  # least recently used; its state is lost (README)


def headers(limit: int, remaining: int, reset: float) -> Headers:
    return [(b"x-ratelimit-limit", str(limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(int(reset)).encode())]


class LocalRateLimit(Policy):
    name = "localRateLimit"

    def __init__(self, specs: tuple[RateLimit, ...], route_name: str, metrics: Any,
                 clock: Callable[[], float] = _loop_time) -> None:
        self._clock = clock
        self._route = route_name
        self._metrics = metrics
        limiters = [Limiter(s) for s in specs]
        self.limiters = tuple(limiters)  # in config order
        self.requests = tuple(lim for lim in limiters if lim.spec.type is RateLimitType.REQUESTS)
        self.tokens = tuple(lim for lim in limiters if lim.spec.type is RateLimitType.TOKENS)

    async def on_request(self, ex: Exchange) -> None:
        now = self._clock()
        tightest: tuple[int, Limiter, TokenBucket] | None = None
        for lim in self.requests:
            bucket = lim.bucket(lim.key_of(ex), now)
            if not bucket.try_acquire(1, now):
                self._reject(lim, bucket, now)
            tightest = _tighter(tightest, lim, bucket, now)
        if self.tokens and ex.protocol == "llm":
            charged: list[tuple[Limiter, str | None]] = []
            for lim in self.tokens:
                key = lim.key_of(ex)
                bucket = lim.bucket(key, now)
                if not bucket.acquire_at_least_one(now):
                    self._reject(lim, bucket, now)
                charged.append((lim, key))
                tightest = _tighter(tightest, lim, bucket, now)
            ex.policy_state[_STATE] = charged
        if tightest is not None:
            remaining, lim, bucket = tightest
            ex.response_headers.extend(headers(lim.spec.max_tokens, remaining, bucket.reset_after(now)))

    def _reject(self, lim: Limiter, bucket: TokenBucket, now: float) -> None:
        if self._metrics is not None:
            self._metrics.count_rate_limit_rejection(self._route, lim.spec.type.value)
        err = RateLimited(MESSAGE)
        err.headers = headers(lim.spec.max_tokens, bucket.remaining(now), bucket.reset_after(now))
        raise err

    def on_complete(self, ex: Exchange) -> None:
        charged = ex.policy_state.get(_STATE)
        usage = ex.usage
        if not charged or usage is None:
            return
        used = usage.total_input_tokens() + usage.output_tokens
        if used <= 0:
            return
        now = self._clock()
        for lim, key in charged:
            # Looked up again: the bucket may have been evicted while the response streamed.
            lim.bucket(key, now).debit(used, now)


def _tighter(best: tuple[int, Limiter, TokenBucket] | None, lim: Limiter, bucket: TokenBucket,
             now: float) -> tuple[int, Limiter, TokenBucket]:
    remaining = bucket.remaining(now)
    return (remaining, lim, bucket) if best is None or remaining < best[0] else best


def build(route: Route, services: Services) -> Policy | None:
    specs = route.policies.local_rate_limit
    if not specs:
        return None
    name = route.name or "unknown"
    state = shared_state(services)
    if state is None:
        return LocalRateLimit(specs, name, services.metrics)
    from gateway.state.rate_limit import SharedRateLimit

    # Routes are built in config order, so the n-th rate-limited route is the same route in every
    # process running this config (unnamed routes included): its buckets are shared by that identity.
    ordinal: itertools.count[int] = services.shared("localRateLimit.routes", itertools.count)
    return SharedRateLimit(specs, name, services.metrics, state, f"{name}#{next(ordinal)}")
