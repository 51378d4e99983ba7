"""deploy/observability: the compose file and Grafana dashboard parse, and every metric (and every
grouping label) the dashboard queries exists in a real gateway's /metrics. The stack itself needs
Docker, which these tests do not have."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.e2e.harness import GatewayProc, MockProc, http, stream_chunks

STACK = Path(__file__).resolve().parents[2] / "deploy" / "observability"
CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  metrics:
    fields:
      add: {team: 'request.headers["x-team-id"]'}
  ledger: {path: "$LEDGER"}
  budgets:
    teams: {research: {limit: "5", period: monthly}}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: openai
      policies:
        localRateLimit: [{maxTokens: 1000, tokensPerFill: 1000, fillInterval: 1s}]
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "$MOCK_ADDR"
"""


def dashboard_queries() -> list[str]:
    dash = json.loads((STACK / "grafana" / "dashboards" / "agentgateway-py.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p["targets"]]


def test_compose_and_provisioning_files_parse() -> None:
    compose = yaml.safe_load((STACK / "docker-compose.yaml").read_text())
    assert set(compose["services"]) == {"jaeger", "prometheus", "grafana"}
    assert "4317:4317" in compose["services"]["jaeger"]["ports"]
    prom = yaml.safe_load((STACK / "prometheus.yml").read_text())
    assert prom["scrape_configs"][0]["static_configs"][0]["targets"] == ["host.docker.internal:15020"]
    for sub in ("datasources/prometheus.yaml", "dashboards/dashboards.yaml"):
        assert yaml.safe_load((STACK / "grafana" / "provisioning" / sub).read_text())["apiVersion"] == 1
    assert len(dashboard_queries()) >= 10


def test_every_dashboard_metric_and_label_exists(tmp_path: Path) -> None:
    mock = MockProc()
    gw = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr, "LEDGER": str(tmp_path / "spend.db")})
    try:
        body = {"model": "x", "messages": [{"role": "user", "content": "hello there"}]}
        headers = {"x-team-id": "research"}
        assert http("POST", f"{gw.url}/v1/chat/completions", json_body=body, headers=headers).status_code == 200
        assert b"[DONE]" in b"".join(stream_chunks(f"{gw.url}/v1/chat/completions", body | {"stream": True},
                                                   headers))
        status, raw = gw.get(gw.stats_port, "/metrics")
    finally:
        gw.stop()
        mock.stop()
    text = raw.decode()
    declared = set(re.findall(r"^# TYPE (\w+) ", text, re.M))
    samples: dict[str, set[str]] = {}
    for name, labels in re.findall(r"^(\w+)\{([^}]*)\}", text, re.M):
        samples.setdefault(name, set()).update(re.findall(r'(\w+)="', labels))
    for expr in dashboard_queries():
        for name in re.findall(r"agentgateway_\w+", expr):
            family = re.sub(r"_(bucket|sum|count|total)$", "", name)
            assert name in samples or family in declared or name in declared, f"{name} not exposed ({expr})"
            for group in re.findall(r"by \(([^)]*)\)", expr):
                wanted = {g.strip() for g in group.split(",")} - {"le"}
                if name in samples:
                    assert wanted <= samples[name], f"{expr}: {wanted - samples[name]} missing"
    # The cost-per-team panel has data: the cost counter carries the team label from fields.add.
    assert {"team", "gen_ai_request_model"} <= samples["agentgateway_gen_ai_client_cost_usd_total"]
    assert 'team="research"' in text
