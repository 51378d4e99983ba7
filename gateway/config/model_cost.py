"""IR for cost controls: model prices, budgets and the spend ledger (`config.modelCatalog`,
`config.pricing`, `config.budgets`, `config.ledger`). Amounts are integer nanodollars (USD x 1e9)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # model.py imports this module; annotations only
    from .model import Secret


class Period(str, enum.Enum):
    DAILY = "daily"
    WEEKLY = "weekly"  # ISO weeks, Monday 00:00 in the budget timezone
    MONTHLY = "monthly"
    TOTAL = "total"  # never resets


class UnknownModel(str, enum.Enum):
    ZERO_COST = "zeroCost"  # serve, charge 0, warn once per model, count it
    REJECT = "reject"  # refuse before the provider call (only where budgets or the ledger apply)


@dataclass(frozen=True)
class BudgetLimit:
    limit_nanos: int
    period: Period = Period.MONTHLY


@dataclass(frozen=True)
class BudgetAlerts:
    thresholds: tuple[float, ...] = (0.8, 1.0)  # fractions of the limit
    webhook: Secret | None = None  # URL (often carries a token: redacted in dumps); JSON POST with retries


@dataclass(frozen=True)
class BudgetMetrics:
    """config.budgets.metrics: which accounts get spend/remaining gauges. Users are opt-in and the
    number of accounts exported is capped: every account is a label value on every scrape."""

    teams: bool = True
    users: bool = False
    max_series: int = 200  # accounts per scrape, biggest spenders first


@dataclass(frozen=True)
class Budgets:
    users: tuple[tuple[str, BudgetLimit], ...] = ()
    teams: tuple[tuple[str, BudgetLimit], ...] = ()
    default_user: BudgetLimit | None = None
    default_team: BudgetLimit | None = None
    timezone: str = "UTC"
    default_max_output_tokens: int = 4096
    alerts: BudgetAlerts = field(default_factory=BudgetAlerts)
    metrics: BudgetMetrics = field(default_factory=BudgetMetrics)


@dataclass(frozen=True)
class Ledger:
    """Exactly one of `path` (SQLite file) and `url` (Postgres) is set."""

    path: str | None = None
    flush_interval: float = 1.0  # seconds; a crash loses at most this much
    url: Secret | None = None  # postgres://user:pass@host:port/db (the password must never be shown)
    safe_url: str | None = None  # `url` with its password replaced: for logs, errors and the dump
    pool_size: int = 2  # Postgres connections of the ledger writer
    max_queue: int = 100_000  # Postgres: records held in memory while it is unreachable; beyond: dropped


@dataclass(frozen=True)
class CostConfig:
    # modelCatalog documents in order (plain data, already validated); later entries win.
    catalogs: tuple[Any, ...] = ()
    builtin_catalog: bool = True
    unknown_model: UnknownModel = UnknownModel.ZERO_COST
    budgets: Budgets | None = None
    ledger: Ledger | None = None

    @property
    def active(self) -> bool:
        """Cost accounting runs on LLM routes only when budgets or a ledger ask for it."""
        return self.budgets is not None or self.ledger is not None
