from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import GatewayProc, MockProc

SERVER_KEY_OPENAI = "sk-test-openai-server-key-0123456789"
SERVER_KEY_ANTHROPIC = "sk-ant-test-server-key-9876543210"

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: openai
      matches:
      - path: {pathPrefix: /v1/chat/completions}
      - path: {exact: /v1/models}
      policies:
        backendAuth: {key: "$OPENAI_KEY"}
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "$MOCK_ADDR"
    - name: plain
      matches:
      - path: {pathPrefix: /plain}
      backends:
      - host: "$MOCK_ADDR"
    - name: anthropic
      policies:
        backendAuth: {key: "$ANTHROPIC_KEY"}
        responseHeaderModifier: {set: {x-gateway: agentgateway-py}}
      backends:
      - ai:
          name: anthropic
          provider: {anthropic: {model: claude-haiku-4-5-20251001}}
          hostOverride: "$MOCK_ADDR"
"""


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def gateway(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr, "OPENAI_KEY": SERVER_KEY_OPENAI,
                                 "ANTHROPIC_KEY": SERVER_KEY_ANTHROPIC})
    yield g
    g.stop()
