"""Read access to either ledger store for reports: the only place the two SQL dialects differ.

Queries are written once in query.py with `?` placeholders; a reader runs them on its engine. SQLite
runs in a worker thread (the admin API must not block the event loop), Postgres through asyncpg.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from gateway.config.urls import redact_url, url_password

_PLACEHOLDER = re.compile(r"\?")
_CONNECT_TIMEOUT = 10.0


class LedgerReader(Protocol):
    day_expr: str  # SQL for the UTC calendar day of `ts`, as YYYY-MM-DD

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    async def close(self) -> None: ...


def is_postgres(source: str) -> bool:
    return source.startswith(("postgres://", "postgresql://"))


async def open_reader(source: str) -> LedgerReader:
    """A SQLite file path or a postgres:// URL. Raises FileNotFoundError when there is no ledger there,
    OSError when it cannot be reached; neither message carries a password."""
    if is_postgres(source):
        return await PostgresReader.open(source)
    return await asyncio.to_thread(SqliteReader.open, source)


class SqliteReader:
    day_expr = "date(ts, 'unixepoch')"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, path: str) -> SqliteReader:
        from gateway.ledger.sqlite_store import connect

        if not Path(path).is_file():
            raise FileNotFoundError(f"no spend ledger at {path}")
        return cls(connect(path, readonly=True))

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(lambda: self._conn.execute(sql, tuple(args)).fetchall())

    async def close(self) -> None:
        self._conn.close()


class PostgresReader:
    day_expr = "to_char(to_timestamp(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    @classmethod
    async def open(cls, url: str) -> PostgresReader:
        import asyncpg

        where = redact_url(url)
        try:
            conn = await asyncpg.connect(url, timeout=_CONNECT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - refused, auth, DNS, timeout: one line for the CLI / API
            password = url_password(url)
            text = str(exc).replace(password, "<redacted>") if password else str(exc)
            raise OSError(f"cannot open spend ledger {where}: {type(exc).__name__}: {text}") from None
        if await conn.fetchval("SELECT to_regclass('spend') IS NULL"):
            await conn.close()
            raise FileNotFoundError(f"no spend ledger at {where} (no table spend: no gateway has written to it)")
        return cls(conn)

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        numbers = itertools.count(1)
        rows = await self._conn.fetch(_PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql), *args)
        return [tuple(r) for r in rows]

    async def close(self) -> None:
        await self._conn.close()

