"""Chargeback queries over a ledger file (read-only; used by `agentgateway report` and `/api/spend`).

Every total is the integer sum of the rows it sits under, so a report can never disagree with itself.
Days are UTC calendar days.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.budget.periods import window
from gateway.config.model_cost import Budgets, Period
from gateway.ledger.sqlite_store import connect
from gateway.pricing.catalog import usd_text

GROUPS = {
    "user": "COALESCE(user, '(none)')",
    "team": "COALESCE(team, '(none)')",
    "model": "COALESCE(model_served, model_requested, '(unknown)')",
    "day": "date(ts, 'unixepoch')",
    "route": "route",
    "provider": "provider",
}
_SUMS = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_nanos")


@dataclass(frozen=True)
class Row:
    key: str
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_nanos: int


@dataclass(frozen=True)
class Forecast:
    team: str
    period: str
    period_key: str
    spent_nanos: int
    forecast_nanos: int  # linear projection to the end of the period
    limit_nanos: int | None
    period_end: float


def open_ledger(path: str) -> sqlite3.Connection:
    """Read-only; raises FileNotFoundError when there is no ledger at `path`."""
    from pathlib import Path

    if not Path(path).is_file():
        raise FileNotFoundError(f"no spend ledger at {path}")
    return connect(path, readonly=True)


def _where(since: float | None, until: float | None) -> tuple[str, list[float]]:
    clauses, args = [], []
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append("ts < ?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def grouped(conn: sqlite3.Connection, group_by: str, since: float | None = None,
            until: float | None = None) -> list[Row]:
    """Spend per `group_by` value, most expensive first."""
    expr = GROUPS[group_by]
    where, args = _where(since, until)
    sql = (f"SELECT {expr} AS k, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
           f"SUM(cache_write_tokens), SUM(cost_nanos) FROM spend{where} GROUP BY k ORDER BY 7 DESC, k")
    return [Row(str(r[0]), *(int(x or 0) for x in r[1:])) for r in conn.execute(sql, args)]


def total(rows: list[Row]) -> Row:
    sums = [sum(getattr(r, f) for r in rows) for f in _SUMS]
    return Row("TOTAL", *sums)


def forecasts(conn: sqlite3.Connection, budgets: Budgets | None, now: float | None = None) -> list[Forecast]:
    """Per team: spend in its current budget period (monthly when the team has no budget) and the
    linear projection to the period's end: spent x period length / time elapsed."""
    now = time.time() if now is None else now
    tz_name = budgets.timezone if budgets else "UTC"
    tz = ZoneInfo(tz_name)
    limits = dict(budgets.teams) if budgets else {}
    default = budgets.default_team if budgets else None
    teams = [r[0] for r in conn.execute("SELECT DISTINCT team FROM spend WHERE team IS NOT NULL ORDER BY team")]
    out = []
    for team in teams:
        limit = limits.get(team, default)
        period = limit.period if limit else Period.MONTHLY
        if period is Period.TOTAL:
            period = Period.MONTHLY  # a total budget has no period end to project to; show the month
        key, start, end = window(period, tz, now)
        assert end is not None
        (spent,) = conn.execute("SELECT COALESCE(SUM(cost_nanos), 0) FROM spend WHERE team = ? AND ts >= ? AND ts < ?",
                                (team, start, end)).fetchone()
        elapsed = max(now - start, 1.0)
        projected = int(spent * (end - start) / elapsed)
        out.append(Forecast(team, period.value, key, int(spent), projected,
                            limit.limit_nanos if limit else None, end))
    return out


def _row_json(row: Row) -> dict[str, object]:
    return {"key": row.key, "requests": row.requests, "inputTokens": row.input_tokens,
            "outputTokens": row.output_tokens, "cacheReadTokens": row.cache_read_tokens,
            "cacheWriteTokens": row.cache_write_tokens, "costNanos": row.cost_nanos,
            "costUsd": usd_text(row.cost_nanos)}


def spend_report(conn: sqlite3.Connection, groups: list[str], since: float | None, until: float | None,
                 budgets: Budgets | None, now: float | None = None) -> dict[str, object]:
    """The JSON document `agentgateway report --format json` and `GET /api/spend` return."""
    out: dict[str, object] = {"since": since, "until": until, "unit": "USD", "days": "UTC"}
    by: dict[str, object] = {}
    for group in groups:
        rows = grouped(conn, group, since, until)
        by[group] = {"rows": [_row_json(r) for r in rows], "total": _row_json(total(rows))}
    out["groups"] = by
    out["forecast"] = [
        {"team": f.team, "period": f.period, "periodKey": f.period_key, "spentUsd": usd_text(f.spent_nanos),
         "forecastUsd": usd_text(f.forecast_nanos),
         "limitUsd": usd_text(f.limit_nanos) if f.limit_nanos is not None else None,
         "periodEnd": f.period_end}
        for f in forecasts(conn, budgets, now)
    ]
    return out
