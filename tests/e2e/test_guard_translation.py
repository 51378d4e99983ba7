"""promptGuard on translated traffic: each official SDK talking to a provider of the other format.

Request guards see the client's format before translation; response guards (regex and webhook)
see the client's format after it, for whole bodies and for streams. The mock echoes the first
40 characters of the user's text, so its reply shows what the provider received.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc
from tests.e2e.test_guard_response_webhook import ResponseWebhook
from tests.e2e.test_prompt_guard import ant, oai

PII = "4111 1111 1111 1111 / 123-45-6789"
MASKED = "<CREDIT_CARD> / <SSN>"
RULES = "{rules: [{builtin: ssn}, {builtin: creditCard}]}"
GUARDS = {
    "request": f"""
            request:
            - regex: {RULES}""",
    "response": f"""
            response:
            - regex: {RULES}""",
    "webhook": """
            response:
            - webhook: {target: {host: "$WEBHOOK_ADDR"}}""",
}


def _route(name: str, client: str, guard: str) -> str:
    # The client's path picks the client format; the provider is always the other one.
    path, provider = (("/v1/chat/completions", "anthropic: {model: claude-haiku-4-5}") if client == "openai"
                      else ("/v1/messages", "openAI: {model: gpt-4o-mini}"))
    return f"""
    - name: {name}-{client}
      matches:
      - path: {{pathPrefix: {path}}}
        headers: [{{name: x-guard, value: {{exact: {name}}}}}]
      policies:
        backendAuth: {{key: server-key}}
        ai:
          promptGuard:{guard}
      backends:
      - ai: {{name: {client}-translated, provider: {{{provider}}}, hostOverride: "$MOCK_ADDR"}}
"""


@pytest.fixture(scope="module")
def webhook() -> Iterator[ResponseWebhook]:
    w = ResponseWebhook()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def gw(mock: MockProc, webhook: ResponseWebhook) -> Iterator[GatewayProc]:
    config = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
""" + "".join(_route(n, c, g) for n, g in GUARDS.items() for c in ("openai", "anthropic"))
    g = GatewayProc(config, env={"MOCK_ADDR": mock.addr, "WEBHOOK_ADDR": webhook.addr})
    yield g
    g.stop()


def _openai(g: GatewayProc, route: str, text: str, stream: bool) -> tuple[str, str]:
    """(answer text, the provider's format as the mock saw it) through the OpenAI SDK."""
    client = oai(g, route)
    if stream:
        chunks = client.chat.completions.create(
            model="m", stream=True, messages=[{"role": "user", "content": text}], extra_headers={"x-mock-chunks": "9"})
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), ""
    raw = client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": text}])
    return raw.parse().choices[0].message.content or "", raw.headers["x-mock-auth-header"]


def _anthropic(g: GatewayProc, route: str, text: str, stream: bool) -> tuple[str, str]:
    client = ant(g, route)
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": text}]
    if stream:
        with client.messages.stream(model="m", max_tokens=60, messages=messages,
                                    extra_headers={"x-mock-chunks": "9"}) as s:
            return "".join(s.text_stream), ""
    raw = client.messages.with_raw_response.create(model="m", max_tokens=60, messages=messages)
    return "".join(b.text for b in raw.parse().content if b.type == "text"), raw.headers["x-mock-auth-header"]


ASK = {"openai": _openai, "anthropic": _anthropic}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", list(ASK))
def test_request_masking_before_translation(gw: GatewayProc, client: str, stream: bool) -> None:
    text, provider_auth = ASK[client](gw, "request", PII, stream)
    assert text.endswith(f"You said: {MASKED}")  # the provider only ever saw the masks
    if not stream:  # the other format's wire reached the mock
        assert provider_auth == ("x-api-key" if client == "openai" else "authorization")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", list(ASK))
def test_response_masking_after_translation(gw: GatewayProc, client: str, stream: bool) -> None:
    text, _ = ASK[client](gw, "response", PII, stream)
    assert text.endswith(f"You said: {MASKED}")
    assert "4111" not in text and "6789" not in text


@pytest.mark.parametrize("client", list(ASK))
def test_response_webhook_sees_the_translated_answer(gw: GatewayProc, webhook: ResponseWebhook, client: str) -> None:
    text, _ = ASK[client](gw, "webhook", "please MASK-ME now", False)
    assert text.endswith("You said: please [hidden] now")
    path, body = webhook.seen[-1]
    assert path == "/response"
    assert json.dumps(body["body"]["choices"][0]["message"]["content"]).count("MASK-ME") == 1


def test_streamed_translated_request_with_response_webhook_is_refused(gw: GatewayProc) -> None:
    with pytest.raises(openai.BadRequestError):
        _openai(gw, "webhook", "hi", True)
