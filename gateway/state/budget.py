"""Budget reservations in Redis: one budget for every worker and replica.

A reservation is checked and taken on the user's and the team's accounts in one script call
(spent + reserved + amount <= limit for each, or nothing is reserved). Each reservation is an
entry with a deadline in Redis time; this process renews the deadlines of its in-flight
reservations every third of `reservationTtl`, so a crashed process's reservations expire and are
released by the next check. Settling (actual cost to spent, reservation released) runs in the
background after the response, retried with backoff while Redis is down.

Spent lives per account and period window (key holds the period, expires a day after the window
ends). A period Redis has no value for starts from the ledger's total for it (HSETNX), so a
Redis without persistence does not forget what the ledger knows. Alert thresholds are marked in
Redis, so each fires once per deployment. The local Account objects hold the last values Redis
returned, for the budget metrics.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from gateway.budget.book import Account, Alert, BudgetBook, BudgetExceeded, Reservation, Totals
from gateway.config.model_cost import Budgets
from gateway.config.model_state import FailureMode
from gateway.state import scripts
from gateway.state.backend import RedisState, StateUnavailable

# A window's spend is kept this long after the window ends (reports and late settlements).
PERIOD_GRACE = 86400
# Background settlement retries while Redis is unreachable: 0.25s doubling, about 30s in all.
SETTLE_TRIES = 8
_RENEW_BATCH = 256


class SharedBudgetBook(BudgetBook):
    shared = True

    def __init__(self, budgets: Budgets, state: RedisState, initial: Totals | None,
                 on_alerts: Callable[[list[Alert]], None], clock: Callable[[], float] = time.time) -> None:
        super().__init__(budgets, initial, clock)
        self._state = state
        self._mode = state.config.budget_failure_mode
        self._ttl_ms = max(1000, int(state.config.reservation_ttl * 1000))
        self._reserve = state.script(scripts.RESERVE)
        self._settle = state.script(scripts.SETTLE)
        self._renew = state.script(scripts.RENEW)
        self._on_alerts = on_alerts
        self._thresholds = budgets.alerts.thresholds
        self._live: dict[str, tuple[Account, ...]] = {}  # reservations this process holds
        self._ids = itertools.count(1)
        self._pid = uuid.uuid4().hex[:12]
        self._renewer: asyncio.Task[None] | None = None

    # -- keys and arguments -------------------------------------------------------------------

    def _keys(self, acc: Account) -> tuple[str, str, str]:
        # The (client-influenced) name is always last, after a fixed number of parts: no collisions.
        key = self._state.key
        return (key("b", acc.scope, acc.column, acc.key, acc.name), key("b", acc.scope, "reserved", acc.name),
                key("b", acc.scope, "live", acc.name))

    def _period_args(self, acc: Account) -> list[Any]:
        seed = self._initial.get((acc.scope, acc.name, acc.column, acc.key), 0)
        ends = 0 if acc.reset_at is None else int(acc.reset_at) + PERIOD_GRACE
        args: list[Any] = [seed, ends, len(self._thresholds)]
        for t in self._thresholds:
            args.extend((f"{t:g}", math.ceil(acc.limit * t)))
        return args

    def _alerts(self, acc: Account, labels: list[Any], spent: int) -> list[Alert]:
        fired = [float(label) for label in labels]
        acc.alerted.update(fired)
        return [Alert(acc, t, spent) for t in fired]

    # -- the book's interface -------------------------------------------------------------------

    async def reserve_async(self, user: str | None, team: str | None, amount: int) -> Reservation:
        now = self._clock()
        found = (self.account("user", user, now), self.account("team", team, now))
        accounts = tuple(a for a in found if a is not None)
        if not accounts:
            return Reservation((), amount)
        member = f"{self._pid}-{next(self._ids):x}:{amount}"
        keys: list[str] = []
        args: list[Any] = [amount, member, self._ttl_ms]
        for acc in accounts:
            keys.extend(self._keys(acc))
            args.append(acc.limit)
            args.extend(self._period_args(acc))
        try:
            out = await self._state.run(self._reserve, keys, args)
        except StateUnavailable as exc:
            self._state.failed("budgetReserve", self._mode, exc)
            if self._mode is FailureMode.FAIL_CLOSED:
                raise self._state.refusal("budgets") from None
            return Reservation(accounts, amount)  # admitted unreserved; settling still adds the cost
        if out[0]:
            acc = accounts[int(out[0]) - 1]
            acc.spent, acc.reserved = int(out[1]), int(out[2])
            raise BudgetExceeded(acc, self._alerts(acc, out[3], max(acc.spent, acc.limit)))
        for acc, (spent, reserved) in zip(accounts, out[1], strict=True):
            acc.spent, acc.reserved = int(spent), int(reserved)
        self._live[member] = accounts
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())
        return Reservation(accounts, amount, member)

    def settle(self, res: Reservation, actual: int) -> list[Alert]:
        """Returns no alerts: they fire when Redis has answered (on_alerts)."""
        if res.accounts:
            self._settle_later(res.accounts, res.amount, res.member, actual)
        res.amount = 0
        return []

    def _settle_later(self, accounts: tuple[Account, ...], amount: int, member: str, actual: int) -> None:
        now = self._clock()
        keys: list[str] = []
        args: list[Any] = [amount, member, actual]
        for acc in accounts:
            self._roll(acc, now)  # the cost counts in the window the request ends in
            keys.extend(self._keys(acc))
            args.extend(self._period_args(acc))
        # The first attempt is queued now, not in a task: the client's next request must see this spend.
        first = self._state.submit(self._settle, keys, args)
        self._state.spawn(self._settled(accounts, member, keys, args, first))

    async def _settled(self, accounts: tuple[Account, ...], member: str, keys: list[str], args: list[Any],
                       first: asyncio.Future[Any]) -> None:
        delay = 0.25
        try:
            for attempt in range(1, SETTLE_TRIES + 1):
                try:
                    fut = first if attempt == 1 else self._state.submit(self._settle, keys, args)
                    out = await self._state.result(fut)
                    break
                except StateUnavailable as exc:
                    if attempt == SETTLE_TRIES:
                        self._state.failed("budgetSettle", "dropped", exc)
                        return
                    self._state.failed("budgetSettle", "retried", exc)
                    await asyncio.sleep(delay)
                    delay *= 2
        finally:
            self._live.pop(member, None)
        alerts: list[Alert] = []
        for acc, (spent, reserved, labels) in zip(accounts, out, strict=True):
            acc.spent, acc.reserved = int(spent), int(reserved)
            alerts.extend(self._alerts(acc, labels, acc.spent))
        if alerts:
            self._on_alerts(alerts)

    async def _renew_forever(self) -> None:
        """Keep this process's reservations alive; if it dies they expire after reservationTtl."""
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            live = list(self._live.items())
            for i in range(0, len(live), _RENEW_BATCH):
                keys: list[str] = []
                args: list[Any] = [self._ttl_ms]
                for member, accounts in live[i:i + _RENEW_BATCH]:
                    for acc in accounts:
                        _, counter, entries = self._keys(acc)
                        keys.extend((counter, entries))
                        args.append(member)
                try:
                    await self._state.run(self._renew, keys, args)
                except StateUnavailable as exc:
                    self._state.failed("budgetRenew", "retried", exc)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
