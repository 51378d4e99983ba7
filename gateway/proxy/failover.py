"""Which providers a request may try, in what order, and whether another try is allowed.

A request's plan is an ordered list of candidates (provider backends):
- several `ai` backends on one route: explicit `weight`s make a weighted pick first (the others
  follow, heaviest first); without weights the list order is the priority order (the seed's
  "primary" then "fallback");
- `ai.groups`: tier by tier, in a random order inside a tier;
- `llm.virtualModels`: weighted (weighted pick first), failover (priority tiers) or conditional
  (the first target whose CEL `when` holds; the last target without `when` is the fallback);
- `llm.models`: the one model the client named.
Ejected providers (upstream/health.py) are left out while cooling down; if every candidate is
ejected the one recovering soonest is still tried, so ejection alone never turns a request away.

Retries are bounded per request (MAX_EXTRA_ATTEMPTS) and process-wide by a retry budget: each
client request earns RETRY_RATIO of a retry, so a full outage adds at most ~20% load (plus a
small burst) instead of multiplying it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.config.model import (
    AIBackend,
    AIGroups,
    BackendTarget,
    LLMModel,
    ModelRouter,
    Retry,
    Route,
    VirtualModel,
    VirtualTarget,
)
from gateway.errors import InvalidRequest, ModelNotFound
from gateway.policies.base import Exchange
from gateway.routing.router import headers_match
from gateway.server.types import Request
from gateway.upstream.health import HealthTable, retry_hint

MAX_EXTRA_ATTEMPTS = 2
RETRY_RATIO = 0.2
RETRY_BURST = 10.0
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
SEED_ENV = "GATEWAY_RANDOM_SEED"  # makes every random choice here reproducible (tests, demos)


@dataclass(frozen=True)
class Candidate:
    backend: AIBackend
    model: str | None = None  # a virtual model's target, written into the body's `model` first
    transformation: tuple[tuple[str, Any], ...] = ()  # the llm model's `transformation` (field, CEL)


class RetryBudget:
    """A token bucket of retries refilled by requests, not by time."""

    def __init__(self, ratio: float = RETRY_RATIO, burst: float = RETRY_BURST) -> None:
        self.ratio = ratio
        self.burst = burst
        self.tokens = burst

    def deposit(self) -> None:
        tokens = self.tokens + self.ratio  # once per request: a comparison, not a min() call
        self.tokens = tokens if tokens < self.burst else self.burst

    def can_spend(self) -> bool:
        return self.tokens >= 1.0

    def spend(self) -> None:
        self.tokens -= 1.0


# Backends are immutable and few, so their health keys and single-candidate plans are made once,
# cached by identity (the backend is kept in the value: a reused id() after a reload cannot hit).
_MAX_CACHED = 4096
_HEALTH_KEYS: dict[int, tuple[AIBackend, str]] = {}
_SINGLE: dict[int, tuple[AIBackend, Candidate]] = {}


def health_key(backend: AIBackend) -> str:
    hit = _HEALTH_KEYS.get(id(backend))
    if hit is not None and hit[0] is backend:
        return hit[1]
    host = backend.host_override
    where = f"{host.host}:{host.port}" if host is not None else "default"
    key = f"{backend.provider.kind}|{backend.name}|{backend.provider.model}|{where}"
    if len(_HEALTH_KEYS) >= _MAX_CACHED:
        _HEALTH_KEYS.clear()
    _HEALTH_KEYS[id(backend)] = (backend, key)
    return key


def _single(backend: AIBackend) -> Candidate:
    hit = _SINGLE.get(id(backend))
    if hit is not None and hit[0] is backend:
        return hit[1]
    if len(_SINGLE) >= _MAX_CACHED:
        _SINGLE.clear()
    candidate = Candidate(backend)
    _SINGLE[id(backend)] = (backend, candidate)
    return candidate


class Failover:
    """Process-wide: the health table, the retry budget and the random source."""

    def __init__(self, seed: str | None = None) -> None:
        self.health = HealthTable()
        self.budget = RetryBudget()
        self.rng = random.Random(seed if seed is not None else os.environ.get(SEED_ENV))

    # -- planning -------------------------------------------------------------------------------

    def plan(self, route: Route | None, target: BackendTarget, ex: Exchange, now: float) -> list[Candidate]:
        self.budget.deposit()
        ordered = self._ordered(route, target, ex)
        healthy = [c for c in ordered if self.health.available(health_key(c.backend), now)]
        if healthy:
            return healthy
        return [min(ordered, key=lambda c: self.health.ejected_until(health_key(c.backend)))]

    def _ordered(self, route: Route | None, target: BackendTarget, ex: Exchange) -> list[Candidate]:
        backends = route.backends if route is not None else ()
        if len(backends) > 1 and all(isinstance(b.target, (AIBackend, AIGroups)) for b in backends):
            if any(b.weight_set for b in backends):
                first = self._weighted([(b, b.weight) for b in backends])
                rest = sorted((b for b in backends if b is not first), key=lambda b: -b.weight)
                order = [first, *rest]
            else:
                order = list(backends)
            return [c for b in order for c in self._of_target(b.target, ex)]
        return self._of_target(target, ex)

    def _of_target(self, target: BackendTarget, ex: Exchange) -> list[Candidate]:
        if isinstance(target, AIBackend):
            return [_single(target)]
        if isinstance(target, AIGroups):
            out = [Candidate(b) for tier in target.groups for b in self._shuffled(tier)]
            if not out:
                raise InvalidRequest("no providers configured")
            return out
        if isinstance(target, ModelRouter):
            return self._of_router(target, ex)
        raise InvalidRequest("backend is not an AI backend")

    def _of_router(self, router: ModelRouter, ex: Exchange) -> list[Candidate]:
        model = ex.body.get("model") if ex.body is not None else None
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model not specified", code="missing_model")
        virtual = next((v for v in router.virtual if v.name == model), None)
        if virtual is None:
            found = resolve_model(router, model, ex.req, include_internal=False)
            if found is None:
                raise ModelNotFound(f"model {model!r} not found")
            return [Candidate(found.backend, None, found.transformation)]
        out: list[Candidate] = []
        for t in self._virtual_order(virtual, ex):
            found = resolve_model(router, t.model, ex.req, include_internal=True)
            if found is not None:
                out.append(Candidate(found.backend, t.model, found.transformation))
        if not out:
            raise ModelNotFound(f"virtual model {model!r} has no target that serves this request")
        return out

    def _virtual_order(self, vm: VirtualModel, ex: Exchange) -> list[VirtualTarget]:
        targets = list(vm.targets)
        if vm.kind == "conditional":
            chosen = next((t for t in targets if t.when is None or t.when.evaluate(ex) is True), None)
            return [chosen] if chosen is not None else []
        if vm.kind == "weighted":
            first = self._weighted([(t, t.weight) for t in targets])
            return [first, *sorted((t for t in targets if t is not first), key=lambda t: -t.weight)]
        tiers = sorted({t.priority for t in targets})
        return [t for p in tiers for t in self._shuffled([t for t in targets if t.priority == p])]

    def _weighted(self, items: Sequence[tuple[Any, int]]) -> Any:
        weights = [max(0, w) for _, w in items]
        if sum(weights) <= 0:
            return items[0][0]
        return self.rng.choices([i for i, _ in items], weights=weights)[0]

    def _shuffled(self, items: Iterable[Any]) -> list[Any]:
        out = list(items)
        if len(out) > 1:
            self.rng.shuffle(out)
        return out

    # -- outcomes -------------------------------------------------------------------------------

    @staticmethod
    def attempts(plan: list[Candidate], retry: Retry | None) -> list[Candidate]:
        """The candidates of each attempt. A route `retry` sets the total; when it is larger than
        the plan, the plan repeats (a single provider is retried, as agentgateway does)."""
        if retry is None:
            return plan[:MAX_EXTRA_ATTEMPTS + 1]
        return [plan[i % len(plan)] for i in range(retry.attempts)]

    def may_retry(self, attempt: int, total: int) -> bool:
        """Whether a failure of attempt number `attempt` (0-based) may go on to the next attempt."""
        return attempt + 1 < total and self.budget.can_spend()

    @staticmethod
    def retries_status(status: int, retry: Retry | None, unhealthy: bool) -> bool:
        """A response worth another attempt: a status in the route's `retry.codes`; without a retry
        policy, an unhealthy one (429/5xx, or the backend's `health.unhealthyExpression`)."""
        return status in retry.codes if retry is not None else unhealthy

    @staticmethod
    def unhealthy(backend: AIBackend, status: int) -> bool:
        """The backend's `health.unhealthyExpression` over `response.code`, else 429/5xx."""
        health = backend.policies.health
        if health is not None and health.unhealthy is not None:
            return health.unhealthy.evaluate_with({"response": {"code": status}}) is True
        return status in RETRYABLE_STATUS

    def failed(self, backend: AIBackend, now: float, headers: dict[str, str] | None = None) -> float:
        """Record a failure of `backend` (ejecting it once `consecutiveFailures` is reached);
        returns the cool-down started, 0 when none."""
        hint = retry_hint(headers, time.time()) if headers else None
        health = backend.policies.health
        if health is None:
            return self.health.failure(health_key(backend), now, hint)
        return self.health.failure(health_key(backend), now, hint, health.consecutive_failures,
                                   health.eviction_duration)

    def succeeded(self, backend: AIBackend) -> None:
        self.health.success(health_key(backend))


def resolve_model(router: ModelRouter, model: str, req: Request, include_internal: bool) -> LLMModel | None:
    """agentgateway's model_router: the most specific pattern whose header matches hold."""
    for candidate in router.models:
        if candidate.internal and not include_internal:
            continue
        if candidate.matches(model) and headers_match(candidate.header_matches, req):
            return candidate
    return None
