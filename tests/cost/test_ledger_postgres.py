"""The Postgres spend ledger with a real PostgreSQL server and real gateway processes: one row per
request after a concurrent load run, rollups equal to the sum of rows, budgets resuming after a restart,
an outage that loses nothing and fails no request, the bounded queue, migrations under concurrent
starts, and `agentgateway report` giving the same output as for the same records in SQLite."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.config import ConfigErrors, load_config_text
from gateway.config.model import Secret
from gateway.config.model_cost import Ledger
from gateway.config.urls import redact_url
from gateway.ledger.pg_schema import LATEST, migrate
from gateway.ledger.pg_store import PostgresSpendStore
from gateway.ledger.record import SpendRecord
from tests.cost.conftest import config
from tests.cost.helpers import ask
from tests.e2e.harness import ROOT, GatewayProc, MockProc, free_port, http
from tests.e2e.pgserver import PASSWORD, PostgresServer, missing_reason

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture
def pg_url(pg: PostgresServer) -> Iterator[str]:
    """A fresh database per test (the server is shared); the server is running again afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    pg.psql(f"CREATE DATABASE {name} OWNER gw")
    yield pg.url(name)
    if not _running(pg):
        pg.start()


def _running(pg: PostgresServer) -> bool:
    try:
        pg.psql("SELECT 1")
        return True
    except RuntimeError:
        return False


def fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def rows(url: str, wait_for: int = 0, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = fetch(url, "SELECT * FROM spend ORDER BY id")
        if len(found) >= wait_for or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def start(mock: MockProc, url: str, **kw: Any) -> GatewayProc:
    """The URL reaches the gateway through $PG_URL: the config file itself holds no password. Its stderr
    is read as it comes (a full pipe would block the gateway's log calls)."""
    g = GatewayProc(config("$PG_URL", ledger_key="url", **kw), env={"MOCK_ADDR": mock.addr, "PG_URL": url})
    lines: list[bytes] = []
    stream = g.proc.stderr
    assert stream is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stream.readline, b"")), daemon=True)
    reader.start()
    _stderr[id(g)] = (reader, lines)
    return g


_stderr: dict[int, tuple[threading.Thread, list[bytes]]] = {}


def stop(g: GatewayProc) -> str:
    """SIGTERM, wait, return the log (without access-log lines); the exit must be clean and password-free."""
    reader, lines = _stderr.pop(id(g))
    g.proc.terminate()
    try:
        code = g.proc.wait(30)
    finally:
        g.stop()  # kills it if still running; removes the config file
    reader.join(10)
    err = b"".join(lines).decode(errors="replace")
    assert PASSWORD not in err
    err = "".join(line for line in err.splitlines(keepends=True) if "\tinfo\trequest " not in line)
    assert code == 0, err[-4000:]
    return err


def load(g: GatewayProc, n: int, prefix: str, concurrency: int = 16) -> list[int]:
    """`n` requests from 7 users in 3 teams, each with its own x-request-id."""
    def one(i: int) -> int:
        r = ask(g.url, f"user{i % 7}", f"team{i % 3}", headers={"x-request-id": f"{prefix}-{i}"})
        return r.status_code

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


def metric(g: GatewayProc, name: str) -> float:
    status, body = g.get(g.stats_port, "/metrics")
    assert status == 200
    m = re.search(rf"^{name} (\S+)$", body.decode(), re.M)
    assert m, name
    return float(m.group(1))


def wait_metric(g: GatewayProc, name: str, at_least: float, timeout: float = 15.0) -> float:
    deadline = time.monotonic() + timeout
    while (value := metric(g, name)) < at_least and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def assert_rollups_equal_rows(url: str) -> None:
    """Every rollup row equals the sum of the raw rows in its window, computed independently in SQL."""
    windows = {"daily@UTC": "YYYY-MM-DD", "weekly@UTC": 'IYYY-"W"IW', "monthly@UTC": "YYYY-MM"}
    expected: dict[tuple[str, str, str, str], tuple[int, int]] = {}
    for scope, column in (("user", '"user"'), ("team", "team")):
        for period, fmt in [*windows.items(), ("total@UTC", None)]:
            key = f"to_char(to_timestamp(ts) AT TIME ZONE 'UTC', '{fmt}')" if fmt else "'total'"
            for r in fetch(url, f"SELECT {column} AS name, {key} AS k, SUM(cost_nanos) AS c, COUNT(*) AS n "
                                f"FROM spend WHERE {column} IS NOT NULL GROUP BY 1, 2"):
                expected[(scope, r["name"], period, r["k"])] = (int(r["c"]), int(r["n"]))
    got = {(r["scope"], r["name"], r["period"], r["period_key"]): (int(r["cost_nanos"]), int(r["requests"]))
           for r in fetch(url, "SELECT * FROM rollup")}
    assert got == expected


