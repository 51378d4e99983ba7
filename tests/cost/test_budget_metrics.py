"""Budget and ledger metrics scraped from a real gateway: spend/remaining per team (users opt-in,
capped), ledger commit lag and queue depth."""

from __future__ import annotations

import time
from pathlib import Path

from tests.cost.conftest import config
from tests.cost.helpers import ask, records
from tests.e2e.harness import GatewayProc, MockProc
from tests.e2e.test_observability_metrics import sample, scrape


def _series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_team_spend_and_remaining_by_default_users_not_exported(mock: MockProc, tmp_path: Path) -> None:
    ledger = str(tmp_path / "spend.db")
    gw = GatewayProc(config(ledger), env={"MOCK_ADDR": mock.addr})
    try:
        text = scrape(gw)
        # A configured team shows its full budget before it spends anything.
        assert sample(text, "agentgateway_budget_spent_usd", scope="team", account="research") == 0
        assert sample(text, "agentgateway_budget_remaining_usd", scope="team", account="research",
                      period="monthly") == 1.0
        assert ask(gw.url, "alice", "research").status_code == 200
        spent_row = records(ledger, "alice", wait_for=1)[0]["cost_nanos"] / 1e9
        text = scrape(gw)
        spent = sample(text, "agentgateway_budget_spent_usd", scope="team", account="research")
        assert spent == spent_row > 0
        assert sample(text, "agentgateway_budget_remaining_usd", scope="team", account="research") == 1.0 - spent
        assert sample(text, "agentgateway_budget_limit_usd", scope="team", account="research") == 1.0
        assert not [s for s in _series(text, "agentgateway_budget_spent_usd") if 'scope="user"' in s]
    finally:
        gw.stop()


def test_users_opt_in_and_max_series_keeps_the_biggest_spenders(mock: MockProc, tmp_path: Path) -> None:
    ledger = str(tmp_path / "spend.db")
    users = {"alice": ("1", "daily"), "bob": ("1", "daily"), "carol": ("1", "daily")}
    text = config(ledger, users=users, alerts="    metrics: {teams: false, users: true, maxSeries: 2}")
    gw = GatewayProc(text, env={"MOCK_ADDR": mock.addr})
    try:
        for user, n in (("alice", 3), ("bob", 2), ("carol", 1)):
            for _ in range(n):
                assert ask(gw.url, user, "research").status_code == 200
        text = scrape(gw)
        names = sorted(s.split('account="')[1].split('"')[0] for s in _series(text, "agentgateway_budget_spent_usd"))
        assert names == ["alice", "bob"]  # carol spent least; teams are off
        assert sample(text, "agentgateway_budget_series_omitted") == 1
        assert sample(text, "agentgateway_budget_spent_usd", account="alice") > sample(
            text, "agentgateway_budget_spent_usd", account="bob")
    finally:
        gw.stop()


def test_ledger_lag_depth_and_written(mock: MockProc, tmp_path: Path) -> None:
    ledger = str(tmp_path / "spend.db")
    # A long flush interval: the record waits in the queue, and its commit lag is about the interval.
    gw = GatewayProc(config(ledger, flush="1500ms"), env={"MOCK_ADDR": mock.addr})
    try:
        assert ask(gw.url, "alice").status_code == 200
        text = scrape(gw)
        if sample(text, "agentgateway_ledger_records_written_total") == 0:  # not flushed yet
            assert sample(text, "agentgateway_ledger_queue_depth") == 1
            assert sample(text, "agentgateway_ledger_oldest_pending_seconds") > 0
        records(ledger, "alice", wait_for=1)
        deadline = time.monotonic() + 5
        while sample(scrape(gw), "agentgateway_ledger_records_written_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        text = scrape(gw)
        assert sample(text, "agentgateway_ledger_records_written_total") == 1
        assert sample(text, "agentgateway_ledger_queue_depth") == 0
        assert sample(text, "agentgateway_ledger_oldest_pending_seconds") == 0
        assert 0 < sample(text, "agentgateway_ledger_commit_lag_seconds") <= 2.5
    finally:
        gw.stop()
