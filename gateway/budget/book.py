"""The budget book: spent and reserved nanodollars per user and per team, per period.

All methods are synchronous and run on the event loop thread, so a check and the reservation it
admits happen with no await in between: concurrent requests can never both take the last dollar.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from gateway.budget.periods import rollup_column, window
from gateway.config.model_cost import BudgetLimit, Budgets
from gateway.pricing.catalog import usd

# (scope, name, rollup column, period key) -> nanodollars, as loaded from the ledger's rollups.
Totals = dict[tuple[str, str, str, str], int]


class Account:
    __slots__ = ("scope", "name", "limit", "period", "column", "key", "reset_at", "spent", "reserved", "alerted",
                 "next_alert")

    def __init__(self, scope: str, name: str, limit: BudgetLimit, column: str) -> None:
        self.scope, self.name, self.column = scope, name, column
        self.limit, self.period = limit.limit_nanos, limit.period
        self.key = ""
        self.reset_at: float | None = 0.0
        self.spent = 0
        self.reserved = 0
        self.alerted: set[float] = set()
        self.next_alert = 0  # spend at which the lowest threshold not yet alerted is crossed

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent - self.reserved)

    def reset_text(self) -> str:
        if self.reset_at is None:
            return "never (total budget)"
        return datetime.fromtimestamp(self.reset_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def describe(self) -> str:
        return (f"{self.scope} {self.name!r} budget exhausted: limit ${usd(self.limit):f} per {self.period.value} "
                f"period, spent ${usd(self.spent):f}, resets {self.reset_text()}")


@dataclass
class Reservation:
    accounts: tuple[Account, ...]
    amount: int
    member: str = ""  # its id in a shared book (state/budget.py); "" = nothing held there


class BudgetExceeded(Exception):
    def __init__(self, account: Account, alerts: list[Alert]) -> None:
        super().__init__(account.describe())
        self.account = account
        self.alerts = alerts  # thresholds the refusal crossed for the first time


@dataclass(frozen=True)
class Alert:
    account: Account
    threshold: float
    spent: int


# Accounts are state only while they hold spend or reservations in their current window; past
# this many, idle ones are dropped (exactly: reopening one gives the same empty account).
MAX_IDLE_ACCOUNTS = 100_000


class BudgetBook:
    # False: reserve() answers synchronously. A shared book (state/budget.py) is True and is used
    # through reserve_async(); the policy checks this flag so the memory path has no extra await.
    shared = False

    def __init__(self, budgets: Budgets, initial: Totals | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._budgets = budgets
        self._tz = ZoneInfo(budgets.timezone)
        self._users = dict(budgets.users)
        self._teams = dict(budgets.teams)
        self._initial = initial or {}
        self._clock = clock
        self._accounts: dict[tuple[str, str], Account] = {}
        self._max_accounts = MAX_IDLE_ACCOUNTS

    def account(self, scope: str, name: str | None, now: float | None = None) -> Account | None:
        """The account a user/team is charged to, or None when no limit applies to it."""
        if name is None:
            return None
        key = (scope, name)
        acc = self._accounts.get(key)
        if acc is None:
            # Names without a limit are not remembered: any client-chosen name would grow the map.
            acc = self._open(scope, name)
            if acc is None:
                return None
            if len(self._accounts) >= self._max_accounts:
                self._drop_idle(self._clock() if now is None else now)
            self._accounts[key] = acc
        self._roll(acc, self._clock() if now is None else now)
        return acc

    def _drop_idle(self, now: float) -> None:
        for key, acc in list(self._accounts.items()):
            self._roll(acc, now)
            if acc.spent == 0 and acc.reserved == 0:
                del self._accounts[key]

    def _open(self, scope: str, name: str) -> Account | None:
        if scope == "user":
            limit = self._users.get(name, self._budgets.default_user)
        else:
            limit = self._teams.get(name, self._budgets.default_team)
        if limit is None:
            return None
        return Account(scope, name, limit, rollup_column(limit.period, self._budgets.timezone))

    def _roll(self, acc: Account, now: float) -> None:
        if acc.reset_at is None or now < acc.reset_at:
            return
        key, _, end = window(acc.period, self._tz, now)
        first = not acc.key
        acc.key, acc.reset_at, acc.alerted = key, end, set()
        # The first window resumes from the ledger; a later one starts from zero.
        acc.spent = self._initial.get((acc.scope, acc.name, acc.column, key), 0) if first else 0
        self._aim(acc)

    def _aim(self, acc: Account) -> None:
        pending = [acc.limit * t for t in self._budgets.alerts.thresholds if t not in acc.alerted]
        acc.next_alert = int(min(pending)) if pending else 1 << 62

    def reserve(self, user: str | None, team: str | None, amount: int) -> Reservation:
        """Admit a request costing at most `amount` or raise BudgetExceeded naming the account."""
        now = self._clock()
        u, t = self.account("user", user, now), self.account("team", team, now)
        accounts = (u, t) if u is not None and t is not None else (u,) if u is not None else (t,) if t else ()
        for acc in accounts:
            if acc.spent + acc.reserved + amount > acc.limit:
                raise BudgetExceeded(acc, self.refused(acc))
        for acc in accounts:
            acc.reserved += amount
        return Reservation(accounts, amount)

    async def reserve_async(self, user: str | None, team: str | None, amount: int) -> Reservation:
        return self.reserve(user, team, amount)

    def settle(self, res: Reservation, actual: int) -> list[Alert]:
        """Replace the reservation by the actual cost; returns thresholds crossed for the first time."""
        alerts: list[Alert] = []
        now = self._clock()
        for acc in res.accounts:
            acc.reserved -= res.amount
            self._roll(acc, now)
            acc.spent += actual
            if acc.spent >= acc.next_alert:
                alerts.extend(self._crossed(acc, acc.spent))
        res.amount = 0
        return alerts

    def refused(self, acc: Account) -> list[Alert]:
        """A refusal means the budget is used up for practical purposes: fire every threshold up to 100%."""
        return self._crossed(acc, max(acc.spent, acc.limit))

    def _crossed(self, acc: Account, spent: int) -> list[Alert]:
        out = []
        for t in self._budgets.alerts.thresholds:
            if t not in acc.alerted and spent >= acc.limit * t:
                acc.alerted.add(t)
                out.append(Alert(acc, t, acc.spent))
        self._aim(acc)
        return out

    def snapshot(self) -> list[Account]:
        return list(self._accounts.values())

    async def close(self) -> None:
        return None
