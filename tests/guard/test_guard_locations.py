"""Request and buffered-response masking in every content location of both formats.

Drives the promptGuard policy (on_request, response_filter) on real Exchange objects with
guards lowered from YAML by the real loader.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import orjson
import pytest

from gateway.config import load_config_text
from gateway.config.model import Route
from gateway.errors import ClientFormat, GuardRejected, render
from gateway.policies.base import Exchange
from gateway.policies.prompt_guard import PromptGuardPolicy, build

SSN, CARD, MAIL = "123-45-6789", "4111 1111 1111 1111", "jane.doe@example.com"


def route_with(guard_yaml: str) -> Route:
    text = f"""
binds:
- port: 3000
  listeners:
  - routes:
    - backends:
      - ai: {{name: openai, provider: {{openAI: {{model: gpt-4o-mini}}}}}}
      policies:
        ai:
          promptGuard:
{guard_yaml}
"""
    cfg = load_config_text(text, "config.yaml", {})
    return cfg.binds[0].listeners[0].routes[0]


MASK_ALL = """
            request:
            - regex:
                rules: [{builtin: ssn}, {builtin: creditCard}, {builtin: email}, {pattern: "secret-[0-9]+"}]
              scope: [systemPrompt, messages, toolOutput, toolInput]
            response:
            - regex:
                labels: seed
                rules: [{builtin: ssn}, {builtin: creditCard}]
"""


class _Services:
    config = None
    metrics = None


def policy(guard_yaml: str) -> PromptGuardPolicy:
    p = build(route_with(guard_yaml), _Services())  # type: ignore[arg-type]
    assert isinstance(p, PromptGuardPolicy)
    return p


def run_request(p: PromptGuardPolicy, body: dict[str, Any]) -> Exchange:
    ex = Exchange(None, 0.0)  # type: ignore[arg-type]
    ex.body = body
    asyncio.run(p.on_request(ex))
    return ex


OPENAI_BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": f"Customer email {MAIL}"},
        {"role": "developer", "content": [{"type": "text", "text": f"card {CARD}"}]},
        {"role": "user", "content": f"My SSN is {SSN}"},
        {"role": "user", "content": [{"type": "text", "text": f"and secret-42 {SSN}"},
                                     {"type": "image_url", "image_url": {"url": "http://x/123-45-6789"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": f'{{"ssn": "{SSN}"}}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"record for {MAIL}"},
    ],
}
ANTHROPIC_BODY = {
    "model": "m",
    "max_tokens": 10,
    "system": [{"type": "text", "text": f"Customer card {CARD}"}],
    "messages": [
        {"role": "user", "content": f"SSN {SSN}"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "looking up"},
            {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": {"email": MAIL}, "n": 3}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": f"card {CARD}"}]},
            {"type": "text", "text": f"thanks, mail {MAIL}"}]},
    ],
}


def test_openai_every_location_masked() -> None:
    body = copy.deepcopy(OPENAI_BODY)
    ex = run_request(policy(MASK_ALL), body)
    assert ex.body_changed
    dumped = orjson.dumps(body).decode()
    for value in (SSN, CARD, MAIL, "secret-42"):
        assert value not in dumped.replace("http://x/123-45-6789", "")
    msgs = body["messages"]
    assert msgs[0]["content"] == "Customer email <EMAIL_ADDRESS>"
    assert msgs[1]["content"][0]["text"] == "card <CREDIT_CARD>"
    assert msgs[2]["content"] == "My SSN is <SSN>"
    assert msgs[3]["content"][0]["text"] == "and <masked> <SSN>"
    assert msgs[3]["content"][1]["image_url"]["url"] == "http://x/123-45-6789"  # not text: untouched
    assert orjson.loads(msgs[4]["tool_calls"][0]["function"]["arguments"]) == {"ssn": "<SSN>"}
    assert msgs[5]["content"] == "record for <EMAIL_ADDRESS>"


def test_anthropic_every_location_masked() -> None:
    body = copy.deepcopy(ANTHROPIC_BODY)
    ex = run_request(policy(MASK_ALL), body)
    assert ex.body_changed
    assert body["system"][0]["text"] == "Customer card <CREDIT_CARD>"
    assert body["messages"][0]["content"] == "SSN <SSN>"
    assert body["messages"][1]["content"][1]["input"] == {"q": {"email": "<EMAIL_ADDRESS>"}, "n": 3}
    assert body["messages"][2]["content"][0]["content"][0]["text"] == "card <CREDIT_CARD>"
    assert body["messages"][2]["content"][1]["text"] == "thanks, mail <EMAIL_ADDRESS>"


def test_default_scope_leaves_tool_texts_alone() -> None:
    body = copy.deepcopy(ANTHROPIC_BODY)
    run_request(policy("""
            request:
            - regex:
                rules: [{builtin: creditCard}, {builtin: email}]
