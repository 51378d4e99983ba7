"""The process-wide cost service: catalog, budget book, ledger store, alerts and their metrics.

Created once (Services.shared) and used by every LLM route's budget policy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter

from gateway.budget.alerts import Alerter
from gateway.budget.book import BudgetBook, Totals
from gateway.config.model_cost import CostConfig
from gateway.ledger.record import SpendStore
from gateway.ledger.stores import open_store
from gateway.pricing.catalog import Catalog, build_catalog
from gateway.telemetry.cost_metrics import budget_families, ledger_families

if TYPE_CHECKING:
    from gateway.state.backend import RedisState

log = logging.getLogger("agentgateway.cost")

SERVICE_KEY = "cost"


class CostService:
    def __init__(self, cost: CostConfig, metrics: Any, state: RedisState | None = None) -> None:
        self.config = cost
        self._state = state  # config.stateBackend redis: budgets shared through it
        self.catalog: Catalog = build_catalog(cost.catalogs, cost.builtin_catalog)
        budgets = cost.budgets
        self.timezone = budgets.timezone if budgets else "UTC"
        self.default_max_output = budgets.default_max_output_tokens if budgets else 4096
        self.store: SpendStore | None = None
        if cost.ledger is not None:
            self.store = open_store(cost.ledger, self.timezone)
        self.book: BudgetBook | None = self._new_book(None)
        reg = metrics.registry
        self.lookups = Counter("agentgateway_cost_catalog_lookups", "Model price lookups by outcome",
                               ("status", "gen_ai_request_model"), registry=reg)
        self.rejections = Counter("agentgateway_budget_rejections", "Requests refused because a budget is used up",
                                  ("scope",), registry=reg)
        alerts = Counter("agentgateway_budget_alerts", "Budget alert thresholds crossed", ("scope", "threshold"),
                         registry=reg)
        webhook = budgets.alerts.webhook if budgets else None
        self.alerter = Alerter(webhook.reveal() if webhook is not None else None, alerts)
        self._warned: set[str] = set()
        # Read when scraped (the book is replaced in start(): the lambda looks it up each time).
        if budgets is not None:
            metrics.watch("budget", lambda: budget_families(self.book, budgets))
        store = self.store
        if store is not None:
            metrics.watch("ledger", lambda: ledger_families(store))

    async def start(self) -> None:
        if self.store is not None:
            await self.store.start()
            if self.config.budgets is not None:
                # Budgets resume from the ledger's rollups of the current periods.
                self.book = self._new_book(self.store.period_totals())
        log.info("pricing: %d models, catalog %s", len(self.catalog), self.catalog.version)

    def _new_book(self, totals: Totals | None) -> BudgetBook | None:
        budgets = self.config.budgets
        if budgets is None:
            return None
        if self._state is None:
            return BudgetBook(budgets, totals)
        from gateway.state.budget import SharedBudgetBook

        return SharedBudgetBook(budgets, self._state, totals, lambda alerts: self.alerter.fire(alerts))

    async def close(self) -> None:
        if self.book is not None:
            await self.book.close()
        await self.alerter.close()
        if self.store is not None:
            await self.store.close()

    def unknown_model(self, provider: str, model: str | None) -> None:
        """Count a model without a price; warn once per model (clients choose model names: bounded set)."""
        name = model or "unknown"
        if name not in self._warned and len(self._warned) < 1000:
            self._warned.add(name)
            log.warning("no price for model %r (provider %s) in catalog %s: charged $0; add it to "
                        "config.modelCatalog", name, provider, self.catalog.version)
        self.lookups.labels("missing", name).inc()
