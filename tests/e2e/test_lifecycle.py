"""Process-level behaviour: CLI exit codes, 404s, graceful drain on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

from tests.e2e.harness import ROOT, GatewayProc, MockProc, http, stream_chunks

ROUTED = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  connectionTerminationDeadline: 10s
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - matches: [{path: {pathPrefix: /llm}}]
      policies:
        backendAuth: {key: server-key}
      backends:
      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "$MOCK_ADDR"}
"""


def test_unmatched_path_is_plain_404(mock: MockProc) -> None:
    gw = GatewayProc(ROUTED, env={"MOCK_ADDR": mock.addr})
    try:
        r = http("GET", f"{gw.url}/nothing-here")
        assert r.status_code == 404
        assert r.text == "route not found"
        assert r.headers["content-type"] == "text/plain"
    finally:
        gw.stop()


def test_sigterm_lets_inflight_stream_finish(mock: MockProc) -> None:
    gw = GatewayProc(ROUTED, env={"MOCK_ADDR": mock.addr})
    received: list[bytes] = []
    done = threading.Event()

    def stream() -> None:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "slow please"}]}
        headers = {"x-mock-latency-ms": "150", "x-mock-chunks": "10"}
        for chunk in stream_chunks(f"{gw.url}/llm/v1/chat/completions", body, headers):
            received.append(chunk)
        done.set()

    t = threading.Thread(target=stream)
    t.start()
    deadline = time.monotonic() + 10
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert received, "stream did not start"
    gw.signal(signal.SIGTERM)
    t.join(20)
    assert done.is_set()
    payload = b"".join(received)
    assert payload.rstrip().endswith(b"data: [DONE]")
    # The gateway exits by itself once the drain is over, with status 0.
    assert gw.proc.wait(15) == 0
    gw.stop()


def test_validate_only_reports_errors_and_exit_codes() -> None:
    bad = "binds:\n- port: 3000\n  listeners:\n  - routes:\n    - policies:\n        backendAuth: {kye: x}\n"
    p = subprocess.run([sys.executable, "-m", "gateway", "--validate-only", "-c", bad], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert 'backendAuth.kye: unknown field; did you mean "key"?' in p.stderr
    good = "binds:\n- port: 3000\n  listeners:\n  - routes:\n    - backends:\n      - host: 127.0.0.1:9\n"
    p = subprocess.run([sys.executable, "-m", "gateway", "--validate-only", "-f", "-"], cwd=ROOT, input=good,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_version_flags() -> None:
    p = subprocess.run([sys.executable, "-m", "gateway", "-V"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout.strip()
