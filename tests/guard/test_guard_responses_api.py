"""Request guards on the Responses API `input`/`instructions`, embeddings `input` and legacy `prompt`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import pytest

from gateway.config.model_guard import RegexGuard
from gateway.fastpath import PII_ALL
from gateway.policies.guard_body import rewrite_request, rewrite_response
from gateway.policies.guard_engine import Detections, apply_guards
from tests.e2e.harness import GatewayProc
from tests.e2e.test_prompt_guard_webhook import Webhook

SSN = "123-45-6789"


def _mask(body: dict[str, Any], scope: tuple[str, ...] = RegexGuard.scope) -> bool:
    guards = (RegexGuard(kinds=PII_ALL, scope=scope),)

    def rewrite(text: str, where: str) -> str:
        return apply_guards(text, guards, Detections()) if where in scope else text

    return rewrite_request(body, rewrite)


def test_responses_input_items_by_scope() -> None:
    body: dict[str, Any] = {"model": "m", "instructions": f"sys {SSN}", "input": [
        {"role": "user", "content": f"plain {SSN}"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"part {SSN}"}]},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": json.dumps({"ssn": SSN})},
        {"type": "function_call_output", "call_id": "c", "output": f"result {SSN}"},
    ]}
    assert _mask(body)
    assert body["instructions"] == "sys <SSN>"
    assert body["input"][0]["content"] == "plain <SSN>"
    assert body["input"][1]["content"][0]["text"] == "part <SSN>"
    assert SSN in body["input"][2]["arguments"] and SSN in body["input"][3]["output"]  # not in default scope
    assert _mask(body, ("toolInput", "toolOutput"))
    assert json.loads(body["input"][2]["arguments"]) == {"ssn": "<SSN>"}
    assert body["input"][3]["output"] == "result <SSN>"


def test_string_input_and_legacy_prompt() -> None:
    body: dict[str, Any] = {"model": "m", "input": f"hi {SSN}"}
    assert _mask(body) and body["input"] == "hi <SSN>"
    body = {"model": "m", "prompt": [f"a {SSN}", "clean", [1, 2, 3]]}
    assert _mask(body) and body["prompt"] == ["a <SSN>", "clean", [1, 2, 3]]
    untouched: dict[str, Any] = {"model": "m", "input": ["nothing here"], "prompt": "none"}
    assert not _mask(untouched)


class Recorder:
    """A stand-in provider that keeps every request body it gets and answers a fixed JSON."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                outer.bodies.append((self.path, json.loads(self.rfile.read(int(self.headers["content-length"])))))
                data = json.dumps(ANSWER).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"


CONFIG = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: webhook
      matches: [{path: {pathPrefix: /}, headers: [{name: x-guard, value: {exact: wh}}]}]
      policies:
        ai:
          promptGuard:
            request:
            - webhook: {target: {host: "$WEBHOOK_ADDR"}}
      backends:
      - ai: {name: gpt, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$UP_ADDR"}
    - name: guarded
      policies:
        ai:
          promptGuard:
            request:
            - regex: {rules: [{builtin: ssn}]}
            response:
            - regex: {rules: [{builtin: ssn}]}
      backends:
      - ai: {name: gpt, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$UP_ADDR"}
"""
# A Responses API answer (the recorder always gives it) with an SSN in its output text.
ANSWER = {"id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-4o-mini", "status": "completed",
          "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": f"your ssn {SSN}", "annotations": []}]}],
          "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[GatewayProc, Recorder, Webhook]]:
    rec, hook = Recorder(), Webhook()
    g = GatewayProc(CONFIG, env={"UP_ADDR": rec.addr, "WEBHOOK_ADDR": hook.addr})
    yield g, rec, hook
    g.stop()
    hook.stop()
    rec.server.shutdown()
    rec.server.server_close()


Setup = tuple[GatewayProc, Recorder, Webhook]


def test_responses_api_input_is_masked_before_the_provider(setup: Setup) -> None:
    g, rec, _ = setup
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0)
    raw = client.responses.with_raw_response.create(
        model="gpt-4o-mini", instructions=f"ssn {SSN}",
        input=[{"role": "user", "content": [{"type": "input_text", "text": f"my ssn is {SSN}"}]}])
    assert raw.status_code == 200
    path, body = rec.bodies[-1]
    assert path.endswith("/responses") and SSN not in json.dumps(body)
    assert body["input"][0]["content"][0]["text"] == "my ssn is <SSN>" and body["instructions"] == "ssn <SSN>"


def test_legacy_completions_prompt_is_masked(setup: Setup) -> None:
    g, rec, _ = setup
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0)
    raw = client.completions.with_raw_response.create(model="gpt-4o-mini", prompt=f"my ssn is {SSN}")
    assert raw.status_code == 200
    path, body = rec.bodies[-1]
    assert path.endswith("/completions") and body["prompt"] == "my ssn is <SSN>"


def test_responses_api_answer_is_masked(setup: Setup) -> None:
    g, _, _ = setup
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0)
    assert client.responses.create(model="gpt-4o-mini", input="hi").output_text == "your ssn <SSN>"


def test_request_webhook_sees_responses_input_and_masks_it(setup: Setup) -> None:
    g, rec, hook = setup
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0, default_headers={"x-guard": "wh"})
    client.responses.with_raw_response.create(model="gpt-4o-mini", instructions="be brief", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "my MASK-ME here"}]}])
    assert hook.seen[-1][2] == {"body": {"messages": [{"role": "system", "content": "be brief"},
                                                      {"role": "user", "content": "my MASK-ME here"}]}}
    assert rec.bodies[-1][1]["input"][0]["content"] == [{"type": "input_text", "text": "my [hidden] here"}]


def test_rewrite_response_covers_responses_output() -> None:
    answer = json.loads(json.dumps(ANSWER))
    answer["output"].append({"type": "function_call", "call_id": "c", "name": "f", "arguments": f'"{SSN}"'})
    guards = (RegexGuard(kinds=PII_ALL),)
    assert rewrite_response(answer, lambda t, where: apply_guards(t, guards, Detections()) if where == "messages"
                            else t)
    assert answer["output"][0]["content"][0]["text"] == "your ssn <SSN>"
    assert answer["output"][1]["arguments"] == f'"{SSN}"'  # toolInput is not in this guard's scope


def test_embeddings_input_is_masked(setup: Setup) -> None:
    g, rec, _ = setup
    client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="k", max_retries=0)
    client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=[f"ssn {SSN}", "plain"],
                                               encoding_format="float")
    path, body = rec.bodies[-1]
    assert path.endswith("/embeddings") and body["input"] == ["ssn <SSN>", "plain"]
