"""Response-side webhook guards (agentgateway's /response protocol) with a real local webhook server.

The mock provider's reply echoes the user's text, so the user decides what the answer contains:
REJECT makes the webhook reject the answer, MASK-ME makes it mask, anything else passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, free_port
from tests.e2e.test_prompt_guard import ant, oai
from tests.e2e.webhook_server import JsonWebhook


def _decide_response(body: dict[str, Any]) -> dict[str, Any]:
    choices = body["body"]["choices"]
    texts = [c["message"]["content"] for c in choices]
    if any("REJECT" in t for t in texts):
        return {"body": "answer blocked by webhook", "status_code": 422}
    if any("MASK-ME" in t for t in texts):
        return {"body": {"choices": [
            {**c, "message": {**c["message"], "content": c["message"]["content"].replace(
                "MASK-ME", "[hidden]")}} for c in choices]}, "reason": "masked"}
    return {"reason": "fine"}


class ResponseWebhook(JsonWebhook):
    """agentgateway's /response protocol: rejects REJECT, masks MASK-ME, passes the rest."""

    def __init__(self) -> None:
        super().__init__(_decide_response)

    @property
    def seen(self) -> list[tuple[str, Any]]:
        return [(path, body) for path, _headers, body in self.requests]


def _route(name: str, kind: str, guards: str) -> str:
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
            response:
{guards}
      backends:
      - ai: {{name: {kind}, provider: {{{provider}}}, hostOverride: "$MOCK_ADDR"}}
"""


def _webhook(addr: str, mode: str) -> str:
    return f"""            - webhook: {{target: {{host: "{addr}"}}, failureMode: {mode}}}
"""


SSN_MASK = """            - regex: {rules: [{builtin: ssn}]}
"""


@pytest.fixture(scope="module")
def webhook() -> Iterator[ResponseWebhook]:
    w = ResponseWebhook()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def gw(mock: MockProc, webhook: ResponseWebhook) -> Iterator[GatewayProc]:
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    routes = {
        "wh": _webhook(webhook.addr, "failClosed"),
        "regex-first": SSN_MASK + _webhook(webhook.addr, "failClosed"),
        "down": _webhook(down, "failClosed"),
        "open": _webhook(down, "failOpen") + SSN_MASK,
    }
    config = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
""" + "".join(_route(n, k, g) for n, g in routes.items() for k in ("openai", "anthropic"))
    g = GatewayProc(config, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def _ask_openai(g: GatewayProc, route: str, text: str) -> str:
    reply = oai(g, route).chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content or ""


def _ask_anthropic(g: GatewayProc, route: str, text: str) -> str:
    reply = ant(g, route).messages.create(model="m", max_tokens=50, messages=[{"role": "user", "content": text}])
    return "".join(b.text for b in reply.content if b.type == "text")


def test_pass_sends_the_answer_as_choices(gw: GatewayProc, webhook: ResponseWebhook) -> None:
    assert _ask_openai(gw, "wh", "hello there").endswith("You said: hello there")
    path, body = webhook.seen[-1]
    assert path == "/response"
    assert body == {"body": {"choices": [{"index": 0, "message": {
        "role": "assistant", "content": "Hello! This is the mock provider. You said: hello there"}}]}}


def test_anthropic_answer_is_sent_as_one_choice(gw: GatewayProc, webhook: ResponseWebhook) -> None:
    assert _ask_anthropic(gw, "wh", "hi from claude").endswith("You said: hi from claude")
    path, body = webhook.seen[-1]
    assert path == "/response"
    assert [c["message"]["content"] for c in body["body"]["choices"]] == [
        "Hello! This is the mock provider. You said: hi from claude"]


@pytest.mark.parametrize("ask", [_ask_openai, _ask_anthropic])
def test_mask_rewrites_the_answer(gw: GatewayProc, ask: Any) -> None:
    assert ask(gw, "wh", "my MASK-ME here").endswith("You said: my [hidden] here")


def test_reject_answers_with_the_webhooks_status_and_body(gw: GatewayProc) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        _ask_openai(gw, "wh", "REJECT this")
    assert info.value.response.text == "answer blocked by webhook"
    with pytest.raises(anthropic.UnprocessableEntityError):
        _ask_anthropic(gw, "wh", "REJECT this")


def test_guards_run_in_order_regex_before_webhook(gw: GatewayProc, webhook: ResponseWebhook) -> None:
    assert _ask_openai(gw, "regex-first", "ssn 123-45-6789").endswith("You said: ssn <SSN>")
    _path, body = webhook.seen[-1]
    assert "123-45-6789" not in json.dumps(body)  # the webhook only saw the masked answer


def test_webhook_down_fails_closed_with_503(gw: GatewayProc) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        _ask_openai(gw, "down", "hi")
    assert info.value.status_code == 503


def test_webhook_down_fail_open_still_applies_regex_guards(gw: GatewayProc) -> None:
    assert _ask_anthropic(gw, "open", "ssn 123-45-6789").endswith("You said: ssn <SSN>")
    _status, metrics = gw.get(gw.stats_port, "/metrics")
    text = metrics.decode()
    assert 'agentgateway_guardrail_checks_total{action="Mask",phase="Response"}' in text


def test_streamed_request_is_refused_when_a_response_webhook_fails_closed(gw: GatewayProc) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        list(oai(gw, "wh").chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert "stream: false" in info.value.message
    with pytest.raises(anthropic.BadRequestError):
        with ant(gw, "wh").messages.stream(model="m", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as s:
            list(s.text_stream)


def test_streamed_request_with_fail_open_webhook_is_masked_by_regex(gw: GatewayProc) -> None:
    with ant(gw, "open").messages.stream(model="m", max_tokens=40,
                                         messages=[{"role": "user", "content": "ssn 123-45-6789"}]) as s:
        text = "".join(s.text_stream)
    assert text.endswith("You said: ssn <SSN>")
    chunks = oai(gw, "open").chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": "ssn 123-45-6789"}])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("ssn <SSN>")
