"""`frontendPolicies.tracing` through a real gateway process to real OTLP receivers, alone and
together with `config.tracing` (the policy decides the collector; see README "Observability")."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway.mock import ThreadedMockProvider
from tests.e2e.harness import GatewayProc
from tests.e2e.otlp_receiver import GrpcReceiver, HttpReceiver
from tests.e2e.test_observability_tracing import ENV, _chat


def config(front: str, legacy: str = "", backends: str = "") -> str:
    return f"""
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
{legacy}
{backends}
frontendPolicies:
  tracing:
{front}
binds:
- port: $GATEWAY_PORT
  listeners:
  - name: main
    routes:
    - name: openai
      matches:
      - path: {{pathPrefix: /v1/chat/completions}}
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


def _env(mock: ThreadedMockProvider) -> dict[str, str]:
    return ENV | {"MOCK_ADDR": f"127.0.0.1:{mock.port}"}


def test_grpc_host_with_attributes_remove_and_resources(mock: ThreadedMockProvider) -> None:
    receiver = GrpcReceiver()
    front = (f"    host: 127.0.0.1:{receiver.port}\n    randomSampling: true\n"
             "    attributes: {team: 'request.headers[\"x-team\"]', gen_ai.usage.prompt_tokens: '\"remapped\"'}\n"
             "    remove: [http.host, src.addr]\n"
             "    resources: {service.name: '\"llm-edge\"', deployment.environment: '\"test\"'}\n")
    gw = GatewayProc(config(front), env=_env(mock))
    try:
        _chat(gw.url, {"x-team": "blue"})
        spans = receiver.collected.wait_for(2)
    finally:
        gw.stop()
        receiver.stop()
    server = next(s for s in spans if s["kind"] == "SERVER")
    assert server["resource"]["service.name"] == "llm-edge"
    assert server["resource"]["deployment.environment"] == "test"
    attrs = server["attributes"]
    assert attrs["team"] == "blue" and attrs["gen_ai.usage.prompt_tokens"] == "remapped"
    assert "http.host" not in attrs and "src.addr" not in attrs
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert any(s["kind"] == "CLIENT" and s["parent_span_id"] == server["span_id"] for s in spans)


def test_http_backend_reference_path_and_keep_filter(mock: ThreadedMockProvider) -> None:
    receiver = HttpReceiver()
    backends = f"backends:\n- name: otel\n  host: 127.0.0.1:{receiver.port}\n"
    front = ("    backend: otel\n    protocol: http\n    path: /otlp/v1/traces\n    randomSampling: true\n"
             "    filter: 'request.headers[\"x-trace-me\"] == \"yes\"'\n")
    gw = GatewayProc(config(front, backends=backends), env=_env(mock))
    try:
        _chat(gw.url)  # sampled, but the filter does not keep it: neither span is exported
        _chat(gw.url, {"x-trace-me": "no"})
        _chat(gw.url, {"x-trace-me": "yes"})
        spans = receiver.collected.wait_for(2)
        time.sleep(0.5)  # longer than the export interval: anything else queued would have arrived
    finally:
        gw.stop()
        receiver.stop()
    spans = receiver.collected.spans
    assert sorted(s["kind"] for s in spans) == ["CLIENT", "SERVER"]
    assert set(receiver.paths) == {"/otlp/v1/traces"}
    server = next(s for s in spans if s["kind"] == "SERVER")
    client = next(s for s in spans if s["kind"] == "CLIENT")
    assert client["parent_span_id"] == server["span_id"]


def test_with_config_tracing_the_policy_picks_the_collector_and_inherits_sampling_and_fields(
        mock: ThreadedMockProvider) -> None:
    legacy_rx, policy_rx = GrpcReceiver(), GrpcReceiver()
    legacy = (f"  tracing:\n    otlpEndpoint: {legacy_rx.endpoint}\n    randomSampling: true\n"
              "    headers: {x-legacy-token: legacy-secret}\n"
              "    fields: {add: {legacy.field: '\"from-config\"'}}\n")
    front = f"    host: 127.0.0.1:{policy_rx.port}\n    attributes: {{policy.field: '\"from-policy\"'}}\n"
    gw = GatewayProc(config(front, legacy=legacy), env=_env(mock))
    try:
        _chat(gw.url)  # no traceparent: sampled by config.tracing's randomSampling (the policy sets none)
        spans = policy_rx.collected.wait_for(2)
        time.sleep(0.5)
    finally:
        gw.stop()
        legacy_rx.stop()
        policy_rx.stop()
    assert legacy_rx.collected.spans == []
    server = next(s for s in spans if s["kind"] == "SERVER")
    assert server["attributes"]["legacy.field"] == "from-config"
    assert server["attributes"]["policy.field"] == "from-policy"
    # config.tracing's collector credentials are not sent to another collector.
    assert all("x-legacy-token" not in h for h in policy_rx.collected.headers)


def test_policy_sampling_overrides_config_tracing(mock: ThreadedMockProvider) -> None:
    legacy_rx, policy_rx = GrpcReceiver(), GrpcReceiver()
    legacy = f"  tracing:\n    otlpEndpoint: {legacy_rx.endpoint}\n    randomSampling: true\n"
    front = f"    host: 127.0.0.1:{policy_rx.port}\n    randomSampling: false\n    clientSampling: false\n"
    gw = GatewayProc(config(front, legacy=legacy), env=_env(mock))
    try:
        _chat(gw.url)
        _chat(gw.url, {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        time.sleep(0.6)  # several export intervals
    finally:
        gw.stop()
        legacy_rx.stop()
        policy_rx.stop()
    assert policy_rx.collected.spans == [] and legacy_rx.collected.spans == []