# -- config ---------------------------------------------------------------------------------------------

def test_config_takes_exactly_one_of_path_and_url() -> None:
    base = "config:\n  ledger: {%s}\n"
    with pytest.raises(ConfigErrors) as info:
        load_config_text(base % 'path: a.db, url: "postgres://u:TESTSECRET@h/db"', "c.yaml", {})
    assert str(info.value) == ('c.yaml:2: config.ledger: expected exactly one of "path" (SQLite file) or "url" '
                               "(postgres://...), not both")
    with pytest.raises(ConfigErrors) as info:
        load_config_text(base % "flushInterval: 1s", "c.yaml", {})
    assert 'c.yaml:2: config.ledger: missing field "path" (SQLite file) or "url"' in str(info.value)
    with pytest.raises(ConfigErrors) as info:
        load_config_text("config:\n  ledger:\n    url: mysql://u:TESTSECRET@h/db\n    poolSize: 0\n", "c.yaml", {})
    msg = str(info.value)
    assert 'c.yaml:3: config.ledger.url: expected a postgres:// or postgresql:// URL, got scheme "mysql"' in msg
    assert "c.yaml:4: config.ledger.poolSize: expected an integer between 1 and 100, got 0" in msg
    assert "TESTSECRET" not in msg
    cfg = load_config_text(base % 'url: "postgresql://gw:${PGPASS}@db:5432/spend", poolSize: 4, maxQueue: 50',
                           "c.yaml", {"PGPASS": "TESTSECRET"})
    ledger = cfg.process.cost.ledger
    assert ledger is not None and ledger.path is None and ledger.pool_size == 4 and ledger.max_queue == 50
    assert ledger.url is not None and ledger.url.reveal() == "postgresql://gw:TESTSECRET@db:5432/spend"
    assert ledger.safe_url == "postgresql://gw:<redacted>@db:5432/spend"
    assert redact_url("postgres://gw@h/db?password=TESTSECRET&sslmode=disable") == \
        "postgres://gw@h/db?password=<redacted>&sslmode=disable"


def test_config_dump_and_logs_never_show_the_password(mock: MockProc, pg_url: str) -> None:
    g = start(mock, pg_url)
    try:
        status, body = g.get(g.admin_port, "/config_dump")
        assert status == 200
        assert PASSWORD.encode() not in body
        ledger = json.loads(body)["process"]["cost"]["ledger"]
        assert ledger["url"] == "<redacted>"
        assert ledger["safeUrl"] == redact_url(pg_url) and "gw:<redacted>@127.0.0.1" in ledger["safeUrl"]
    finally:
        err = stop(g)
    assert "spend ledger postgres://gw:<redacted>@127.0.0.1" in err  # the open line names it, redacted


def test_wrong_password_stops_startup_with_one_line(mock: MockProc, pg_url: str) -> None:
    bad = pg_url.replace(PASSWORD, "wrong-Password-42")
    with pytest.raises(RuntimeError) as info:
        start(mock, bad)
    text = str(info.value)
    assert "error: cannot open spend ledger postgres://gw:<redacted>@127.0.0.1" in text
    assert "password authentication failed" in text
    assert "wrong-Password-42" not in text and "Traceback" not in text


# -- the ledger under load ------------------------------------------------------------------------------

