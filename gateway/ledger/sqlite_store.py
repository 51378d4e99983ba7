"""SQLite spend store: WAL mode, batched writes from one writer thread, per-period rollups.

The event loop only appends to a deque. The writer thread wakes every `flush_interval`, writes
everything queued in one transaction (raw rows plus rollup upserts) and commits, so a crash
(even SIGKILL) loses at most the records of the last interval; `close()` writes the rest.
Rollups (spend per user/team per daily/weekly/monthly/total window, in the budget timezone) let
budgets resume on start without scanning the raw log.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path

from gateway.ledger.record import PeriodTotals, SpendRecord
from gateway.ledger.rollups import Rollups

log = logging.getLogger("agentgateway.ledger")

SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    request_id TEXT NOT NULL,
    user TEXT,
    team TEXT,
    route TEXT NOT NULL,
    provider TEXT NOT NULL,
    model_requested TEXT,
    model_served TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_nanos INTEGER NOT NULL,
    status INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    catalog_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_ts ON spend (ts);
CREATE TABLE IF NOT EXISTS rollup (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    period_key TEXT NOT NULL,
    cost_nanos INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (scope, name, period, period_key)
);
"""
_INSERT = f"INSERT INTO spend ({', '.join(SpendRecord._fields)}) VALUES ({', '.join('?' * len(SpendRecord._fields))})"
_UPSERT = ("INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, name, period, period_key) "
           "DO UPDATE SET cost_nanos = cost_nanos + excluded.cost_nanos, requests = requests + excluded.requests")


def connect(path: str, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed batch survives a process crash; only a power loss can undo the last one.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class SqliteSpendStore:
    def __init__(self, path: str, flush_interval: float = 1.0, timezone: str = "UTC") -> None:
        self.path = path
        self.flush_interval = flush_interval
        self._rollups = Rollups(timezone)
        self._queue: deque[SpendRecord] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._totals: PeriodTotals = {}
        self.written = 0
        self.dropped = 0  # never: the queue is unbounded (the disk is local)
        self.write_failures = 0
        # Seconds from the enqueue of the oldest record of the last committed batch to its commit.
        self.commit_lag = 0.0

    # -- event loop side ---------------------------------------------------------------------
    def append(self, record: SpendRecord) -> None:
        self._queue.append(record)  # deque.append is thread-safe; the writer pops from the left

    def period_totals(self) -> PeriodTotals:
        return self._totals

    def queue_depth(self) -> int:
        return len(self._queue)

    def oldest_pending_age(self, now: float) -> float:
        """How long the oldest uncommitted record has waited: grows when the writer is stuck."""
        try:
            return max(0.0, now - self._queue[0].ts)
        except IndexError:  # empty, or the writer thread took it meanwhile
            return 0.0

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._open)
        except (sqlite3.Error, OSError) as exc:  # the CLI reports OSError as one line, no traceback
            raise OSError(f"cannot open spend ledger {self.path}: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="spend-ledger-writer", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    # -- writer thread -----------------------------------------------------------------------
    def _open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = connect(self.path)
        self._totals = self._load_totals(self._conn)
        log.info("spend ledger %s open (%d current-period rollups)", self.path, len(self._totals))

    def _load_totals(self, conn: sqlite3.Connection) -> PeriodTotals:
        out: PeriodTotals = {}
        for column, key in self._rollups.current(time.time()):
            rows = conn.execute("SELECT scope, name, cost_nanos FROM rollup WHERE period = ? AND period_key = ?",
                                (column, key))
            for scope, name, cost in rows:
                out[(scope, name, column, key)] = cost
        return out

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self._flush_logged()
        self._flush_logged()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except sqlite3.Error as exc:  # keep the records queued; the next interval retries
            self.write_failures += 1
            log.error("spend ledger write failed (%d records queued): %s", len(self._queue), exc)

    def flush(self) -> int:
        """Write what is queued in one transaction (writer thread only)."""
        queue, conn = self._queue, self._conn
        if not queue or conn is None:
            return 0
        batch = [queue.popleft() for _ in range(len(queue))]
        try:
            conn.execute("BEGIN")
            conn.executemany(_INSERT, batch)
            conn.executemany(_UPSERT, self._rollups.sums(batch))
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            queue.extendleft(reversed(batch))
            raise
        self.written += len(batch)
        self.commit_lag = max(0.0, time.time() - batch[0].ts)  # records carry their enqueue time
        return len(batch)
