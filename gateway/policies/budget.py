"""Cost accounting on LLM routes: price, budget reservation and settlement, the ledger record.

Last in the chain, on the final model and body. `on_request` reserves the worst-case cost of the
request (estimated input tokens + the output cap, at the model's prices) against the user's and the
team's budgets in one synchronous step, so no number of concurrent requests can overshoot a limit.
`on_complete` replaces the reservation with the actual cost from the provider's usage (streams:
the final usage; a client that disconnected: what the provider reported so far, else an estimate),
and writes the ledger record (every request that reached this policy: success, refusal, failure).
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from gateway.budget.book import BudgetExceeded, Reservation
from gateway.budget.service import SERVICE_KEY, CostService
from gateway.config.model import AIBackend, AIGroups, ModelRouter, Route, RouteType
from gateway.config.model_cost import UnknownModel
from gateway.errors import BudgetExhausted, UnpricedModel
from gateway.ledger.record import SpendRecord
from gateway.policies.base import Exchange, Policy, Services
from gateway.pricing.catalog import split_usage
from gateway.state import shared_state

_STATE = "budget"
# Exchange.policy_state key holding the request's priced cost in nanodollars once settled (for metrics/logs).
COST_NANOS = "cost.nanos"
_PRICED_TYPES = frozenset({RouteType.COMPLETIONS, RouteType.MESSAGES, RouteType.RESPONSES})
_OUTPUT_CAP_KEYS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
_REQUEST_ID = b"x-request-id"


class _State:
    __slots__ = ("reservation", "input_estimate", "output_cap")

    def __init__(self, input_estimate: int, output_cap: int) -> None:
        self.reservation: Reservation | None = None
        self.input_estimate = input_estimate
        self.output_cap = output_cap


def output_cap(body: dict[str, Any], default: int) -> int:
    for key in _OUTPUT_CAP_KEYS:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


class BudgetPolicy(Policy):

    after_model_rules = True
    name = "budget"

    def __init__(self, service: CostService, route_name: str) -> None:
        self.svc = service
        self.route_name = route_name

    async def on_request(self, ex: Exchange) -> None:
        if ex.body is None or ex.route_type not in _PRICED_TYPES:
            return
        svc = self.svc
        # A rule-of-thumb 4 characters per token over the whole JSON body (keys included) over-counts
        # prose, which is the safe side for a reservation.
        state = _State((len(ex.req.body) + 3) // 4, output_cap(ex.body, svc.default_max_output))
        ex.policy_state[_STATE] = state
        worst = svc.catalog.worst_case(ex.provider, ex.model, state.input_estimate, state.output_cap)
        if not worst.known and svc.config.unknown_model is UnknownModel.REJECT:
            raise UnpricedModel(f"model {ex.model!r} has no price in the model catalog ({svc.catalog.version}); "
                                "add it to config.modelCatalog")
        book = svc.book
        if book is None:
            return
        try:
            if book.shared:  # Redis: one round trip; failure modes are applied by the book
                state.reservation = await book.reserve_async(ex.user, ex.team, worst.nanos)
            else:
                state.reservation = book.reserve(ex.user, ex.team, worst.nanos)
        except BudgetExceeded as exc:
            svc.rejections.labels(exc.account.scope).inc()
            svc.alerter.fire(exc.alerts)
            raise BudgetExhausted(str(exc)) from None

    def on_complete(self, ex: Exchange) -> None:
        state: _State | None = ex.policy_state.get(_STATE)
        if state is None:
            return
        svc = self.svc
        model = ex.response_model or ex.model
        uncached, output, read, write = self._tokens(ex, state)
        cost = svc.catalog.cost(ex.provider, model, uncached, output, read, write)
        if not cost.known and (ex.model or model):
            cost = svc.catalog.cost(ex.provider, ex.model, uncached, output, read, write)
            if not cost.known:
                svc.unknown_model(ex.provider, model)
        ex.policy_state[COST_NANOS] = cost.nanos
        if state.reservation is not None and svc.book is not None:
            svc.alerter.fire(svc.book.settle(state.reservation, cost.nanos))
        if svc.store is not None:
            svc.store.append(SpendRecord(
                time.time(), _request_id(ex), ex.user, ex.team, self.route_name, ex.provider,
                ex.request_model or ex.model, model, uncached + read + write, output, read, write, cost.nanos,
                ex.status, max(0.0, round((time.monotonic() - ex.started_at) * 1000, 3)), svc.catalog.version,
            ))

    @staticmethod
    def _tokens(ex: Exchange, state: _State) -> tuple[int, int, int, int]:
        usage = ex.usage
        reported = usage is not None and (usage.total_input_tokens() or usage.output_tokens)
        if reported:
            uncached, output, read, write = split_usage(usage)
            if ex.disconnected and output == 0:
                output = min(state.output_cap, usage.events)  # roughly one token per streamed event
            return uncached, output, read, write
        if usage is None or (ex.status >= 300 and not ex.disconnected):
            return 0, 0, 0, 0  # refused, failed before the provider, or a provider error: nothing billed
        # 2xx (or a cut stream) without usage: charge an estimate of what the provider will bill.
        return state.input_estimate, min(state.output_cap, max(usage.events, 1)), 0, 0


# Generated ids: a random per-process prefix and a counter (unique across restarts, and far cheaper
# per request than uuid4's os.urandom call).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ids = itertools.count(1)


def _request_id(ex: Exchange) -> str:
    rid = ex.req.header(_REQUEST_ID)
    return rid.decode("latin-1")[:128] if rid else f"{_ID_PREFIX}-{next(_ids):x}"


def _is_llm(route: Route) -> bool:
    return any(isinstance(b.target, (AIBackend, AIGroups, ModelRouter)) for b in route.backends)


def build(route: Route, services: Services) -> Policy | None:
    cost = services.config.process.cost
    if not cost.active or not _is_llm(route):
        return None
    service = services.shared(SERVICE_KEY, lambda: CostService(cost, services.metrics, shared_state(services)))
    return BudgetPolicy(service, route.name or "unknown")
