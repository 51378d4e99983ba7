"""Scrape-time metric families of the cost service: budget spend/remaining and spend-ledger lag.

Both are read from state the request path keeps anyway (the budget book's accounts, the ledger's
queue), when Prometheus scrapes, so they add nothing per request. Budget gauges carry one label
value per account; `config.budgets.metrics` bounds that: teams by default, users opt-in, and at
most `maxSeries` accounts (the biggest spenders) per scrape, with the number left out reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from gateway.budget.book import Account, BudgetBook
from gateway.config.model_cost import Budgets

_LABELS = ("scope", "account", "period")
_NANOS = 1e9


class LedgerStats(Protocol):
    written: int
    dropped: int  # records given up on (Postgres unreachable with a full queue, or rejected as invalid)
    write_failures: int
    commit_lag: float

    def queue_depth(self) -> int: ...

    def oldest_pending_age(self, now: float) -> float: ...


def budget_families(book: BudgetBook | None, budgets: Budgets) -> list[Metric]:
    """agentgateway_budget_{spent,remaining,limit}_usd per exported account, and the count omitted."""
    cfg = budgets.metrics
    spent = GaugeMetricFamily("agentgateway_budget_spent_usd", "Spend in the current budget period", labels=_LABELS)
    remaining = GaugeMetricFamily("agentgateway_budget_remaining_usd",
                                  "Budget left in the current period (reservations of in-flight requests deducted)",
                                  labels=_LABELS)
    limit = GaugeMetricFamily("agentgateway_budget_limit_usd", "Budget limit per period", labels=_LABELS)
    omitted = GaugeMetricFamily("agentgateway_budget_series_omitted",
                                "Budget accounts not exported because of budgets.metrics.maxSeries")
    accounts = _accounts(book, budgets) if book is not None else []
    accounts.sort(key=lambda a: a.spent, reverse=True)
    for acc in accounts[: cfg.max_series]:
        labels = [acc.scope, acc.name, acc.period.value]
        spent.add_metric(labels, acc.spent / _NANOS)
        remaining.add_metric(labels, acc.remaining / _NANOS)
        limit.add_metric(labels, acc.limit / _NANOS)
    omitted.add_metric([], max(0, len(accounts) - cfg.max_series))
    return [spent, remaining, limit, omitted]


def _accounts(book: BudgetBook, budgets: Budgets) -> list[Account]:
    """The enabled scopes' accounts: the ones requests opened, plus the named ones in the config
    (a team that has not spent yet still shows its full budget)."""
    cfg = budgets.metrics
    scopes = {s for s, on in (("team", cfg.teams), ("user", cfg.users)) if on}
    if not scopes:
        return []
    keys = {(a.scope, a.name) for a in book.snapshot() if a.scope in scopes}
    if "team" in scopes:
        keys.update(("team", name) for name, _ in budgets.teams)
    if "user" in scopes:
        keys.update(("user", name) for name, _ in budgets.users)
    # book.account() rolls an account whose period ended, so a new period scrapes as 0 spent.
    found = (book.account(scope, name) for scope, name in keys)
    return [a for a in found if a is not None]


def ledger_families(store: LedgerStats, clock: Callable[[], float] = time.time) -> list[Metric]:
    lag = GaugeMetricFamily("agentgateway_ledger_commit_lag_seconds",
                            "Enqueue-to-commit time of the oldest record in the last committed ledger batch")
    lag.add_metric([], store.commit_lag)
    pending = GaugeMetricFamily("agentgateway_ledger_oldest_pending_seconds",
                                "Age of the oldest spend record not yet committed (0 when none)")
    pending.add_metric([], store.oldest_pending_age(clock()))
    depth = GaugeMetricFamily("agentgateway_ledger_queue_depth", "Spend records waiting for the ledger writer")
    depth.add_metric([], store.queue_depth())
    written = CounterMetricFamily("agentgateway_ledger_records_written", "Spend records committed to the ledger")
    written.add_metric([], store.written)
    dropped = CounterMetricFamily("agentgateway_ledger_records_dropped",
                                  "Spend records never written (queue full while the database was unreachable)")
    dropped.add_metric([], store.dropped)
    failures = CounterMetricFamily("agentgateway_ledger_write_failures", "Ledger batch writes that failed (retried)")
    failures.add_metric([], store.write_failures)
    return [lag, pending, depth, written, dropped, failures]
