"""Versioned schema of the Postgres spend ledger.

Migrations are numbered steps. At start every replica runs `migrate`: one transaction that first takes
a transaction-scoped advisory lock (so replicas starting together wait for each other instead of racing
on CREATE TABLE), then applies the steps missing from `schema_migrations` and records them. A step is
never edited once released; a change is a new step.
"""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger("agentgateway.ledger")

# pg_advisory_xact_lock key: any constant unique to this schema (b"agwledgr" as a signed 64-bit int).
LOCK_KEY = int.from_bytes(b"agwledgr", "big", signed=True)

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "spend log and per-period rollups", """
CREATE TABLE spend (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id TEXT NOT NULL UNIQUE,
    ts DOUBLE PRECISION NOT NULL,
    request_id TEXT NOT NULL,
    "user" TEXT,
    team TEXT,
    route TEXT NOT NULL,
    provider TEXT NOT NULL,
    model_requested TEXT,
    model_served TEXT,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    status INTEGER NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    catalog_version TEXT NOT NULL
);
CREATE INDEX spend_ts ON spend (ts);
CREATE INDEX spend_team_ts ON spend (team, ts);
CREATE TABLE rollup (
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    period TEXT NOT NULL,
    period_key TEXT NOT NULL,
    cost_nanos BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (scope, name, period, period_key)
);
"""),
)
LATEST = MIGRATIONS[-1][0]

_TRACK = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Bring the schema to LATEST; returns the versions this call applied (none when up to date)."""
    applied_now: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        await conn.execute(_TRACK)
        done = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, description, sql in MIGRATIONS:
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version, description) VALUES ($1, $2)",
                               version, description)
            applied_now.append(version)
    newer = [v for v in done if v > LATEST]
    if newer:  # a newer gateway migrated this database; its steps only ever add, so keep going
        log.warning("spend ledger schema has version %d; this gateway knows up to %d", max(newer), LATEST)
    return applied_now
