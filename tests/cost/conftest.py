from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import MockProc

# A gateway with trusted identity headers (x-user-id / x-team-id), budgets and a spend ledger.
_CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  standardAttributes: {{trustHeaders: true}}
{pricing}
  budgets:
    users:
{users}
    teams:
      research: {{limit: "1", period: monthly}}
    defaultMaxOutputTokens: 64
{alerts}
  ledger: {{{ledger_key}: "{ledger}", flushInterval: {flush}{ledger_extra}}}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: openai
      matches:
      - path: {{pathPrefix: /v1/chat/completions}}
      backends:
      - ai:
          name: openai
          provider: {{openAI: {{model: {openai_model}}}}}
          hostOverride: "$MOCK_ADDR"
    - name: anthropic
      backends:
      - ai:
          name: anthropic
          provider: {{anthropic: {{model: claude-haiku-4-5-20251001}}}}
          hostOverride: "$MOCK_ADDR"
"""


def config(ledger: str, users: dict[str, tuple[str, str]] | None = None, flush: str = "200ms",
           alerts: str = "", pricing: str = "", openai_model: str = "gpt-4o-mini", ledger_key: str = "path",
           ledger_extra: str = "") -> str:
    """`ledger_key` "url" makes `ledger` a Postgres URL; `ledger_extra` adds keys (", maxQueue: 20")."""
    users = users or {"alice": ("0.05", "daily"), "charlie": ("0.0001", "daily")}
    lines = "\n".join(f'      {name}: {{limit: "{limit}", period: {period}}}'
                      for name, (limit, period) in users.items())
    return _CONFIG.format(ledger=ledger, users=lines, flush=flush, alerts=alerts, pricing=pricing,
                          openai_model=openai_model, ledger_key=ledger_key, ledger_extra=ledger_extra)


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()
