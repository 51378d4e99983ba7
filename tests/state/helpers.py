"""Gateways sharing one Redis: the config, requests, and reading the shared state."""

from __future__ import annotations

import datetime
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis

from tests.e2e.harness import GatewayProc, Response, http

PREFIX = "agw-test:"
# USD per 1M tokens: $0.001 a token, so a request's cost in nanodollars is 1e6 x its tokens.
CATALOG = '{"providers": {"anthropic": {"models": {"priced-model": {"rates": {"input": "1000", "output": "1000"}}}}}}'
TOKEN_NANOS = 1_000_000

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  standardAttributes: {{trustHeaders: true}}
  logging: {{level: {log_level}}}
  stateBackend:
    type: redis
    url: "{url}"
    keyPrefix: "{prefix}"
    timeout: {timeout}
    rateLimitFailureMode: {rate_mode}
    budgetFailureMode: {budget_mode}
    reservationTtl: {ttl}
  modelCatalog:
  - inline: '{catalog}'
  budgets:
    users:
{users}
    defaultMaxOutputTokens: 64
{ledger}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: burst
      matches: [{{path: {{pathPrefix: /burst}}}}]
      policies:
        localRateLimit: [{{maxTokens: 20, tokensPerFill: 1, fillInterval: 1h}}]
      backends: [{{host: "$MOCK_ADDR"}}]
    - name: keyed
      matches: [{{path: {{pathPrefix: /keyed}}}}]
      policies:
        localRateLimit:
        - {{maxTokens: 3, tokensPerFill: 1, fillInterval: 1h, key: 'request.headers["x-user-id"]'}}
      backends: [{{host: "$MOCK_ADDR"}}]
    - name: refill
      matches: [{{path: {{pathPrefix: /refill}}}}]
      policies:
        localRateLimit: [{{maxTokens: 1, tokensPerFill: 1, fillInterval: 1s}}]
      backends: [{{host: "$MOCK_ADDR"}}]
    - name: tokens
      matches: [{{path: {{pathPrefix: /tok/v1/messages}}}}]
      policies:
        localRateLimit: [{{type: tokens, maxTokens: 30, tokensPerFill: 1, fillInterval: 1h}}]
      backends:
      - ai: {{name: an, provider: {{anthropic: {{model: priced-model}}}}, hostOverride: "$MOCK_ADDR"}}
    - name: llm
      backends:
      - ai: {{name: an, provider: {{anthropic: {{model: priced-model}}}}, hostOverride: "$MOCK_ADDR"}}
"""


def config(url: str, users: dict[str, str] | None = None, ledger: str | None = None, timeout: str = "500ms",
           rate_mode: str = "failOpen", budget_mode: str = "failClosed", ttl: str = "1m",
           log_level: str = "info") -> str:
    users = users or {"dave": "0.5"}
    lines = "\n".join(f'      {name}: {{limit: "{limit}", period: daily}}' for name, limit in users.items())
    led = f'  ledger: {{path: "{ledger}", flushInterval: 50ms}}' if ledger else ""
    return CONFIG.format(url=url, prefix=PREFIX, timeout=timeout, rate_mode=rate_mode, budget_mode=budget_mode,
                         ttl=ttl, log_level=log_level, catalog=CATALOG, users=lines, ledger=led)


def start(url: str, mock_addr: str, **kw: Any) -> GatewayProc:
    return GatewayProc(config(url, **kw), env={"MOCK_ADDR": mock_addr})


def ask(url: str, user: str, max_tokens: int = 20, path: str = "/v1/messages", **headers: str) -> Response:
    body = {"model": "priced-model", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "Hello!"}]}
    return http("POST", f"{url}{path}", json_body=body, headers={"x-user-id": user, **headers})


def burst(calls: list[Any], workers: int) -> list[Any]:
    """Run the zero-argument callables concurrently; their results in order."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda f: f(), calls))


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def spent(url: str, user: str) -> int:
    day = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    value = client(url).hget(f"{PREFIX}b:user:daily@UTC:{day}:{user}", "spent")
    return int(value or 0)


def reserved(url: str, user: str) -> int:
    return int(client(url).get(f"{PREFIX}b:user:reserved:{user}") or 0)


def wait_until(check: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())
