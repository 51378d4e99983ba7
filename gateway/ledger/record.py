"""One ledger row."""

from __future__ import annotations

from typing import NamedTuple, Protocol


class SpendRecord(NamedTuple):
    ts: float  # epoch seconds at completion
    request_id: str
    user: str | None
    team: str | None
    route: str
    provider: str
    model_requested: str | None
    model_served: str | None
    input_tokens: int  # total prompt tokens, cache reads/writes included (agentgateway's inputTokens)
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_nanos: int  # USD x 1e9
    status: int
    duration_ms: float
    catalog_version: str


# (scope, name, rollup column, period key) -> nanodollars
PeriodTotals = dict[tuple[str, str, str, str], int]


class SpendStore(Protocol):
    """Where records go. `append` is called on the event loop and must never block it."""

    # Read by the ledger metrics at scrape time.
    written: int
    dropped: int
    write_failures: int
    commit_lag: float

    def queue_depth(self) -> int: ...

    def oldest_pending_age(self, now: float) -> float: ...

    def append(self, record: SpendRecord) -> None: ...

    def period_totals(self) -> PeriodTotals:
        """Spend per user/team in the current periods (from rollups, read at start)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None:
        """Write everything appended so far, then release the store."""
        ...