"""), body)
    assert body["system"][0]["text"] == "Customer card <CREDIT_CARD>"  # systemPrompt: default scope
    assert body["messages"][1]["content"][1]["input"] == {"q": {"email": MAIL}, "n": 3}  # toolInput
    assert body["messages"][2]["content"][0]["content"][0]["text"] == f"card {CARD}"  # toolOutput


def test_unchanged_body_is_not_marked_changed() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "order 20240115123045 shipped"}]}
    ex = run_request(policy(MASK_ALL), body)
    assert not ex.body_changed
    assert body["messages"][0]["content"] == "order 20240115123045 shipped"


def test_reject_renders_configured_response_in_every_format() -> None:
    p = policy("""
            request:
            - regex:
                action: reject
                rules: [{builtin: ssn}]
              rejection:
                status: 400
                body: '{"error": "no PII"}'
                headers: {set: {content-type: application/json}, add: {x-why: pii}}
""")
    with pytest.raises(GuardRejected) as info:
        run_request(p, {"messages": [{"role": "user", "content": f"ssn {SSN}"}]})
    for fmt in ClientFormat:
        status, headers, body = render(info.value, fmt)
        assert (status, body) == (400, b'{"error": "no PII"}')
        assert (b"content-type", b"application/json") in headers and (b"x-why", b"pii") in headers


def test_reject_default_is_agentgateway_403_plain_body() -> None:
    p = policy("""
            request:
            - regex: {action: reject, rules: [{builtin: email}]}
""")
    with pytest.raises(GuardRejected) as info:
        run_request(p, {"messages": [{"role": "user", "content": f"mail {MAIL}"}]})
    status, headers, body = render(info.value, ClientFormat.OPENAI)
    assert (status, headers, body) == (403, [], b"The request was rejected due to inappropriate content")


def _filter_body(p: PromptGuardPolicy, body: bytes) -> bytes:
    ex = run_request(p, {"messages": []})
    f = p.response_filter(ex)
    assert f is not None
    return f.feed(body) + f.flush()


def test_buffered_openai_response_masked_with_seed_labels() -> None:
    resp = {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": f"SSN {SSN}, {CARD}"}}]}
    out = orjson.loads(_filter_body(policy(MASK_ALL), orjson.dumps(resp)))
    assert out["choices"][0]["message"]["content"] == "SSN [SSN-REDACTED], [CARD-REDACTED]"
    assert out["id"] == "x"


def test_buffered_anthropic_response_masked() -> None:
    resp = {"type": "message", "content": [{"type": "text", "text": f"card {CARD}"}], "usage": {"input_tokens": 1}}
    out = orjson.loads(_filter_body(policy(MASK_ALL), orjson.dumps(resp)))
    assert out["content"][0]["text"] == "card [CARD-REDACTED]"
    assert out["usage"] == {"input_tokens": 1}


def test_buffered_response_without_pii_is_forwarded_byte_for_byte() -> None:
    raw = b'{"choices": [{"message": {"content": "fine"}}],   "x": 1}'
    assert _filter_body(policy(MASK_ALL), raw) == raw
