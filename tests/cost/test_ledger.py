"""The spend ledger with real gateway processes and real SQLite files: restarts, SIGKILL, drain,
and the chargeback report (CLI and admin API) whose totals must equal the sum of their rows."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cost.conftest import config
from tests.cost.helpers import ask, records
from tests.e2e.harness import ROOT, GatewayProc, MockProc, http

# The seed's chargeback population: 8 users in 6 teams.
PEOPLE = [("alice", "research"), ("bob", "research"), ("carol", "platform"), ("dan", "sales"),
          ("eve", "security"), ("frank", "support"), ("grace", "marketing"), ("heidi", "platform")]


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "spend.db")


def start(mock: MockProc, ledger: str, **kw: object) -> GatewayProc:
    return GatewayProc(config(ledger, **kw), env={"MOCK_ADDR": mock.addr})  # type: ignore[arg-type]


def test_budgets_resume_from_the_ledger_after_a_restart(mock: MockProc, ledger: str) -> None:
    users = {"charlie": ("0.0003", "daily")}
    g = start(mock, ledger, users=users)
    try:
        assert [ask(g.url, "charlie").status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        g.stop()
    g = start(mock, ledger, users=users)
    try:
        assert ask(g.url, "charlie").status_code == 429  # the spend before the restart still counts
        assert ask(g.url, "someone-else").status_code == 200
    finally:
        g.stop()
    assert len(records(ledger, "charlie")) == 5


def test_graceful_shutdown_writes_everything(mock: MockProc, ledger: str) -> None:
    g = start(mock, ledger, flush="1h")  # nothing is written by the timer: only the drain can
    try:
        for i in range(7):
            assert ask(g.url, f"user{i}").status_code == 200
    finally:
        code, _ = g.stop()
    assert code == 0
    assert len(records(ledger, timeout=0)) == 7


def test_sigkill_loses_at_most_the_flush_interval(mock: MockProc, ledger: str) -> None:
    g = start(mock, ledger, flush="200ms")
    try:
        for i in range(20):
            assert ask(g.url, f"user{i % 3}").status_code == 200
        time.sleep(0.2 + 0.5)  # one flush interval plus a margin for the write itself
        for _ in range(5):  # these may or may not make it: they are within the last interval
            ask(g.url, "late")
        g.signal(signal.SIGKILL)
        g.proc.wait(5)
    finally:
        g.stop()
    rows = records(ledger, timeout=0)
    assert 20 <= len(rows) <= 25
    assert len([r for r in rows if r["user"] != "late"]) == 20
    # The rollups committed with those rows, in the same transactions.
    assert sum(r["cost_nanos"] for r in rows if r["user"] == "user0") == _rollup(ledger, "user0")


def _rollup(ledger: str, user: str) -> int:
    import sqlite3

    conn = sqlite3.connect(ledger)
    (value,) = conn.execute("SELECT cost_nanos FROM rollup WHERE scope='user' AND name=? AND period='total@UTC'",
                            (user,)).fetchone()
    conn.close()
    return int(value)


@pytest.fixture
def populated(mock: MockProc, ledger: str) -> tuple[GatewayProc, str]:
    g = start(mock, ledger, users={name: ("1", "monthly") for name, _ in PEOPLE})
    for i, (name, team) in enumerate(PEOPLE):
        for j in range(i % 3 + 1):
            route = "/v1/messages" if j % 2 == 0 else "/v1/chat/completions"
            body = {"model": "m", "max_tokens": 30,
                    "messages": [{"role": "user", "content": f"report {name} {j}" * (i + 1)}]}
            r = http("POST", g.url + route, json_body=body, headers={"x-user-id": name, "x-team-id": team})
            assert r.status_code == 200, r.text
    records(ledger, wait_for=sum(i % 3 + 1 for i in range(len(PEOPLE))))
    yield g, ledger  # type: ignore[misc]
    g.stop()


def _report(ledger: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "gateway", "report", "--ledger", ledger, *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_report_totals_equal_the_sum_of_their_rows(populated: tuple[GatewayProc, str]) -> None:
    _, ledger = populated
    raw = records(ledger, timeout=0)
    doc = json.loads(_report(ledger, "--format", "json"))
    for group in ("user", "team", "model", "day"):
        rows, total = doc["groups"][group]["rows"], doc["groups"][group]["total"]
        for field in ("requests", "inputTokens", "outputTokens", "costNanos"):
            assert total[field] == sum(r[field] for r in rows)
        assert total["costNanos"] == sum(r["cost_nanos"] for r in raw)  # and equal to the raw log
        assert total["requests"] == len(raw)
    assert {r["key"] for r in doc["groups"]["user"]["rows"]} == {n for n, _ in PEOPLE}
    assert {r["key"] for r in doc["groups"]["team"]["rows"]} == {t for _, t in PEOPLE}
    assert {r["key"] for r in doc["groups"]["model"]["rows"]} == {"claude-haiku-4-5-20251001", "gpt-4o-mini"}
    research = next(r for r in doc["groups"]["team"]["rows"] if r["key"] == "research")
    assert research["costNanos"] == sum(r["cost_nanos"] for r in raw if r["team"] == "research")
    forecast = {f["team"]: f for f in doc["forecast"]}
    assert set(forecast) == {t for _, t in PEOPLE}
    assert forecast["research"]["period"] == "monthly"  # research has a monthly team budget in the config
    assert float(forecast["research"]["forecastUsd"]) >= float(forecast["research"]["spentUsd"]) > 0

    table = _report(ledger, "--by", "team")
    assert "TOTAL" in table and "Forecast" in table and "research" in table
    lines = list(csv.reader(io.StringIO(_report(ledger, "--by", "user,model", "--format", "csv"))))
    assert lines[0][0] == "group" and lines[0][-1] == "cost_usd"
    for group in ("user", "model"):
        body = [row for row in lines[1:] if row[0] == group]
        total = body[-1]
        assert total[1] == "TOTAL"
        cents = [int(row[-1].replace(".", "")) for row in body[:-1]]  # exact: 9 decimals, no float
        assert int(total[-1].replace(".", "")) == sum(cents)


def test_report_time_window(populated: tuple[GatewayProc, str]) -> None:
    _, ledger = populated
    future = json.loads(_report(ledger, "--since", "2999-01-01", "--by", "team", "--format", "json"))
    assert future["groups"]["team"]["rows"] == [] and future["groups"]["team"]["total"]["requests"] == 0
    recent = json.loads(_report(ledger, "--since", "1h", "--until", "2999-01-01T00:00:00Z", "--format", "json"))
    assert recent["groups"]["user"]["total"]["requests"] == len(records(ledger, timeout=0))


def test_report_errors_are_one_line(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "report", "--ledger", str(tmp_path / "none.db")],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and out.stderr.strip() == f"error: no spend ledger at {tmp_path / 'none.db'}"


def test_admin_api_serves_the_same_report(populated: tuple[GatewayProc, str]) -> None:
    g, ledger = populated
    status, body = g.get(g.admin_port, "/api/spend?group_by=team,user&since=1d")
    assert status == 200
    api = json.loads(body)
    cli = json.loads(_report(ledger, "--by", "team,user", "--since", "1d", "--format", "json"))
    assert api["groups"] == cli["groups"]
    assert [f["team"] for f in api["forecast"]] == [f["team"] for f in cli["forecast"]]
    status, body = g.get(g.admin_port, "/api/spend?group_by=planet")
    assert status == 400 and b"group_by" in body


def test_unwritable_ledger_stops_startup_with_one_line(mock: MockProc, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(RuntimeError) as info:
        start(mock, str(blocker / "spend.db"))
    assert f"error: cannot open spend ledger {blocker / 'spend.db'}" in str(info.value)
    assert "Traceback" not in str(info.value)
