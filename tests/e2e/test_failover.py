"""Failover with no health or retry policy configured: a primary that fails before any byte reached
the client is retried on the fallback within the same request, then ejected until its cool-down
ends. The client controls the primary's faults with the mock's x-mock-* headers; the fallback's
backend policy removes them, so only the primary fails."""

from __future__ import annotations

import http.client as http_client
import re
import time
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, free_port, http, stream_chunks

CONFIG = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: chat
      policies:
        backendAuth: {key: server-key}
        timeout: {backendRequestTimeout: 1s}
      backends:
      - ai: {name: primary, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$PRIMARY"}
        policies: {responseHeaderModifier: {set: {x-served-by: primary}}}
      - ai: {name: fallback, provider: {openAI: {model: gpt-4o-mini}}, hostOverride: "$FALLBACK"}
        policies:
          requestHeaderModifier: {remove: [x-mock-status, x-mock-reset, x-mock-delay-ms, x-mock-retry-after]}
          responseHeaderModifier: {set: {x-served-by: fallback}}
"""


@pytest.fixture(scope="module")
def fallback() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


@pytest.fixture()
def gw(mock: MockProc, fallback: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"PRIMARY": mock.addr, "FALLBACK": fallback.addr})
    yield g
    g.stop()


def chat(gw: GatewayProc, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    r = http("POST", f"{gw.url}/v1/chat/completions", headers=headers,
             json_body={"model": "m", "messages": [{"role": "user", "content": "hi there"}]})
    return r.status_code, r.headers.get("x-served-by", ""), r.headers


def retries(gw: GatewayProc) -> float:
    _, body = gw.get(gw.stats_port, "/metrics")
    return sum(float(v) for v in re.findall(r"^agentgateway_retries_total\{[^}]*\} (\S+)$", body.decode(), re.M))


@pytest.mark.parametrize("fault", [
    {"x-mock-status": "500"},
    {"x-mock-status": "503"},
    {"x-mock-status": "429", "x-mock-retry-after": "30"},
    {"x-mock-reset": "before-response"},
    {"x-mock-delay-ms": "3000"},  # longer than backendRequestTimeout: an attempt timeout
], ids=["500", "503", "429", "reset", "timeout"])
def test_each_failure_kind_fails_over_once(gw: GatewayProc, fault: dict[str, str]) -> None:
    assert chat(gw)[:2] == (200, "primary")
    status, served_by, _ = chat(gw, fault)
    assert (status, served_by) == (200, "fallback")
    assert retries(gw) == 1
    # Ejected: the next request goes straight to the fallback, without a failed attempt first.
    assert chat(gw)[:2] == (200, "fallback")
    assert retries(gw) == 1


def test_connection_refused_fails_over(fallback: MockProc) -> None:
    g = GatewayProc(CONFIG, env={"PRIMARY": f"127.0.0.1:{free_port()}", "FALLBACK": fallback.addr})
    try:
        client = openai.OpenAI(base_url=f"{g.url}/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=[{"role": "user", "content": "primary is down"}])
        assert raw.headers["x-served-by"] == "fallback"
        assert "primary is down" in (raw.parse().choices[0].message.content or "")
        assert retries(g) == 1
    finally:
        g.stop()


def test_recovery_after_retry_after_cooldown(gw: GatewayProc) -> None:
    assert chat(gw, {"x-mock-status": "429", "x-mock-retry-after": "1"})[:2] == (200, "fallback")
    assert chat(gw)[1] == "fallback"  # cooling down for the 1 s the provider asked for
    time.sleep(1.2)
    assert chat(gw)[1] == "primary"  # the half-open trial succeeded: back in rotation
    assert chat(gw)[1] == "primary"
    assert retries(gw) == 1


def test_failed_trial_ejects_again(gw: GatewayProc) -> None:
    chat(gw, {"x-mock-status": "429", "x-mock-retry-after": "1"})
    time.sleep(1.2)
    assert chat(gw, {"x-mock-status": "500"})[:2] == (200, "fallback")  # the trial failed over
    assert retries(gw) == 2
    assert chat(gw)[1] == "fallback"


def test_no_failover_after_first_streamed_byte(gw: GatewayProc) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a long answer please"}]}
    got = b""
    with pytest.raises(http_client.IncompleteRead):  # the stream is cut, not silently restarted
        for chunk in stream_chunks(f"{gw.url}/v1/chat/completions", body,
                                   {"x-mock-reset": "mid-stream", "x-mock-chunks": "8"}):
            got += chunk
    assert b"data:" in got and b"[DONE]" not in got  # the client saw the primary's broken stream
    assert retries(gw) == 0


def test_streaming_request_fails_over_before_first_byte(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    chunks = list(client.chat.completions.create(
        model="m", stream=True, messages=[{"role": "user", "content": "stream me"}],
        extra_headers={"x-mock-status": "502"}))
    assert "stream me" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert retries(gw) == 1


def test_every_candidate_failing_returns_the_last_error() -> None:
    g = GatewayProc(CONFIG, env={"PRIMARY": f"127.0.0.1:{free_port()}", "FALLBACK": f"127.0.0.1:{free_port()}"})
    try:
        r = http("POST", f"{g.url}/v1/chat/completions",
                 json_body={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 503
        assert "upstream call failed" in r.text
        assert retries(g) == 1  # one retry, not a loop
        # Both ejected: the next request still tries one of them rather than refusing outright.
        r = http("POST", f"{g.url}/v1/chat/completions",
                 json_body={"model": "m", "messages": [{"role": "user", "content": "x"}]})
        assert r.status_code == 503 and retries(g) == 1
    finally:
        g.stop()


def tuned(route_policies: str, primary_policies: str) -> str:
    return CONFIG.replace("        timeout: {backendRequestTimeout: 1s}\n",
                          f"        timeout: {{backendRequestTimeout: 1s}}\n{route_policies}").replace(
        "        policies: {responseHeaderModifier: {set: {x-served-by: primary}}}\n",
        "        policies:\n          responseHeaderModifier: {set: {x-served-by: primary}}\n" + primary_policies)


def test_retry_attempts_one_turns_failover_off(mock: MockProc, fallback: MockProc) -> None:
    g = GatewayProc(tuned("        retry: {attempts: 1, codes: [503]}\n", ""),
                    env={"PRIMARY": mock.addr, "FALLBACK": fallback.addr})
    try:
        assert chat(g, {"x-mock-status": "500"})[:2] == (500, "primary")
        assert retries(g) == 0
    finally:
        g.stop()


def test_retry_codes_and_attempts_repeat_a_single_provider(mock: MockProc, fallback: MockProc) -> None:
    g = GatewayProc(tuned("        retry: {attempts: 4, codes: [418], backoff: 10ms}\n", ""),
                    env={"PRIMARY": mock.addr, "FALLBACK": fallback.addr})
    try:
        # 418 is in codes: primary, fallback, primary, fallback -- the fallback answers the second attempt.
        assert chat(g, {"x-mock-status": "418"})[:2] == (200, "fallback")
        assert retries(g) == 1
        assert chat(g, {"x-mock-status": "500"})[:2] == (500, "primary")  # 500 is not in codes: no retry
        assert retries(g) == 1
    finally:
        g.stop()


def test_health_expression_and_consecutive_failures(mock: MockProc, fallback: MockProc) -> None:
    health = ("          health:\n            unhealthyExpression: 'response.code >= 500'\n"
              "            eviction: {duration: 30s, consecutiveFailures: 2}\n")
    g = GatewayProc(tuned("", health), env={"PRIMARY": mock.addr, "FALLBACK": fallback.addr})
    try:
        assert chat(g, {"x-mock-status": "500"})[:2] == (200, "fallback")
        assert chat(g)[1] == "primary"  # one failure of the two needed: still in rotation
        # A success resets the count: two failures in a row are needed again.
        assert chat(g, {"x-mock-status": "503"})[1] == "fallback"
        assert chat(g, {"x-mock-status": "503"})[1] == "fallback"
        assert chat(g)[1] == "fallback"  # evicted for 30s
        assert retries(g) == 3
    finally:
        g.stop()
