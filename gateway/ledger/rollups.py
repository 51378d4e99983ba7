"""Per-period rollups of a batch of spend records, shared by the SQLite and Postgres stores.

A rollup row is spend per user or team per budget window (daily/weekly/monthly/total in the budget
timezone). Stores add a batch's sums to their rollup table in the same transaction as its rows, so
budgets resume on start from the current windows' rows without scanning the raw log.
"""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo

from gateway.budget.periods import rollup_column, window
from gateway.config.model_cost import Period
from gateway.ledger.record import SpendRecord

# (scope, name, rollup column, period key, cost nanos, requests)
RollupRow = tuple[str, str, str, str, int, int]


class Rollups:
    def __init__(self, timezone: str) -> None:
        self._tz_name = timezone
        self._tz = ZoneInfo(timezone)
        self._windows: tuple[float, float, list[tuple[str, str]]] | None = None

    def current(self, now: float) -> list[tuple[str, str]]:
        """(rollup column, period key) of every period kind at `now`."""
        return self._window_keys(now)

    def sums(self, batch: Iterable[SpendRecord]) -> list[RollupRow]:
        """One row per (account, period window) touched by the batch, not one per record; sorted, so
        concurrent writers lock rollup rows in the same order (no deadlocks)."""
        # First per (user, team, windows): one dict operation per record (the windows list is shared
        # while records stay inside the same day), then spread over the 2 scopes x 4 period kinds.
        groups: dict[tuple[str | None, str | None, int], list[int]] = {}
        windows: dict[int, list[tuple[str, str]]] = {}
        for rec in batch:
            keys = self._window_keys(rec.ts)
            windows[id(keys)] = keys
            group = groups.get((rec.user, rec.team, id(keys)))
            if group is None:
                groups[(rec.user, rec.team, id(keys))] = [rec.cost_nanos, 1]
            else:
                group[0] += rec.cost_nanos
                group[1] += 1
        sums: dict[tuple[str, str, str, str], list[int]] = {}
        for (user, team, wid), (cost, n) in groups.items():
            for scope, name in (("user", user), ("team", team)):
                if name is None:
                    continue
                for column, key in windows[wid]:
                    acc = sums.setdefault((scope, name, column, key), [0, 0])
                    acc[0] += cost
                    acc[1] += n
        return sorted((*k, cost, n) for k, (cost, n) in sums.items())

    def _window_keys(self, ts: float) -> list[tuple[str, str]]:
        """Cached while `ts` stays in the same windows."""
        cached = self._windows
        if cached is not None and cached[0] <= ts < cached[1]:
            return cached[2]
        keys, lo, hi = [], 0.0, float("inf")
        for period in Period:
            key, start, end = window(period, self._tz, ts)
            keys.append((rollup_column(period, self._tz_name), key))
            lo = max(lo, start)
            hi = min(hi, end if end is not None else hi)
        self._windows = (lo, hi, keys)
        return keys
