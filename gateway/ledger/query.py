"""Chargeback queries over a ledger (read-only; used by `agentgateway report` and `/api/spend`).

Shared by both stores: the SQL is written once here and run by a reader (readers.py) for SQLite or
Postgres; ordering happens in Python so both give the same order. Every total is the integer sum of
the rows it sits under, so a report can never disagree with itself. Days are UTC calendar days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gateway.budget.periods import window
from gateway.config.model_cost import Budgets, Period
from gateway.ledger.readers import LedgerReader
from gateway.pricing.catalog import usd_text

# group name -> SQL expression (None: the reader's dialect supplies it)
GROUPS: dict[str, str | None] = {
    "user": "COALESCE(\"user\", '(none)')",
    "team": "COALESCE(team, '(none)')",
    "model": "COALESCE(model_served, model_requested, '(unknown)')",
    "day": None,
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


def _where(since: float | None, until: float | None) -> tuple[str, list[float]]:
    clauses, args = [], []
    if since is not None:
        clauses.append("ts >= ?")
        args.append(since)
    if until is not None:
        clauses.append("ts < ?")
        args.append(until)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def grouped(reader: LedgerReader, group_by: str, since: float | None = None,
                  until: float | None = None) -> list[Row]:
    """Spend per `group_by` value, most expensive first (ties by key, in code point order)."""
    expr = GROUPS[group_by] or reader.day_expr
    where, args = _where(since, until)
    sql = (f"SELECT {expr} AS k, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), "
           f"SUM(cache_write_tokens), SUM(cost_nanos) FROM spend{where} GROUP BY k")
    rows = [Row(str(r[0]), *(int(x or 0) for x in r[1:])) for r in await reader.fetch(sql, args)]
    rows.sort(key=lambda r: (-r.cost_nanos, r.key))
    return rows


def total(rows: list[Row]) -> Row:
    sums = [sum(getattr(r, f) for r in rows) for f in _SUMS]
    return Row("TOTAL", *sums)


async def forecasts(reader: LedgerReader, budgets: Budgets | None, now: float | None = None) -> list[Forecast]:
    """Per team: spend in its current budget period (monthly when the team has no budget) and the
    linear projection to the period's end: spent x period length / time elapsed."""
    now = time.time() if now is None else now
    tz_name = budgets.timezone if budgets else "UTC"
    tz = ZoneInfo(tz_name)
    limits = dict(budgets.teams) if budgets else {}
    default = budgets.default_team if budgets else None
    teams = sorted(str(r[0]) for r in await reader.fetch("SELECT DISTINCT team FROM spend WHERE team IS NOT NULL"))
    out = []
    for team in teams:
        limit = limits.get(team, default)
        period = limit.period if limit else Period.MONTHLY
        if period is Period.TOTAL:
            period = Period.MONTHLY  # a total budget has no period end to project to; show the month
        key, start, end = window(period, tz, now)
        assert end is not None
        ((spent,),) = await reader.fetch(
            "SELECT COALESCE(SUM(cost_nanos), 0) FROM spend WHERE team = ? AND ts >= ? AND ts < ?", (team, start, end))
        spent = int(spent)
        elapsed = max(now - start, 1.0)
        projected = int(spent * (end - start) / elapsed)
        out.append(Forecast(team, period.value, key, spent, projected, limit.limit_nanos if limit else None, end))
    return out


def _row_json(row: Row) -> dict[str, object]:
    return {"key": row.key, "requests": row.requests, "inputTokens": row.input_tokens,
            "outputTokens": row.output_tokens, "cacheReadTokens": row.cache_read_tokens,
            "cacheWriteTokens": row.cache_write_tokens, "costNanos": row.cost_nanos,
            "costUsd": usd_text(row.cost_nanos)}


async def spend_report(reader: LedgerReader, groups: list[str], since: float | None, until: float | None,
                       budgets: Budgets | None, now: float | None = None) -> dict[str, object]:
    """The JSON document `agentgateway report --format json` and `GET /api/spend` return."""
    out: dict[str, object] = {"since": since, "until": until, "unit": "USD", "days": "UTC"}
    by: dict[str, object] = {}
    for group in groups:
        rows = await grouped(reader, group, since, until)
        by[group] = {"rows": [_row_json(r) for r in rows], "total": _row_json(total(rows))}
    out["groups"] = by
    out["forecast"] = [
        {"team": f.team, "period": f.period, "periodKey": f.period_key, "spentUsd": usd_text(f.spent_nanos),
         "forecastUsd": usd_text(f.forecast_nanos),
         "limitUsd": usd_text(f.limit_nanos) if f.limit_nanos is not None else None,
         "periodEnd": f.period_end}
        for f in await forecasts(reader, budgets, now)
    ]
    return out
