"""Webhook guards against a real local webhook server (agentgateway's /request protocol)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, free_port
from tests.e2e.test_prompt_guard import ant, oai
from tests.e2e.webhook_server import JsonWebhook


def _decide_request(body: dict[str, Any]) -> dict[str, Any]:
    messages = body["body"]["messages"]
    if any("REJECT" in m["content"] for m in messages):
        return {"body": "blocked by webhook", "status_code": 422, "reason": "r"}
    if any("MASK-ME" in m["content"] for m in messages):
        return {"body": {"messages": [{**m, "content": m["content"].replace("MASK-ME", "[hidden]")}
                                      for m in messages]}}
    return {"reason": "fine"}


class Webhook(JsonWebhook):
    """Rejects texts with REJECT, masks MASK-ME, passes the rest; remembers what it was sent."""

    def __init__(self) -> None:
        super().__init__(_decide_request)

    @property
    def seen(self) -> list[tuple[str, dict[str, str], Any]]:
        return self.requests


def _route(name: str, kind: str, webhook_addr: str, mode: str) -> str:
    provider = "openAI: {model: gpt-4o-mini}" if kind == "openai" else "anthropic: {model: claude-haiku-4-5}"
    path = "/v1/chat/completions" if kind == "openai" else "/v1/messages"
    return f"""
    - name: {name}-{kind}
      matches:
      - path: {{pathPrefix: {path}}}
        headers: [{{name: x-guard, value: {{exact: {name}}}}}]
      policies:
        ai:
          promptGuard:
            request:
            - webhook:
                target: {{host: "{webhook_addr}"}}
                failureMode: {mode}
                headers: {{x-route-path: "request.path"}}
                forwardHeaderMatches: [{{name: x-tenant, value: {{regex: "t-.*"}}}}]
      backends:
      - ai: {{name: {kind}, provider: {{{provider}}}, hostOverride: "$MOCK_ADDR"}}
"""


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    w = Webhook()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def gw(mock: MockProc, webhook: Webhook) -> Iterator[GatewayProc]:
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    routes = [("wh", webhook.addr, "failClosed"), ("down", down, "failClosed"), ("open", down, "failOpen")]
    config = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
""" + "".join(_route(n, k, a, m) for n, a, m in routes for k in ("openai", "anthropic"))
    g = GatewayProc(config, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def test_pass_forwards_the_prompt_and_chosen_headers(gw: GatewayProc, webhook: Webhook) -> None:
    reply = oai(gw, "wh").chat.completions.create(
        model="m", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}],
        extra_headers={"x-tenant": "t-42", "authorization": "Bearer client-secret"})
    assert reply.choices[0].message.content.endswith("You said: hello there")
    path, headers, body = webhook.seen[-1]
    assert path == "/request"
    assert body == {"body": {"messages": [{"role": "system", "content": "be brief"},
                                          {"role": "user", "content": "hello there"}]}}
    assert headers["x-tenant"] == "t-42" and headers["x-route-path"] == "/v1/chat/completions"
    assert "authorization" not in headers  # client credentials are not forwarded unless matched


def test_mask_rewrites_what_the_provider_gets(gw: GatewayProc) -> None:
    with ant(gw, "wh").messages.stream(model="m", max_tokens=40, system="sys MASK-ME", messages=[
            {"role": "user", "content": [{"type": "text", "text": "my MASK-ME here"}]}]) as s:
        text = "".join(s.text_stream)
    assert text.endswith("You said: my [hidden] here")


def test_reject_uses_the_webhooks_status_and_body(gw: GatewayProc) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        oai(gw, "wh").chat.completions.create(model="m", messages=[{"role": "user", "content": "REJECT me"}])
    assert info.value.response.text == "blocked by webhook"


def test_webhook_down_fails_closed_with_503(gw: GatewayProc) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        oai(gw, "down").chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503


def test_webhook_down_fail_open_lets_the_request_through(gw: GatewayProc) -> None:
    reply = oai(gw, "open").chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content.endswith("You said: hi")
    _status, metrics = gw.get(gw.stats_port, "/metrics")
    assert 'agentgateway_guardrail_checks_total{action="FailOpen",phase="Request"}' in metrics.decode()
