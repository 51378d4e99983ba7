"""Budget period windows (daily, weekly, monthly, total) in a timezone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.config.model_cost import Period


def window(period: Period, tz: ZoneInfo, now: float) -> tuple[str, float, float | None]:
    """(period key, start, end) as epoch seconds for the window holding `now`; end None = never resets."""
    if period is Period.TOTAL:
        return "total", 0.0, None
    local = datetime.fromtimestamp(now, tz)
    day = local.date()
    if period is Period.DAILY:
        start, end = day, day + timedelta(days=1)
        key = day.isoformat()
    elif period is Period.WEEKLY:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
        year, week, _ = day.isocalendar()
        key = f"{year}-W{week:02d}"
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        key = f"{day.year}-{day.month:02d}"
    # Midnight in the zone, built from the date so DST days are 23 or 25 hours long.
    begin = datetime(start.year, start.month, start.day, tzinfo=tz).timestamp()
    finish = datetime(end.year, end.month, end.day, tzinfo=tz).timestamp()
    return key, begin, finish


def rollup_column(period: Period, tz_name: str) -> str:
    """How the ledger's rollup table names a period kind (the timezone is part of it)."""
    return f"{period.value}@{tz_name}"
