"""Access-log lines on a real gateway process's stderr (agentgateway's text and JSON formats)."""

from __future__ import annotations

import json
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
        backendAuth: {{key: "sk-log-server-key-123"}}
      backends:
      - ai:
          name: openai
          provider: {{openAI: {{model: gpt-4o-mini}}}}
          hostOverride: "$MOCK_ADDR"
"""
PROMPT = "the secret prompt nobody may log"
CHAT = {"model": "x", "temperature": 0.25, "messages": [{"role": "user", "content": PROMPT}]}
LINE = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)\tinfo\trequest (.*)")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


def run(mock: MockProc, extra: str, requests: list[tuple[dict[str, str], dict[str, object] | None]]) -> str:
    """Send the requests, stop the gateway (flushing its log) and return its stderr."""
    gw = GatewayProc(CONFIG.format(extra=extra), env={"MOCK_ADDR": mock.addr})
    try:
        for headers, body in requests:
            http("POST", f"{gw.url}/v1/chat/completions", json_body=body, content=None if body else b"{",
                 headers={"authorization": "Bearer client-secret-key", **headers})
    finally:
        _, err = gw.stop()
    assert "sk-log-server-key" not in err and "client-secret-key" not in err and PROMPT not in err
    return err


def text_lines(err: str) -> list[tuple[str, list[tuple[str, str]]]]:
    out = []
    for line in err.splitlines():
        m = LINE.fullmatch(line)
        if m:
            out.append((m.group(1), re.findall(r'(\S+?)=("(?:[^"\\]|\\.)*"|\S+)', m.group(2))))
    return out


def test_text_line_fields_in_agentgateways_order(mock: MockProc) -> None:
    err = run(mock, "", [({}, CHAT), ({}, None)])
    lines = text_lines(err)
    assert len(lines) == 2, err
    fields = lines[0][1]
    keys = [k for k, _ in fields]
    assert keys == ["listener", "route", "endpoint", "src.addr", "http.method", "http.host", "http.path",
                    "http.version", "http.status", "protocol", "gen_ai.operation.name", "gen_ai.provider.name",
                    "gen_ai.request.model", "gen_ai.response.model", "gen_ai.usage.input_tokens",
                    "gen_ai.usage.output_tokens", "gen_ai.request.temperature", "duration"]
    values = dict(fields)
    assert values["listener"] == "main" and values["route"] == "openai"
    assert values["endpoint"] == mock.addr
    assert values["http.status"] == "200" and values["http.version"] == "HTTP/1.1"
    assert values["gen_ai.usage.input_tokens"] == str(-(-len(PROMPT) // 4))
    assert re.fullmatch(r"\d+ms", values["duration"])
    # A refused request: the error is quoted (it has spaces), with the reason, and no usage.
    bad = dict(lines[1][1])
    assert bad["http.status"] == "400" and bad["reason"] == "InvalidRequest"
    assert bad["error"].startswith('"') and "gen_ai.usage.input_tokens" not in bad


def test_json_format_with_cel_fields_added_and_removed(mock: MockProc) -> None:
    extra = """  logging:
    format: json
    fields:
      add: {user.team: 'request.headers["x-team"]', body.model: 'llmRequest.model'}
      remove: [src.addr, http.host]"""
    err = run(mock, extra, [({"x-team": "red"}, CHAT)])
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert len(records) == 1, err
    rec = records[0]
    assert list(rec)[:3] == ["level", "time", "scope"] and rec["scope"] == "request" and rec["level"] == "info"
    assert rec["user.team"] == "red" and rec["body.model"] == "gpt-4o-mini"  # the request as sent upstream
    assert "src.addr" not in rec and "http.host" not in rec
    assert rec["http.status"] == 200 and rec["gen_ai.usage.output_tokens"] > 0


def test_filter_and_level(mock: MockProc) -> None:
    only_flagged = "  logging:\n    filter: 'request.headers[\"x-log\"] == \"yes\"'"
    err = run(mock, only_flagged, [({"x-log": "yes"}, CHAT), ({}, CHAT), ({"x-log": "no"}, CHAT)])
    assert len(text_lines(err)) == 1
    err = run(mock, "  logging:\n    level: warn", [({}, CHAT)])
    assert text_lines(err) == []


def test_frontend_policies_access_log(mock: MockProc) -> None:
    # agentgateway's newer spelling: frontendPolicies.accessLog {filter, add, remove}.
    extra = """frontendPolicies:
  accessLog:
    filter: 'request.headers["x-log"] == "yes"'
    add: {client.app: 'request.headers["x-app"]'}
    remove: [src.addr]"""
    err = run(mock, extra, [({"x-log": "yes", "x-app": "billing"}, CHAT), ({"x-app": "other"}, CHAT)])
    lines = text_lines(err)
    assert len(lines) == 1, err
    fields = dict(lines[0][1])
    assert fields["client.app"] == "billing" and "src.addr" not in fields
