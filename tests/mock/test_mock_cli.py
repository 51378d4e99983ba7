"""`python -m gateway.mock` as a program: readiness line, serving, clean exit on signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

READY_TIMEOUT_S = 15.0


def start_cli(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "gateway.mock", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    line = ""
    while time.monotonic() < deadline:  # readline blocks, but the process prints or exits
        line = proc.stdout.readline()
        if line or proc.poll() is not None:
            break
    prefix = "mock provider listening on http://127.0.0.1:"
    if not line.startswith(prefix):
        proc.kill()
        raise AssertionError(f"unexpected first line {line!r}")
    return proc, int(line.strip().removeprefix(prefix))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_exits_zero_on_signal(sig: signal.Signals) -> None:
    proc, port = start_cli("--latency-ms", "0")
    try:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            data=json.dumps({"model": "cli", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"content-type": "application/json", "authorization": "Bearer top-secret"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200
            assert json.loads(resp.read())["model"] == "cli"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "top-secret" not in out + err  # no per-request logging, let alone of keys
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
