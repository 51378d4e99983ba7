"""Budgets through a real gateway process: refusals in both SDKs' shapes, reservations under concurrency,
streaming and disconnect settlement, alerts."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.cost.conftest import config
from tests.cost.helpers import PROMPT, ask, records
from tests.e2e.harness import GatewayProc, MockProc, stream_chunks


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "spend.db")


def start(mock: MockProc, ledger: str, **kw: Any) -> GatewayProc:
    return GatewayProc(config(ledger, **kw), env={"MOCK_ADDR": mock.addr})


@pytest.fixture
def gw(mock: MockProc, ledger: str) -> Iterator[GatewayProc]:
    g = start(mock, ledger, users={"charlie": ("0.0003", "daily"), "dave": ("0.001", "daily"),
                                   "erin": ("1", "daily"), "frank": ("0.0002", "daily")})
    yield g
    g.stop()


def test_charlie_is_blocked_once_his_budget_is_spent(gw: GatewayProc, ledger: str) -> None:
    statuses = [ask(gw.url, "charlie").status_code for _ in range(5)]
    # Each request reserves ~$0.000125 and costs ~$0.000067: three fit in $0.0003, the fourth cannot.
    assert statuses == [200, 200, 200, 429, 429]
    rows = records(ledger, "charlie", wait_for=5)
    spent = sum(r["cost_nanos"] for r in rows)
    assert 0 < spent <= 300_000
    assert [r["status"] for r in rows] == statuses
    assert all(r["cost_nanos"] == 0 for r in rows if r["status"] == 429)


def test_openai_sdk_gets_insufficient_quota(gw: GatewayProc) -> None:
    for _ in range(3):
        ask(gw.url, "charlie")
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0,
                           default_headers={"x-user-id": "charlie"})
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o-mini", max_tokens=1000, messages=PROMPT)  # type: ignore[arg-type]
    err = info.value
    assert err.status_code == 429 and err.code == "insufficient_quota"
    assert isinstance(err.body, dict) and err.body["type"] == "insufficient_quota"
    msg = err.body["message"]
    assert "user 'charlie'" in msg and "$0.0003 per daily period" in msg and "resets 20" in msg


def test_anthropic_sdk_gets_rate_limit_error(gw: GatewayProc) -> None:
    for _ in range(3):
        ask(gw.url, "charlie")
    client = anthropic.Anthropic(base_url=gw.url, api_key="k", max_retries=0,
                                 default_headers={"x-user-id": "charlie"})
    with pytest.raises(anthropic.RateLimitError) as info:
        client.messages.create(model="m", max_tokens=20, messages=PROMPT)  # type: ignore[arg-type]
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "rate_limit_error"
    assert "user 'charlie'" in body["error"]["message"]


def test_team_budget_refuses_with_the_team_named(mock: MockProc, ledger: str) -> None:
    g = start(mock, ledger)  # team research: $1/month; alice: $0.05/day
    try:
        r = ask(g.url, "zoe", "research", max_tokens=500_000)  # worst case $2.5 > the team's $1
        assert r.status_code == 429
        assert "team 'research'" in r.json()["error"]["message"]
        assert ask(g.url, "zoe", "research").status_code == 200
    finally:
        g.stop()


def test_100_concurrent_requests_never_overshoot(gw: GatewayProc, ledger: str) -> None:
    def one(_: int) -> int:
        return ask(gw.url, "dave", headers={"x-mock-delay-ms": "30"}).status_code

    with ThreadPoolExecutor(max_workers=100) as pool:
        statuses = list(pool.map(one, range(100)))
    ok, refused = statuses.count(200), statuses.count(429)
    assert ok + refused == 100 and ok >= 7 and refused >= 80
    rows = records(ledger, "dave", wait_for=100)
    assert len(rows) == 100
    assert sum(r["cost_nanos"] for r in rows) <= 1_000_000  # dave's $0.001


def test_stream_is_settled_on_its_final_usage(gw: GatewayProc, ledger: str) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key="k", max_retries=0, default_headers={"x-user-id": "erin"})
    with client.messages.stream(model="m", max_tokens=20, messages=PROMPT) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
    client.messages.create(model="m", max_tokens=20, messages=PROMPT)  # type: ignore[arg-type]
    oai = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="k", max_retries=0, default_headers={"x-user-id": "erin"})
    chunks = list(oai.chat.completions.create(model="m", max_tokens=20, messages=PROMPT,  # type: ignore[arg-type]
                                              stream=True))
    assert chunks
    streamed, plain, oai_stream = records(ledger, "erin", wait_for=3)
    assert streamed["output_tokens"] == final.usage.output_tokens > 0
    assert streamed["cost_nanos"] == plain["cost_nanos"] > 0
    assert oai_stream["model_served"] == "gpt-4o-mini" and oai_stream["cost_nanos"] > 0


def test_client_disconnect_charges_what_was_reported_and_releases_the_rest(gw: GatewayProc, ledger: str) -> None:
    body = {"model": "m", "max_tokens": 20, "stream": True, "messages": PROMPT}
    headers = {"x-user-id": "frank", "x-mock-chunks": "10", "x-mock-latency-ms": "200"}
    for _ in stream_chunks(f"{gw.url}/v1/messages", body, headers):
        break  # hang up after the first bytes
    row = records(ledger, "frank", wait_for=1)[0]
    assert row["status"] == 200 and row["input_tokens"] > 0 and row["cost_nanos"] > 0
    # frank's $0.0002 holds one worst-case reservation (~$0.000125) at a time: this only passes
    # if the cut stream's reservation was released.
    assert ask(gw.url, "frank").status_code == 200


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        data = self.rfile.read(int(self.headers["content-length"]))
        _Hook.received.append(json.loads(data))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_threshold_alert_posts_a_webhook_once(mock: MockProc, ledger: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    g = start(mock, ledger, users={"gina": ("0.0003", "daily")},
              alerts=f"    alerts: {{thresholds: [0.2], webhook: \"{url}\"}}")
    try:
        assert ask(g.url, "gina").status_code == 200  # ~22% of the limit
        assert ask(g.url, "gina").status_code == 200  # still above 20%: no second alert
        deadline = time.monotonic() + 5
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert len(_Hook.received) == 1
        alert = _Hook.received[0]
        assert alert["scope"] == "user" and alert["name"] == "gina" and alert["threshold"] == 0.2
        assert alert["limitUsd"] == "0.000300000" and alert["period"] == "daily"
        _, metrics = g.get(g.stats_port, "/metrics")
        assert b'agentgateway_budget_alerts_total{scope="user",threshold="0.2"} 1.0' in metrics
    finally:
        g.stop()
        server.shutdown()


def test_unknown_model_reject_or_zero_cost(mock: MockProc, ledger: str, tmp_path: Path) -> None:
    g = start(mock, ledger, openai_model="mystery-model-9", pricing="  pricing: {unknownModel: reject}")
    try:
        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0,
                               default_headers={"x-user-id": "erin"})
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]
        assert info.value.code == "model_not_priced" and "mystery-model-9" in str(info.value)
    finally:
        g.stop()
    other = str(tmp_path / "zero.db")
    g = start(mock, other, openai_model="mystery-model-9")
    try:
        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0,
                               default_headers={"x-user-id": "erin"})
        client.chat.completions.create(model="m", messages=PROMPT)  # type: ignore[arg-type]
        row = records(other, "erin", wait_for=1)[0]
        assert row["status"] == 200 and row["cost_nanos"] == 0 and row["output_tokens"] > 0
        _, metrics = g.get(g.stats_port, "/metrics")
        assert b'agentgateway_cost_catalog_lookups_total{gen_ai_request_model="mystery-model-9",status="missing"}' \
            in metrics
    finally:
        _, err = g.stop()
    assert err.count("no price for model 'mystery-model-9'") == 1


def test_upstream_failure_releases_the_reservation_and_is_recorded(mock: MockProc, ledger: str) -> None:
    from tests.e2e.harness import free_port

    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    text = config(ledger, users={"ivan": ("0.0002", "daily")}).replace('hostOverride: "$MOCK_ADDR"',
                                                                        f'hostOverride: "{dead}"')
    g = GatewayProc(text, env={"MOCK_ADDR": mock.addr})
    try:
        # ivan's $0.0002 holds one worst-case reservation at a time: a leaked one would turn the
        # second attempt into a 429.
        assert [ask(g.url, "ivan").status_code for _ in range(3)] == [503, 503, 503]
    finally:
        g.stop()
    rows = records(ledger, "ivan", wait_for=3)
    assert [(r["status"], r["cost_nanos"]) for r in rows] == [(503, 0)] * 3
