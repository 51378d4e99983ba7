"""Postgres spend store (asyncpg): append-only batched inserts with per-batch rollups.

The event loop appends to a deque; one writer task on the same loop wakes every `flush_interval` (or
when a batch is full), cuts the queue into batches and writes up to `pool_size` of them concurrently.
Each batch is one transaction: the rows go in with `ON CONFLICT (record_id) DO NOTHING RETURNING
record_id`, and the rollups add the sums of only the rows that were actually inserted (one upsert row
per account and period window per batch). Record ids are given once, when a batch is cut, and stay
with it across retries, so a batch whose COMMIT succeeded but whose reply was lost cannot count twice.
Rollup rows are upserted in sorted order, so concurrent writers (several replicas) lock them in the same
order and never deadlock.

When Postgres is unreachable, batches wait in memory and the writer retries with exponential backoff
(the pool reconnects); requests never wait for the ledger. At most `max_queue` records are held: beyond
that new records are dropped, counted (agentgateway_ledger_records_dropped_total) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections import deque

import asyncpg

from gateway.config.model_cost import Ledger
from gateway.config.urls import url_password
from gateway.ledger.pg_schema import migrate
from gateway.ledger.record import PeriodTotals, SpendRecord
from gateway.ledger.rollups import Rollups

log = logging.getLogger("agentgateway.ledger")

BATCH = 2000  # records per INSERT (and the queue length that wakes the writer early)
_MAX_BACKOFF = 10.0
_CONNECT_TIMEOUT = 10.0
_COMMAND_TIMEOUT = 30.0
_START_TIMEOUT = 20.0  # keep trying to reach Postgres at start (replicas and the database starting together)
_CLOSE_TIMEOUT = 10.0  # at shutdown, how long to keep trying to write what is queued
_LOG_EVERY = 10.0  # seconds between repeated "still failing" / "dropping" log lines

_COLUMNS = ("record_id", *SpendRecord._fields)
_TYPES = ("text", "float8", "text", "text", "text", "text", "text", "text", "text", "int8", "int8", "int8", "int8",
          "int8", "int4", "float8", "text")
_TEXT = frozenset(i for i, t in enumerate(_TYPES) if t == "text")
_QUOTED = [f'"{c}"' if c == "user" else c for c in _COLUMNS]  # `user` is a reserved word in Postgres
_INSERT = (f"INSERT INTO spend ({', '.join(_QUOTED)}) "
           f"SELECT * FROM unnest({', '.join(f'${i}::{t}[]' for i, t in enumerate(_TYPES, 1))}) "
           "ON CONFLICT (record_id) DO NOTHING RETURNING record_id")
_UPSERT = ("INSERT INTO rollup (scope, name, period, period_key, cost_nanos, requests) "
           "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[]) "
           "ON CONFLICT (scope, name, period, period_key) DO UPDATE SET "
           "cost_nanos = rollup.cost_nanos + excluded.cost_nanos, requests = rollup.requests + excluded.requests")
assert len(_TYPES) == len(_COLUMNS)


class _Batch:
    """Records cut from the queue with their ids; identity equality (removed from `held` by identity)."""

    __slots__ = ("ids", "records")

    def __init__(self, ids: list[str], records: list[SpendRecord]) -> None:
        self.ids, self.records = ids, records


class PostgresSpendStore:
    def __init__(self, ledger: Ledger, timezone: str = "UTC") -> None:
        assert ledger.url is not None
        self._url = ledger.url.reveal()
        self.where = ledger.safe_url or "postgres"
        self.flush_interval = ledger.flush_interval
        self.pool_size = ledger.pool_size
        self.max_queue = ledger.max_queue
        self._rollups = Rollups(timezone)
        self._queue: deque[SpendRecord] = deque()
        self._held: list[_Batch] = []  # cut from the queue, being written or waiting for a retry
        self._held_n = 0
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:16]
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._closing = False
        self._pool: asyncpg.Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self._totals: PeriodTotals = {}
        self._last_log = {"fail": 0.0, "drop": 0.0}
        self.written = 0
        self.dropped = 0
        self.write_failures = 0
        self.commit_lag = 0.0

    # -- event loop side (request path) -----------------------------------------------------------
    def append(self, record: SpendRecord) -> None:
        queue = self._queue
        if len(queue) + self._held_n >= self.max_queue:
            self._drop(1)
            return
        queue.append(record)
        if len(queue) == BATCH:
            self._wake.set()

    def period_totals(self) -> PeriodTotals:
        return self._totals

    def queue_depth(self) -> int:
        return len(self._queue) + self._held_n

    def oldest_pending_age(self, now: float) -> float:
        oldest = [b.records[0].ts for b in self._held]
        if self._queue:
            oldest.append(self._queue[0].ts)
        return max(0.0, now - min(oldest)) if oldest else 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect (retrying up to _START_TIMEOUT), migrate, load the current periods' rollups."""
        deadline = time.monotonic() + _START_TIMEOUT
        delay = 0.25
        while True:
            try:
                await self._open()
                break
            except Exception as exc:  # noqa: BLE001 - any failure to reach or prepare the database
                await self._close_pool()
                if time.monotonic() + delay > deadline or not _transient(exc):
                    raise OSError(f"cannot open spend ledger {self.where}: {self.scrub(exc)}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._task = asyncio.create_task(self._run(), name="spend-ledger-writer")

    async def _open(self) -> None:
        # min_size 0: connections are made when the writer needs one. With a floor, asyncpg's pool keeps
        # reconnecting in the background during an outage and logs a traceback for each attempt.
        self._pool = await asyncpg.create_pool(self._url, min_size=0, max_size=self.pool_size,
                                               timeout=_CONNECT_TIMEOUT, command_timeout=_COMMAND_TIMEOUT)
        async with self._pool.acquire() as conn:
            applied = await migrate(conn)
            self._totals = await self._load_totals(conn)
        log.info("spend ledger %s open (schema migrations applied: %s; %d current-period rollups)", self.where,
                 ",".join(map(str, applied)) or "none", len(self._totals))

    async def _load_totals(self, conn: asyncpg.Connection) -> PeriodTotals:
        out: PeriodTotals = {}
        for column, key in self._rollups.current(time.time()):
            rows = await conn.fetch("SELECT scope, name, cost_nanos FROM rollup WHERE period = $1 AND period_key = $2",
                                    column, key)
            for scope, name, cost in rows:
                out[(scope, name, column, key)] = int(cost)
        return out

    async def close(self) -> None:
        """Stop the writer, then write what is left (up to _CLOSE_TIMEOUT)."""
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(self._finish(), _CLOSE_TIMEOUT)
        except TimeoutError:
            pass
        left = self.queue_depth()
        if left:
            log.error("spend ledger %s unreachable at shutdown: %d records not written", self.where, left)
        await self._close_pool()

    async def _finish(self) -> None:
        if self._task is not None:
            await self._task
            self._task = None
        if self._pool is None:
            return
        delay = 0.1
        while not await self.flush():
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _close_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    # -- writer task -----------------------------------------------------------------------------
    async def _run(self) -> None:
        delay = 0.0  # backoff after a failed write; 0 = healthy
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay or self.flush_interval)
            self._wake.clear()
            if self._closing:
                return
            try:
                ok = await self.flush()
            except Exception:  # never let the writer die: it is the only one
                log.exception("spend ledger writer error")
                ok = False
            delay = 0.0 if ok else min(max(delay * 2, 0.25), _MAX_BACKOFF)

    async def flush(self) -> bool:
        """Write everything queued; False when a batch failed (it stays held for the next try)."""
        async with self._flushing:  # one flush at a time: a held batch must not be written twice at once
            return await self._flush()

    async def _flush(self) -> bool:
        while True:
            if not self._held:
                self._cut()
                if not self._held:
                    return True
            batches = self._held[: self.pool_size]
            results = await asyncio.gather(*(self._write(b) for b in batches), return_exceptions=True)
            failed = None
            for batch, result in zip(batches, results, strict=True):
                if isinstance(result, BaseException):
                    if isinstance(result, asyncio.CancelledError):
                        raise result
                    if isinstance(result, asyncpg.DataError):  # this batch can never be written: do not block the rest
                        log.error("spend ledger %s rejected %d records: %s", self.where, len(batch.records),
                                  self.scrub(result))
                        self._release(batch)
                        self._drop(len(batch.records), logged=True)
                    else:
                        failed = result
                    continue
                self._release(batch)
                self.written += result
                self.commit_lag = max(0.0, time.time() - batch.records[0].ts)
            if failed is not None:
                self.write_failures += 1
                self._log_failure(failed)
                return False
            self._last_log["fail"] = 0.0

    def _cut(self) -> None:
        queue, prefix = self._queue, self._id_prefix
        for _ in range(self.pool_size):
            n = min(len(queue), BATCH)
            if not n:
                return
            records = [queue.popleft() for _ in range(n)]
            self._held.append(_Batch([f"{prefix}-{next(self._ids):x}" for _ in range(n)], records))
            self._held_n += n

    def _release(self, batch: _Batch) -> None:
        self._held.remove(batch)
        self._held_n -= len(batch.records)

    async def _write(self, batch: _Batch) -> int:
        pool = self._pool
        assert pool is not None
        columns = _columns(batch)
        async with pool.acquire(timeout=_CONNECT_TIMEOUT) as conn, conn.transaction():
            inserted = await conn.fetch(_INSERT, *columns)
            if len(inserted) == len(batch.records):
                fresh = batch.records
            else:  # a retry of a batch that had committed (at least partly): count only the new rows
                new_ids = {row[0] for row in inserted}
                fresh = [r for rid, r in zip(batch.ids, batch.records, strict=True) if rid in new_ids]
            rollups = self._rollups.sums(fresh)
            if rollups:
                await conn.execute(_UPSERT, *(list(col) for col in zip(*rollups, strict=True)))
        return len(fresh)

    # -- reporting -------------------------------------------------------------------------------
    def _drop(self, n: int, logged: bool = False) -> None:
        self.dropped += n
        now = time.monotonic()
        if not logged and now - self._last_log["drop"] >= _LOG_EVERY:
            self._last_log["drop"] = now
            log.error("spend ledger %s: %d records waiting (maxQueue %d): dropping new records (%d dropped so far)",
                      self.where, self.queue_depth(), self.max_queue, self.dropped)

    def _log_failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_log["fail"] >= _LOG_EVERY:
            self._last_log["fail"] = now
            log.error("spend ledger %s write failed (%d records waiting; retrying): %s", self.where,
                      self.queue_depth(), self.scrub(exc))

    def scrub(self, exc: BaseException) -> str:
        """The error as one line, without the password should a driver message ever quote the URL."""
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        secret = url_password(self._url)
        text = text.replace(self._url, self.where)
        return text.replace(secret, "<redacted>") if secret else text


def _columns(batch: _Batch) -> list[list[object]]:
    """Column arrays for unnest(); Postgres text cannot hold NUL (a model name in JSON can)."""
    cols: list[list[object]] = [list(batch.ids), *([*c] for c in zip(*batch.records, strict=True))]
    for i in _TEXT:
        col = cols[i]
        if "\x00" in "".join(filter(None, col)):  # type: ignore[arg-type]  # text or None; one C-speed scan
            cols[i] = [v.replace("\x00", "\ufffd") if isinstance(v, str) else v for v in col]
    return cols


def _transient(exc: BaseException) -> bool:
    """Errors worth retrying at start: the server is not there (yet), not a wrong password or schema."""
    if isinstance(exc, (OSError, TimeoutError, asyncpg.CannotConnectNowError, asyncpg.ConnectionDoesNotExistError)):
        return True
    return isinstance(exc, asyncpg.PostgresError) and getattr(exc, "sqlstate", "")[:2] in ("08", "57", "53")

