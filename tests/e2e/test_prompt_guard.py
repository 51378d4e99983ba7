"""promptGuard through a real gateway process, the mock provider and the official SDKs.

The mock's reply echoes the first 40 characters of the last user message, so the reply shows
what the provider received (request guards) or what the gateway let through (response guards).
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, http

PII = "4111 1111 1111 1111 / 123-45-6789"  # card + SSN, within the echoed 40 characters


def _route(name: str, kind: str, guard: str) -> str:
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
{guard}
      backends:
      - ai: {{name: {kind}, provider: {{{provider}}}, hostOverride: "$MOCK_ADDR"}}
"""


GUARDS = {
    "mask": """
            request:
            - regex: {rules: [{builtin: ssn}, {builtin: creditCard}]}
""",
    "reject": """
            request:
            - regex: {action: reject, rules: [{builtin: ssn}]}
""",
    "response": """
            response:
            - regex: {labels: seed, rules: [{builtin: ssn}, {builtin: creditCard}]}
""",
    "respreject": """
            response:
            - regex: {action: reject, rules: [{builtin: ssn}]}
""",
}
CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
""" + "".join(_route(name, kind, guard) for name, guard in GUARDS.items() for kind in ("openai", "anthropic"))


@pytest.fixture(scope="module")
def guarded(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def oai(g: GatewayProc, route: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0, default_headers={"x-guard": route})


def ant(g: GatewayProc, route: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=g.url, api_key="k", max_retries=0, default_headers={"x-guard": route})


def test_request_mask_provider_never_sees_pii_openai(guarded: GatewayProc) -> None:
    reply = oai(guarded, "mask").chat.completions.create(
        model="m", messages=[{"role": "user", "content": PII}]).choices[0].message.content
    assert reply is not None and reply.endswith("You said: <CREDIT_CARD> / <SSN>")


def test_request_mask_provider_never_sees_pii_anthropic_stream(guarded: GatewayProc) -> None:
    with ant(guarded, "mask").messages.stream(model="m", max_tokens=50,
                                              messages=[{"role": "user", "content": PII}]) as s:
        text = "".join(s.text_stream)
    assert text.endswith("You said: <CREDIT_CARD> / <SSN>")


def test_reject_openai_sdk_permission_denied(guarded: GatewayProc) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        oai(guarded, "reject").chat.completions.create(model="m", messages=[{"role": "user", "content": PII}])
    assert info.value.status_code == 403
    # agentgateway's plain body, as is (the SDK keeps it on the response)
    assert info.value.response.text == "The request was rejected due to inappropriate content"


def test_reject_anthropic_sdk_permission_denied(guarded: GatewayProc) -> None:
    with pytest.raises(anthropic.PermissionDeniedError):
        ant(guarded, "reject").messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": PII}])


def test_reject_lets_clean_prompts_through(guarded: GatewayProc) -> None:
    reply = oai(guarded, "reject").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "order 20240115123045"}]).choices[0].message.content
    assert reply is not None and reply.endswith("order 20240115123045")


def test_response_mask_buffered(guarded: GatewayProc) -> None:
    reply = oai(guarded, "response").chat.completions.create(
        model="m", messages=[{"role": "user", "content": PII}]).choices[0].message.content
    assert reply is not None and reply.endswith("You said: [CARD-REDACTED] / [SSN-REDACTED]")


@pytest.mark.parametrize("chunks", ["3", "7", "60"])
def test_response_mask_openai_stream_split_entities(guarded: GatewayProc, chunks: str) -> None:
    stream = oai(guarded, "response").chat.completions.create(
        model="m", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": PII}], extra_headers={"x-mock-chunks": chunks})
    parts = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(parts).endswith("You said: [CARD-REDACTED] / [SSN-REDACTED]")
    assert not any("4111" in p or "6789" in p for p in parts)


@pytest.mark.parametrize("chunks", ["2", "11", "60"])
def test_response_mask_anthropic_stream_split_entities(guarded: GatewayProc, chunks: str) -> None:
    with ant(guarded, "response").messages.stream(
            model="m", max_tokens=50, messages=[{"role": "user", "content": PII}],
            extra_headers={"x-mock-chunks": chunks}) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text.endswith("You said: [CARD-REDACTED] / [SSN-REDACTED]")
    assert final.content[0].text == text  # the SDK's accumulated message agrees with the deltas


def test_detection_metrics_count_types_not_values(guarded: GatewayProc) -> None:
    oai(guarded, "mask").chat.completions.create(model="m", messages=[{"role": "user", "content": PII}])
    status, body = guarded.get(guarded.stats_port, "/metrics")
    text = body.decode()
    assert status == 200
    assert 'agentgateway_guardrail_checks_total{action="Mask",phase="Request"}' in text
    assert 'entity="CREDIT_CARD"' in text and 'entity="SSN"' in text
    assert "4111" not in text and "6789" not in text


def test_plain_http_client_sees_masked_json(guarded: GatewayProc) -> None:
    r = http("POST", f"{guarded.url}/v1/messages", headers={"x-guard": "response"}, json_body={
        "model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": PII}]})
    assert r.status_code == 200
    assert r.json()["content"][0]["text"].endswith("[CARD-REDACTED] / [SSN-REDACTED]")


def test_response_reject_buffered_is_403(guarded: GatewayProc) -> None:
    with pytest.raises(openai.PermissionDeniedError):
        oai(guarded, "respreject").chat.completions.create(model="m", messages=[{"role": "user", "content": PII}])


def test_response_reject_mid_stream_ends_with_sdk_error(guarded: GatewayProc) -> None:
    stream = oai(guarded, "respreject").chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": PII}])
    seen: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            seen += [c.delta.content or "" for c in chunk.choices]
    assert "rejected due to inappropriate content" in str(info.value)
    assert "6789" not in "".join(seen)


def test_response_reject_mid_stream_anthropic(guarded: GatewayProc) -> None:
    with pytest.raises(anthropic.APIStatusError) as info, ant(guarded, "respreject").messages.stream(
            model="m", max_tokens=50, messages=[{"role": "user", "content": PII}]) as s:
        "".join(s.text_stream)
    assert "rejected due to inappropriate content" in str(info.value)