def test_load_run_one_row_per_request_and_rollups_equal_rows(mock: MockProc, pg_url: str) -> None:
    g = start(mock, pg_url, flush="100ms")
    try:
        assert load(g, 500, "load") == [200] * 500
        got = rows(pg_url, wait_for=500)  # written by the timer, not only by the final drain
        assert len(got) == 500
        # Postgres text cannot hold NUL, JSON can: the row must still be written (not block the batch).
        assert ask(g.url, "user0", "team0", model="m\x00x", headers={"x-request-id": "nul"}).status_code == 200
    finally:
        stop(g)
    got = rows(pg_url)
    assert sorted(r["request_id"] for r in got) == sorted([f"load-{i}" for i in range(500)] + ["nul"])
    assert next(r for r in got if r["request_id"] == "nul")["model_requested"] == "m\ufffdx"
    got = [r for r in got if r["request_id"] != "nul"]
    assert len({r["record_id"] for r in got}) == 500
    assert {r["user"] for r in got} == {f"user{i}" for i in range(7)}
    assert all(r["status"] == 200 and r["cost_nanos"] > 0 and r["route"] == "anthropic" for r in got)
    assert_rollups_equal_rows(pg_url)
    total = fetch(pg_url, "SELECT SUM(cost_nanos) AS c, SUM(requests) AS n FROM rollup "
                          "WHERE scope = 'team' AND period = 'total@UTC'")[0]
    assert int(total["n"]) == 501 and int(total["c"]) == sum(r["cost_nanos"] for r in rows(pg_url))


