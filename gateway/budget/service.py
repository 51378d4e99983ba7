"""The process-wide cost service: catalog, budget book, ledger store, alerts and their metrics.

Created once (Services.shared) and used by every LLM route's budget policy.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter

from gateway.budget.alerts import Alerter
from gateway.budget.book import BudgetBook
from gateway.config.model_cost import CostConfig
from gateway.ledger.record import SpendStore
from gateway.ledger.sqlite_store import SqliteSpendStore
from gateway.pricing.catalog import Catalog, build_catalog
from gateway.telemetry.cost_metrics import budget_families, ledger_families

log = logging.getLogger("agentgateway.cost")

SERVICE_KEY = "cost"


class CostService:
    def __init__(self, cost: CostConfig, metrics: Any) -> None:
        self.config = cost
        self.catalog: Catalog = build_catalog(cost.catalogs, cost.builtin_catalog)
        budgets = cost.budgets
        self.timezone = budgets.timezone if budgets else "UTC"
        self.default_max_output = budgets.default_max_output_tokens if budgets else 4096
        self.store: SpendStore | None = None
        if cost.ledger is not None:
            self.store = SqliteSpendStore(cost.ledger.path, cost.ledger.flush_interval, self.timezone)
        self.book: BudgetBook | None = BudgetBook(budgets) if budgets else None
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
                self.book = BudgetBook(self.config.budgets, self.store.period_totals())
        log.info("pricing: %d models, catalog %s", len(self.catalog), self.catalog.version)

    async def close(self) -> None:
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
