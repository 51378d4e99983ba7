"""Traces through a real gateway process to real OTLP receivers (gRPC and HTTP) started here.

The upstream is an in-process mock that records request headers, so the `traceparent` the
gateway sends upstream can be checked against the spans the collector received.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import openai
import pytest

from gateway.mock import ThreadedMockProvider
from tests.e2e.harness import GatewayProc, free_port, http
from tests.e2e.otlp_receiver import GrpcReceiver, HttpReceiver

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
# Export batches every 100 ms instead of 5 s, so tests wait less (the batching itself is unchanged).
ENV = {"OTEL_BSP_SCHEDULE_DELAY": "100"}


def config(tracing: str) -> str:
    return f"""
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  tracing:
{tracing}
binds:
- port: $GATEWAY_PORT
  listeners:
  - name: main
    routes:
    - name: openai
      matches:
      - path: {{pathPrefix: /v1/chat/completions}}
      policies:
        backendAuth: {{key: "sk-server-key-abcdef"}}
      backends:
      - ai:
          name: openai
          provider: {{openAI: {{model: gpt-4o-mini}}}}
          hostOverride: "$MOCK_ADDR"
"""


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMockProvider]:
    with ThreadedMockProvider() as m:
        yield m


@pytest.fixture(scope="module")
def grpc_receiver() -> Iterator[GrpcReceiver]:
    r = GrpcReceiver()
    yield r
    r.stop()


def _chat(url: str, headers: dict[str, str] | None = None, stream: bool = False) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0,
                           default_headers=headers or {})
    if stream:
        for _ in client.chat.completions.create(model="x", stream=True,
                                                messages=[{"role": "user", "content": "secret prompt text"}]):
            pass
    else:
        client.chat.completions.create(model="x", messages=[{"role": "user", "content": "secret prompt text"}])


def test_grpc_server_and_client_spans_follow_the_callers_traceparent(
        mock: ThreadedMockProvider, grpc_receiver: GrpcReceiver) -> None:
    tracing = f"    otlpEndpoint: {grpc_receiver.endpoint}\n    randomSampling: true\n"
    gw = GatewayProc(config(tracing), env=ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"})
    try:
        before = len(mock.requests)
        _chat(gw.url, {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
        spans = grpc_receiver.collected.wait_for(2)
    finally:
        gw.stop()
    server = next(s for s in spans if s["kind"] == "SERVER")
    client = next(s for s in spans if s["kind"] == "CLIENT")
    assert server["name"] == "POST /v1/chat/completions"
    assert server["scope"] == "agentgateway"
    assert server["resource"]["service.name"] == "agentgateway"
    assert server["trace_id"] == CLIENT_TRACE and server["parent_span_id"] == CLIENT_SPAN
    assert client["trace_id"] == CLIENT_TRACE and client["parent_span_id"] == server["span_id"]
    attrs = server["attributes"]
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["http.method"] == "POST" and attrs["http.status"] == 200
    assert attrs["route"] == "openai" and attrs["protocol"] == "llm"
    assert client["attributes"]["http.response.status_code"] == 200
    # The upstream saw the CLIENT span as its parent, in the caller's trace.
    sent = mock.requests[before].headers["traceparent"]
    assert sent == f"00-{CLIENT_TRACE}-{client['span_id']}-01"
    assert "secret prompt text" not in repr(spans) and "sk-server-key" not in repr(spans)


def test_http_protocol_path_and_headers_and_new_trace(mock: ThreadedMockProvider) -> None:
    receiver = HttpReceiver()
    tracing = (f"    otlpEndpoint: {receiver.endpoint}\n    otlpProtocol: http\n    randomSampling: 1.0\n"
               "    headers: {x-collector-token: tok123}\n"
               "    fields:\n      add: {team: 'request.headers[\"x-team\"]'}\n      remove: [http.host]\n")
    gw = GatewayProc(config(tracing), env=ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"})
    try:
        _chat(gw.url, {"x-team": "blue"}, stream=True)
        spans = receiver.collected.wait_for(2)
    finally:
        gw.stop()
        receiver.stop()
    assert receiver.paths[0] == "/v1/traces"
    assert receiver.collected.headers[0]["x-collector-token"] == "tok123"
    server = next(s for s in spans if s["kind"] == "SERVER")
    assert server["parent_span_id"] == ""  # no traceparent came in: a new trace
    assert server["attributes"]["team"] == "blue"
    assert "http.host" not in server["attributes"]
    assert server["attributes"]["gen_ai.usage.output_tokens"] > 0


def test_sampling_false_traces_only_sampled_callers_and_passes_others_through(
        mock: ThreadedMockProvider, grpc_receiver: GrpcReceiver) -> None:
    tracing = f"    otlpEndpoint: {grpc_receiver.endpoint}\n    randomSampling: false\n"
    gw = GatewayProc(config(tracing), env=ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"})
    start = len(grpc_receiver.collected.spans)
    unsampled = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
    try:
        _chat(gw.url)  # no traceparent, randomSampling false: not traced
        before = len(mock.requests)
        _chat(gw.url, {"traceparent": unsampled})  # the caller did not sample: kept as is
        assert mock.requests[before].headers["traceparent"] == unsampled
        _chat(gw.url, {"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})  # clientSampling default true
        spans = grpc_receiver.collected.wait_for(start + 2)
    finally:
        gw.stop()
    new = spans[start:]
    assert len(new) == 2 and {s["kind"] for s in new} == {"SERVER", "CLIENT"}


def test_a_down_collector_neither_slows_nor_fails_requests(mock: ThreadedMockProvider) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    gw = GatewayProc(config(f"    otlpEndpoint: {dead}\n    randomSampling: true\n"),
                     env=ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"})
    try:
        started = time.monotonic()
        for _ in range(20):
            r = http("POST", f"{gw.url}/v1/chat/completions",
                     json_body={"model": "x", "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200
        assert time.monotonic() - started < 5.0
    finally:
        code, _ = gw.stop()
    assert code == 0


def test_a_rate_limit_refusal_is_an_event_on_the_server_span(
        mock: ThreadedMockProvider, grpc_receiver: GrpcReceiver) -> None:
    limited = config(f"    otlpEndpoint: {grpc_receiver.endpoint}\n    randomSampling: true\n").replace(
        "        backendAuth:", "        localRateLimit: [{maxTokens: 1, tokensPerFill: 1, fillInterval: 1h}]\n"
        "        backendAuth:")
    gw = GatewayProc(limited, env=ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"})
    start = len(grpc_receiver.collected.spans)
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    try:
        assert http("POST", f"{gw.url}/v1/chat/completions", json_body=body).status_code == 200
        assert http("POST", f"{gw.url}/v1/chat/completions", json_body=body).status_code == 429
        spans = grpc_receiver.collected.wait_for(start + 3)[start:]  # SERVER+CLIENT, then SERVER alone
    finally:
        gw.stop()
    refused = [s for s in spans if s["kind"] == "SERVER" and s["attributes"].get("http.status") == 429]
    assert len(refused) == 1
    assert refused[0]["events"][0][0] == "rate_limit.rejected"
    assert refused[0]["attributes"]["reason"] == "RateLimit"
    assert not any(s["kind"] == "CLIENT" and s["parent_span_id"] == refused[0]["span_id"] for s in spans)