def test_budgets_resume_from_postgres_after_a_restart(mock: MockProc, pg_url: str) -> None:
    users = {"charlie": ("0.0003", "daily")}
    g = start(mock, pg_url, users=users)
    try:
        assert [ask(g.url, "charlie").status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        stop(g)
    g = start(mock, pg_url, users=users)
    try:
        assert ask(g.url, "charlie").status_code == 429  # the spend before the restart still counts
        assert ask(g.url, "someone-else").status_code == 200
    finally:
        stop(g)
    assert len([r for r in rows(pg_url) if r["user"] == "charlie"]) == 5
    assert_rollups_equal_rows(pg_url)


def test_postgres_down_then_back_loses_nothing_and_fails_no_request(mock: MockProc, pg: PostgresServer,
                                                                    pg_url: str) -> None:
    g = start(mock, pg_url, flush="100ms")
    try:
        assert load(g, 40, "before") == [200] * 40
        assert len(rows(pg_url, wait_for=40)) == 40
        pg.stop()
        try:
            assert load(g, 120, "during", concurrency=8) == [200] * 120  # requests never wait for the ledger
            assert wait_metric(g, "agentgateway_ledger_write_failures_total", 1) >= 1
            assert metric(g, "agentgateway_ledger_queue_depth") == 120
            assert metric(g, "agentgateway_ledger_oldest_pending_seconds") > 0
            time.sleep(1.0)  # down for a while: several failed attempts, backing off
        finally:
            pg.start()
        assert wait_metric(g, "agentgateway_ledger_records_written_total", 160, timeout=40) == 160
        assert metric(g, "agentgateway_ledger_queue_depth") == 0
        assert metric(g, "agentgateway_ledger_records_dropped_total") == 0
        assert load(g, 10, "after") == [200] * 10
        assert len(rows(pg_url, wait_for=170)) == 170
    finally:
        err = stop(g)
    assert "write failed" in err
    got = rows(pg_url)
    expected = [f"{p}-{i}" for p, n in (("before", 40), ("during", 120), ("after", 10)) for i in range(n)]
    assert sorted(r["request_id"] for r in got) == sorted(expected)
    assert_rollups_equal_rows(pg_url)


def test_bounded_queue_drops_and_counts_beyond_max_queue(mock: MockProc, pg: PostgresServer, pg_url: str) -> None:
    g = start(mock, pg_url, flush="100ms", ledger_extra=", maxQueue: 25")
    try:
        assert load(g, 5, "before") == [200] * 5
        assert len(rows(pg_url, wait_for=5)) == 5
        pg.stop()
        try:
            assert load(g, 40, "during", concurrency=1) == [200] * 40
            assert metric(g, "agentgateway_ledger_records_dropped_total") == 15
            assert metric(g, "agentgateway_ledger_queue_depth") == 25
        finally:
            pg.start()
        assert wait_metric(g, "agentgateway_ledger_records_written_total", 30, timeout=40) == 30
    finally:
        err = stop(g)
    assert "dropping new records" in err
    got = rows(pg_url)
    # The first 25 of the outage were kept (in order), the last 15 dropped.
    assert sorted(r["request_id"] for r in got) == sorted([f"before-{i}" for i in range(5)] +
                                                          [f"during-{i}" for i in range(25)])
    assert_rollups_equal_rows(pg_url)


def test_shutdown_with_postgres_down_is_bounded_and_says_what_was_lost(mock: MockProc, pg: PostgresServer,
                                                                       pg_url: str) -> None:
    g = start(mock, pg_url, flush="100ms")
    pg.stop()
    try:
        assert load(g, 5, "late", concurrency=1) == [200] * 5
        began = time.monotonic()
        err = stop(g)  # exit code 0, within the close timeout (10 s) plus the drain
        assert time.monotonic() - began < 25
    finally:
        pg.start()
    assert "unreachable at shutdown: 5 records not written" in err
    assert rows(pg_url) == []


def test_a_retried_batch_is_not_counted_twice(pg_url: str) -> None:
    """A batch whose COMMIT went through but whose reply was lost is written again with the same record
    ids: no row and no rollup cent may be added twice."""
    ledger = Ledger(url=Secret(pg_url), safe_url=redact_url(pg_url), flush_interval=3600)  # no timer flush

    async def run() -> tuple[int, int, int]:
        store = PostgresSpendStore(ledger)
        await store.start()
        now = time.time()
        for i in range(10):
            store.append(SpendRecord(now, f"req-{i}", "u", "t", "r", "p", "m", "m", 10, 5, 0, 0, 1000 + i, 200,
                                     1.0, "v"))
        store._cut()  # what flush() does before writing
        batch = store._held[0]
        first = await store._write(batch)
        again = await store._write(batch)  # the retry
        store.append(SpendRecord(now, "req-10", "u", None, "r", "p", "m", "m", 1, 1, 0, 0, 7, 200, 1.0, "v"))
        assert await store.flush()
        await store.close()
        return first, again, store.written

    first, again, written = asyncio.run(run())
    assert (first, again) == (10, 0)
    assert len(rows(pg_url)) == 11
    assert_rollups_equal_rows(pg_url)
    user = fetch(pg_url, "SELECT cost_nanos, requests FROM rollup WHERE scope='user' AND period='total@UTC'")
    assert [(int(user[0]["cost_nanos"]), int(user[0]["requests"]))] == [(sum(range(1000, 1010)) + 7, 11)]


# -- migrations -----------------------------------------------------------------------------------------

def test_migrations_are_idempotent_and_concurrent_runs_apply_them_once(pg_url: str) -> None:
    async def run() -> list[list[int]]:
        conns = [await asyncpg.connect(pg_url) for _ in range(8)]
        try:
            return list(await asyncio.gather(*(migrate(c) for c in conns)))
        finally:
            for c in conns:
                await c.close()

    results = asyncio.run(run())
    assert sorted(results) == [[]] * 7 + [list(range(1, LATEST + 1))]
    assert asyncio.run(run()) == [[]] * 8
    versions = fetch(pg_url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [v["version"] for v in versions] == list(range(1, LATEST + 1))


def test_gateways_starting_together_on_a_fresh_database(mock: MockProc, pg_url: str) -> None:
    procs: list[GatewayProc] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            procs.append(start(mock, pg_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not errors, errors
        for i, g in enumerate(procs):
            assert ask(g.url, f"starter{i}").status_code == 200
    finally:
        logs = [stop(g) for g in procs]
    assert sum("schema migrations applied: 1" in e for e in logs) == 1
    assert sum("schema migrations applied: none" in e for e in logs) == 2
    assert len(rows(pg_url)) == 3


# -- reports --------------------------------------------------------------------------------------------

def _report(ledger: str, *args: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run([sys.executable, "-m", "gateway", "report", *(["--ledger", ledger] if ledger else []),
                          *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _copy_to_sqlite(url: str, path: Path) -> int:
    """The same records in a SQLite ledger (the SQLite store's own schema)."""
    from gateway.ledger.sqlite_store import connect

    fields = SpendRecord._fields
    got = fetch(url, f"SELECT {', '.join(f'{chr(34)}{f}{chr(34)}' for f in fields)} FROM spend ORDER BY id")
    conn = connect(str(path))
    conn.executemany(f"INSERT INTO spend ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                     [tuple(r[f] for f in fields) for r in got])
    conn.close()
    return len(got)


@pytest.fixture
def populated(mock: MockProc, pg_url: str) -> Iterator[tuple[GatewayProc, str]]:
    g = start(mock, pg_url, users={f"user{i}": ("1", "monthly") for i in range(7)})
    try:
        assert load(g, 60, "rep", concurrency=4) == [200] * 60
        for i in range(6):  # some OpenAI-format requests too, for a second model and route
            body = {"model": "m", "max_tokens": 30, "messages": [{"role": "user", "content": "hi " * (i + 1)}]}
            r = http("POST", g.url + "/v1/chat/completions", json_body=body, headers={"x-user-id": f"user{i}"})
            assert r.status_code == 200
        rows(pg_url, wait_for=66)
        yield g, pg_url
    finally:
        stop(g)


def test_report_from_postgres_matches_the_sqlite_report(populated: tuple[GatewayProc, str], tmp_path: Path) -> None:
    _, url = populated
    sqlite = tmp_path / "same.db"
    assert _copy_to_sqlite(url, sqlite) == 66
    args = ["--by", "user,team,model,day,route,provider", "--since", "1h", "--until", "2999-01-01", "--format", "csv"]
    assert _report(url, *args) == _report(str(sqlite), *args)
    pg_doc = json.loads(_report(url, "--format", "json"))
    lite_doc = json.loads(_report(str(sqlite), "--format", "json"))
    assert pg_doc["groups"] == lite_doc["groups"]
    assert pg_doc["groups"]["user"]["total"]["requests"] == 66
    for group in pg_doc["groups"].values():
        assert group["total"]["costNanos"] == sum(r["costNanos"] for r in group["rows"])
    # The forecast projects to "now", which moves between the two runs: all but the projection match.
    strip = [{k: v for k, v in f.items() if k != "forecastUsd"} for f in pg_doc["forecast"]]
    assert strip == [{k: v for k, v in f.items() if k != "forecastUsd"} for f in lite_doc["forecast"]]
    table_pg, table_lite = _report(url), _report(str(sqlite))
    assert table_pg.split("Forecast")[0] == table_lite.split("Forecast")[0] and "TOTAL" in table_pg


def test_report_reads_the_url_from_the_config_and_admin_api_serves_it(populated: tuple[GatewayProc, str]) -> None:
    g, url = populated

    doc = json.loads(_report("", "-f", g.config_path, "--by", "team", "--format", "json",
                             env={**os.environ, "PG_URL": url, "MOCK_ADDR": "127.0.0.1:1", "GATEWAY_PORT": "1",
                                  "ADMIN_ADDR": "127.0.0.1:1", "STATS_ADDR": "127.0.0.1:1",
                                  "READINESS_ADDR": "127.0.0.1:1"}))
    assert doc["groups"]["team"]["total"]["requests"] == 66
    assert {f["team"] for f in doc["forecast"]} == {"team0", "team1", "team2"}
    status, body = g.get(g.admin_port, "/api/spend?group_by=team,user&since=1d")
    assert status == 200
    api = json.loads(body)
    cli = json.loads(_report(url, "--by", "team,user", "--since", "1d", "--format", "json"))
    assert api["groups"] == cli["groups"]


def test_report_errors_name_the_database_without_the_password(pg_url: str) -> None:
    closed = f"postgres://gw:{PASSWORD}@127.0.0.1:{free_port()}/ledger"
    out = subprocess.run([sys.executable, "-m", "gateway", "report", "--ledger", closed], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and PASSWORD not in out.stderr
    assert out.stderr.startswith(f"error: cannot open spend ledger {redact_url(closed)}: ")
    assert len(out.stderr.strip().splitlines()) == 1
    out = subprocess.run([sys.executable, "-m", "gateway", "report", "--ledger", pg_url], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # a database no gateway has written to
    assert out.returncode == 1
    assert out.stderr.strip() == f"error: no spend ledger at {redact_url(pg_url)} (no table spend: no gateway " \
                                 "has written to it)"
