"""Upstream failures as a client sees them: refused connections, timeouts, broken streams, disconnects."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from http.client import IncompleteRead

import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc, free_port, http, stream_chunks

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: dead-llm
      matches: [{path: {pathPrefix: /dead}}]
      backends:
      - ai: {name: dead, provider: {openAI: {}}, hostOverride: "127.0.0.1:$DEAD_PORT"}
    - name: dead-plain
      matches: [{path: {pathPrefix: /plain-dead}}]
      backends: [{host: "127.0.0.1:$DEAD_PORT"}]
    - name: slow
      matches: [{path: {pathPrefix: /slow}}]
      policies:
        timeout: {backendRequestTimeout: 300ms}
      backends:
      - ai: {name: slow, provider: {openAI: {}}, hostOverride: "$MOCK_ADDR"}
    - name: llm
      backends:
      - ai: {name: mock, provider: {openAI: {}}, hostOverride: "$MOCK_ADDR"}
"""


@pytest.fixture(scope="module")
def gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr, "DEAD_PORT": str(free_port())})
    yield g
    g.stop()


def test_refused_upstream_is_503_in_openai_shape(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/dead/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 503
    assert "upstream call failed" in err.value.message


def test_refused_plain_upstream_is_agentgateway_text(gw: GatewayProc) -> None:
    r = http("GET", f"{gw.url}/plain-dead/x")
    assert r.status_code == 503
    assert r.text.startswith("upstream call failed")


def test_backend_timeout_is_504(gw: GatewayProc) -> None:
    r = http("POST", f"{gw.url}/slow/v1/chat/completions", headers={"x-mock-delay-ms": "2000"},
             json_body={"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 504
    assert r.json()["error"]["message"] == "upstream call timeout"


def test_upstream_reset_mid_stream_truncates_the_client_stream(gw: GatewayProc) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello there"}]}
    chunks: list[bytes] = []
    # The client must see a broken stream (no final chunk), never a clean end it would trust.
    with pytest.raises(IncompleteRead):
        for chunk in stream_chunks(f"{gw.url}/v1/chat/completions", body,
                                   {"x-mock-reset": "mid-stream", "x-mock-chunks": "20"}):
            chunks.append(chunk)
    data = b"".join(chunks)
    assert b"data: " in data and b"[DONE]" not in data
    # The gateway stays healthy afterwards.
    r = http("POST", f"{gw.url}/v1/chat/completions", json_body={"model": "m", "messages": [{"role": "user",
                                                                                              "content": "x"}]})
    assert r.status_code == 200


def test_client_disconnect_mid_stream_leaves_the_gateway_serving(gw: GatewayProc) -> None:
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", gw.port))
        payload = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"bye"}]}'
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                  b"x-mock-latency-ms: 100\r\nx-mock-chunks: 30\r\ncontent-length: "
                  + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        assert s.recv(1024).startswith(b"HTTP/1.1 200")
        s.close()
    time.sleep(0.3)
    r = http("POST", f"{gw.url}/v1/chat/completions", json_body={"model": "m", "messages": [{"role": "user",
                                                                                              "content": "x"}]})
    assert r.status_code == 200


def test_malformed_http_gets_400_and_close(gw: GatewayProc) -> None:
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"NOT-HTTP garbage\r\n\r\n")
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 400")
        assert s.recv(4096) == b""  # closed


def test_oversized_body_is_413_before_the_body_is_sent(gw: GatewayProc) -> None:
    # Declared 3 MiB > the 2 MiB default maxBufferSize: refused from the head alone.
    with socket.create_connection(("127.0.0.1", gw.port), timeout=5) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                  b"content-length: 3145728\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
