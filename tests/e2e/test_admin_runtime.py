"""Admin at runtime: POST /logging changes the access-log level; readiness drops while draining."""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request

from tests.e2e.harness import GatewayProc, MockProc, http

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  connectionTerminationDeadline: 5s
  logging: {level: warn}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: plain
      backends:
      - host: "$MOCK_ADDR"
"""


def post(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_post_logging_turns_request_lines_on_and_off() -> None:
    mock = MockProc()
    gw = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    admin = f"http://127.0.0.1:{gw.admin_port}/logging"
    try:
        http("GET", f"{gw.url}/quiet")  # level warn: not logged
        assert post(f"{admin}?level=info") == (200, "current log level is info\n")
        http("GET", f"{gw.url}/loud")
        assert post(f"{admin}?level=loudest")[0] == 400
        assert gw.get(gw.admin_port, "/logging")[0] == 405
        assert post(f"{admin}?level=error")[0] == 200
        http("GET", f"{gw.url}/quiet-again")
    finally:
        _, err = gw.stop()
        mock.stop()
    assert "http.path=/loud " in err
    assert "/quiet" not in err


def test_readiness_reports_draining_while_a_request_is_in_flight() -> None:
    mock = MockProc()
    gw = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    try:
        slow = threading.Thread(target=http, args=("GET", f"{gw.url}/slow"),
                                kwargs={"headers": {"x-mock-delay-ms": "1500"}})
        slow.start()
        time.sleep(0.3)
        gw.signal(signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        status, body = 0, b""
        while time.monotonic() < deadline:
            status, body = gw.get(gw.ready_port, "/healthz/ready")
            if status == 500:
                break
            time.sleep(0.02)
        slow.join(10)
        assert (status, body) == (500, b"not ready, pending: draining\n")
    finally:
        gw.stop()
        mock.stop()
