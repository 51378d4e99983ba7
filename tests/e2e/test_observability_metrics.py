"""Prometheus metrics scraped from a real gateway's statsAddr after real requests."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.harness import GatewayProc, MockProc, http

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
{extra}
binds:
- port: $GATEWAY_PORT
  listeners:
  - name: main
    routes:
    - name: openai
      matches:
      - path: {{pathPrefix: /v1/chat/completions}}
      policies:
        backendAuth: {{key: "sk-metrics-server-key"}}
      backends:
      - ai:
          name: openai
          provider: {{openAI: {{model: gpt-4o-mini}}}}
          hostOverride: "$MOCK_ADDR"
    - name: plain
      matches:
      - path: {{pathPrefix: /plain}}
      backends:
      - host: "$MOCK_ADDR"
"""
CHAT = {"model": "x", "messages": [{"role": "user", "content": "count my tokens please"}]}


def scrape(gw: GatewayProc) -> str:
    status, body = gw.get(gw.stats_port, "/metrics")
    assert status == 200
    return body.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the one sample of `name` whose labels include `labels`."""
    found = []
    for line in text.splitlines():
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if m is None or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            found.append(float(m.group(3)))
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def gateway(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG.format(extra=""), env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def test_request_and_genai_families_with_agentgateways_labels_and_buckets(gateway: GatewayProc) -> None:
    for _ in range(2):
        assert http("POST", f"{gateway.url}/v1/chat/completions", json_body=CHAT).status_code == 200
    assert http("POST", f"{gateway.url}/v1/chat/completions", json_body=CHAT | {"stream": True}).status_code == 200
    assert http("GET", f"{gateway.url}/plain/nothing-here").status_code == 404
    text = scrape(gateway)
    llm = {"route": "openai", "listener": "main", "backend": "openai", "protocol": "llm", "method": "POST",
           "status": "200", "reason": "Upstream", "gateway": "unknown", "route_rule": "unknown"}
    assert sample(text, "agentgateway_requests_total", **llm) == 3
    assert sample(text, "agentgateway_requests_total", route="plain", protocol="http", status="404") == 1
    assert sample(text, "agentgateway_request_duration_seconds_count", **llm) == 3
    for le in ("0.001", "0.005", "1.0", "80.0", "+Inf"):
        sample(text, "agentgateway_request_duration_seconds_bucket", le=le, **llm)
    genai = {"gen_ai_operation_name": "chat", "gen_ai_system": "openai", "gen_ai_request_model": "gpt-4o-mini",
             "gen_ai_response_model": "gpt-4o-mini", "route": "openai"}
    # The mock counts ceil(chars / 4) tokens per message.
    assert sample(text, "agentgateway_gen_ai_client_token_usage_count", gen_ai_token_type="input", **genai) == 3
    assert sample(text, "agentgateway_gen_ai_client_token_usage_bucket", gen_ai_token_type="output",
                  le="6.7108864e+07", **genai) == 3
    assert sample(text, "agentgateway_gen_ai_server_request_duration_count", **genai) == 3
    sample(text, "agentgateway_gen_ai_server_request_duration_bucket", le="81.92", **genai)
    assert sample(text, "agentgateway_gen_ai_server_time_to_first_token_count", **genai) == 1  # streamed only
    assert sample(text, "agentgateway_gen_ai_server_time_per_output_token_count", **genai) == 1
    sample(text, "agentgateway_gen_ai_server_time_per_output_token_bucket", le="2.5", **genai)
    assert "gen_ai_token_type" not in re.findall(r"agentgateway_gen_ai_server_request_duration_count\{[^}]*", text)[0]
    assert "_created" not in text


def test_connection_pool_and_build_families(gateway: GatewayProc) -> None:
    assert http("POST", f"{gateway.url}/v1/chat/completions", json_body=CHAT).status_code == 200
    text = scrape(gateway)
    assert sample(text, "agentgateway_downstream_connections_total") >= 1
    assert sample(text, "agentgateway_upstream_connect_duration_seconds_count") >= 1
    assert sample(text, "agentgateway_upstream_pool_connections", state="idle") >= 1
    assert sample(text, "agentgateway_upstream_pool_connections", state="in_use") == 0
    assert sample(text, "agentgateway_build_info") == 1
    assert "sk-metrics-server-key" not in text


def test_remove_and_extra_label_fields(mock: MockProc) -> None:
    extra = """  metrics:
    remove: [agentgateway_request_duration_seconds, gen_ai_server_time_to_first_token, retries_total]
    fields:
      add: {team: 'request.headers["x-team"]'}"""
    gw = GatewayProc(CONFIG.format(extra=extra), env={"MOCK_ADDR": mock.addr})
    try:
        r = http("POST", f"{gw.url}/v1/chat/completions", json_body=CHAT, headers={"x-team": "blue"})
        assert r.status_code == 200
        assert http("POST", f"{gw.url}/v1/chat/completions", json_body=CHAT).status_code == 200
        text = scrape(gw)
    finally:
        gw.stop()
    assert "agentgateway_request_duration_seconds" not in text
    assert "agentgateway_gen_ai_server_time_to_first_token" not in text
    assert "agentgateway_retries" not in text
    assert sample(text, "agentgateway_requests_total", route="openai", team="blue") == 1
    assert sample(text, "agentgateway_requests_total", route="openai", team="unknown") == 1
    assert sample(text, "agentgateway_gen_ai_client_token_usage_count", gen_ai_token_type="input",
                  team="blue") == 1


def test_priced_cost_reaches_the_cost_counter(mock: MockProc, tmp_path: object) -> None:
    extra = f"  ledger: {{path: {tmp_path}/spend.db}}"  # cost accounting on, built-in list prices
    gw = GatewayProc(CONFIG.format(extra=extra), env={"MOCK_ADDR": mock.addr})
    try:
        for _ in range(2):
            assert http("POST", f"{gw.url}/v1/chat/completions", json_body=CHAT).status_code == 200
        text = scrape(gw)
    finally:
        _, err = gw.stop()
    usd = sample(text, "agentgateway_gen_ai_client_cost_usd_total", gen_ai_system="openai",
                 gen_ai_request_model="gpt-4o-mini", route="openai")
    assert 0 < usd < 0.001  # two tiny gpt-4o-mini requests
    logged = [float(c) for c in re.findall(r"agw\.ai\.usage\.cost\.total=(\S+)", err)]
    assert len(logged) == 2 and abs(sum(logged) - usd) < 1e-12
