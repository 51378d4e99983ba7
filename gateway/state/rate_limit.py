"""`localRateLimit` with its buckets in Redis: the same limits for every worker and replica.

Same semantics, 429s and x-ratelimit-* headers as the in-memory policy (policies/local_rate_limit.py);
all of a request's entries are checked in one script call (one round trip), with Redis's clock.
Buckets expire once idle long enough to be full again. When Redis fails, `rateLimitFailureMode`
decides: failOpen admits (no x-ratelimit headers), failClosed answers 503.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import Any

from gateway.config.model import RateLimit, RateLimitType
from gateway.config.model_state import FailureMode
from gateway.errors import RateLimited
from gateway.policies.base import Exchange
from gateway.policies.local_rate_limit import MESSAGE, Limiter, LocalRateLimit, headers
from gateway.state import scripts
from gateway.state.backend import RedisState, StateUnavailable

_STATE = "localRateLimit.shared"
_US = 1_000_000


class _Bucket:
    """How one entry is addressed and parameterised in Redis."""

    __slots__ = ("lim", "base", "args", "debit_args")

    def __init__(self, lim: Limiter, base: str, mode: int) -> None:
        s = lim.spec
        interval = max(1, round(s.fill_interval * _US))
        # Idle this long, the bucket is full again: the same as no key at all.
        ttl = 0 if math.isinf(lim.idle_after) else math.ceil(lim.idle_after * 1000) + 1000
        self.lim, self.base = lim, base
        self.args = (s.max_tokens, s.tokens_per_fill, interval, mode, ttl)
        self.debit_args = (s.max_tokens, interval, ttl)

    def key(self, ex: Exchange) -> str:
        value = self.lim.key_of(ex)
        # Entries without `key:` and requests without a key value use "-"; values are prefixed, so
        # no client-chosen value can name the shared bucket.
        return self.base + ("-" if value is None else "k:" + value)


def _ident(route_id: str, index: int, spec: RateLimit) -> str:
    """Stable across processes running the same config: the route, the entry and its parameters
    (a changed limit starts from fresh buckets rather than from another limit's counts)."""
    key = spec.key.source if spec.key is not None else ""
    text = f"{route_id}\0{index}\0{spec.max_tokens}\0{spec.tokens_per_fill}\0{spec.fill_interval!r}\0" \
           f"{spec.type.value}\0{key}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class SharedRateLimit(LocalRateLimit):
    def __init__(self, specs: tuple[RateLimit, ...], route_name: str, metrics: Any, state: RedisState,
                 route_id: str) -> None:
        super().__init__(specs, route_name, metrics)
        self._state = state
        self._mode = state.config.rate_limit_failure_mode
        self._take = state.script(scripts.TAKE)
        self._debit = state.script(scripts.DEBIT)
        position = {id(lim): i for i, lim in enumerate(self.limiters)}

        def bucket(lim: Limiter, mode: int) -> _Bucket:
            return _Bucket(lim, state.key("rl", _ident(route_id, position[id(lim)], lim.spec), ""), mode)

        self._req_buckets = tuple(bucket(lim, 1) for lim in self.requests)
        self._tok_buckets = tuple(bucket(lim, 2) for lim in self.tokens)

    async def on_request(self, ex: Exchange) -> None:
        checked = list(self._req_buckets)
        if self._tok_buckets and ex.protocol == "llm":
            checked.extend(self._tok_buckets)
        if not checked:
            return
        keys = [b.key(ex) for b in checked]
        args: list[int] = []
        for b in checked:
            args.extend(b.args)
        try:
            out = await self._state.run(self._take, keys, args)
        except StateUnavailable as exc:
            self._state.failed("rateLimit", self._mode, exc)
            if self._mode is FailureMode.FAIL_CLOSED:
                raise self._state.refusal("rate limits") from None
            return
        refused = int(out[0])
        if refused:
            b = checked[refused - 1]
            self._count_rejection(b.lim)
            err = RateLimited(MESSAGE)
            err.headers = headers(b.lim.spec.max_tokens, int(out[2 * refused - 1]), int(out[2 * refused]) / _US)
            raise err
        tightest = 0
        for i in range(1, len(checked)):
            if int(out[1 + 2 * i]) < int(out[1 + 2 * tightest]):
                tightest = i
        tokens = [(b, k) for b, k in zip(checked, keys, strict=True) if b.lim.spec.type is RateLimitType.TOKENS]
        if tokens:
            ex.policy_state[_STATE] = tokens
        ex.response_headers.extend(headers(checked[tightest].lim.spec.max_tokens, int(out[1 + 2 * tightest]),
                                           int(out[2 + 2 * tightest]) / _US))

    def _count_rejection(self, lim: Limiter) -> None:
        if self._metrics is not None:
            self._metrics.count_rate_limit_rejection(self._route, lim.spec.type.value)

    def on_complete(self, ex: Exchange) -> None:
        charged: list[tuple[_Bucket, str]] | None = ex.policy_state.get(_STATE)
        usage = ex.usage
        if not charged or usage is None:
            return
        used = usage.total_input_tokens() + usage.output_tokens
        if used > 0:
            args: list[int] = [used]
            for b, _ in charged:
                args.extend(b.debit_args)
            # Queued now, not in a task: the client's next request must see this debit.
            self._state.spawn(self._debit_result(self._state.submit(self._debit, [k for _, k in charged], args)))

    async def _debit_result(self, fut: asyncio.Future[Any]) -> None:
        try:
            await self._state.result(fut)
        except StateUnavailable as exc:
            # Tokens mode debits after the fact; a lost debit lets this usage go uncounted.
            self._state.failed("rateLimitDebit", "dropped", exc)
