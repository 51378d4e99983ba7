"""Which spend store a `config.ledger` block asks for: a SQLite file (`path`) or Postgres (`url`)."""

from __future__ import annotations

from gateway.config.model_cost import Ledger
from gateway.ledger.record import SpendStore


def open_store(ledger: Ledger, timezone: str) -> SpendStore:
    if ledger.url is not None:
        from gateway.ledger.pg_store import PostgresSpendStore  # asyncpg only loads when configured

        return PostgresSpendStore(ledger, timezone)
    from gateway.ledger.sqlite_store import SqliteSpendStore

    assert ledger.path is not None
    return SqliteSpendStore(ledger.path, ledger.flush_interval, timezone)
