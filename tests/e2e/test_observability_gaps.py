"""Observability details: request timeouts in the access log, the `gateway` metric label, the
failover-ejection counter and access-log lines dropped when stderr falls behind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from http.client import IncompleteRead

import pytest

from gateway.config.model_telemetry import LoggingConfig
from gateway.telemetry import access_log
from gateway.telemetry.access_log import AccessLog
from gateway.telemetry.metrics import Metrics
from tests.e2e.harness import GatewayProc, MockProc, http
from tests.e2e.test_access_log import text_lines
from tests.e2e.test_observability_metrics import sample, scrape

CHAT = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


TIMEOUT_CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: slow
      policies:
        timeout: {requestTimeout: 300ms}
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "$MOCK_ADDR"
"""


def test_request_timeouts_log_the_error(mock: MockProc) -> None:
    gw = GatewayProc(TIMEOUT_CONFIG, env={"MOCK_ADDR": mock.addr})
    try:
        r = http("POST", f"{gw.url}/v1/chat/completions", json_body=CHAT, headers={"x-mock-delay-ms": "3000"})
        assert r.status_code == 504
        # A stream that has started when the timeout fires is cut short: still logged as a timeout.
        with pytest.raises(IncompleteRead):
            http("POST", f"{gw.url}/v1/chat/completions", json_body=CHAT | {"stream": True},
                 headers={"x-mock-chunks": "5", "x-mock-latency-ms": "200"})
    finally:
        _, err = gw.stop()
    lines = [dict(fields) for _, fields in text_lines(err)]
    assert len(lines) == 2, err
    assert lines[0]["error"] == '"request timeout"' and lines[0]["reason"] == "Timeout"
    assert lines[0]["http.status"] == "504"
    assert lines[1]["error"] == '"request timeout"' and lines[1]["http.status"] == "200"


GATEWAYS_CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
gateways:
  edge:
    port: $GATEWAY_PORT
    listeners: [{name: web}]
routes:
- name: plain
  gateways: edge
  backends:
  - host: "$MOCK_ADDR"
"""


def test_gateway_label_names_the_gateways_entry(mock: MockProc) -> None:
    gw = GatewayProc(GATEWAYS_CONFIG, env={"MOCK_ADDR": mock.addr})
    try:
        assert http("GET", f"{gw.url}/v1/models").status_code == 200
        text = scrape(gw)
    finally:
        gw.stop()
    assert sample(text, "agentgateway_requests_total", gateway="edge", listener="web", route="plain") == 1


def test_failover_ejections_counter() -> None:
    metrics = Metrics()
    metrics.count_ejection("openai-primary")
    metrics.count_ejection("openai-primary")
    metrics.count_ejection("anthropic")
    text = metrics.exposition().decode()
    assert sample(text, "agentgateway_failover_ejections_total", backend="openai-primary") == 2
    assert sample(text, "agentgateway_failover_ejections_total", backend="anthropic") == 1


def test_access_log_lines_dropped_when_stderr_is_stuck_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # A smaller bound than the 1000 batches of production, so the writer falls behind in ~0.2 s.
    monkeypatch.setattr(access_log, "_MAX_PENDING_BATCHES", 5)
    read_fd, write_fd = os.pipe()  # nobody reads: the writer thread blocks once the pipe is full
    metrics = Metrics()

    async def main() -> int:
        log = AccessLog(LoggingConfig(), fd=write_fd)
        metrics.watch_access_log(lambda: log.dropped)
        big = "x" * 70_000  # one line fills the pipe, so the writer thread is stuck from the start
        for i in range(200):  # more batches than the writer may fall behind by
            log.emit([("http.path", f"/{i}"), ("pad", big if i == 0 else "y")], 0.0)
            await asyncio.sleep(0.021)  # one flush interval: each line is its own batch
            if log.dropped >= 3:
                break
        return log.dropped

    try:
        dropped = asyncio.run(asyncio.wait_for(main(), 60))
    finally:
        os.close(read_fd)  # unblocks the writer (EPIPE), which then exits on its own
        os.close(write_fd)
    assert dropped >= 3
    assert sample(metrics.exposition().decode(), "agentgateway_access_log_dropped_lines_total") == dropped
