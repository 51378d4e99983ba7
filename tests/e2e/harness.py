"""Real processes on free loopback ports: the mock provider and the gateway under test."""

from __future__ import annotations

import http.client as httplib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]


def _port_pool() -> range:
    """Loopback ports outside the kernel's ephemeral range, where an outgoing connection (to Postgres, Redis,
    the mock) can never take a port between its pick and the bind of the process it was picked for."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(20000, low) if low - 20000 >= 2000 else range(high + 1, 65536)


_POOL = _port_pool()
# Each test process walks the pool once from its own offset (so that concurrent test runs start apart), then
# wraps: a port comes round again only after every other one in the pool has been handed out.
_offset = os.getpid() * 7919 % max(len(_POOL), 1)
_candidates = itertools.cycle([*_POOL[_offset:], *_POOL[:_offset]])
_pick_lock = threading.Lock()


def free_port() -> int:
    """A loopback port that is free now and that this test process has not handed out recently, so that
    processes started together (and their sockets to other servers) never race for the same port."""
    with _pick_lock:
        for port in itertools.islice(_candidates, len(_POOL)):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free loopback port in {_POOL.start}-{_POOL.stop - 1}")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with {proc.returncode}: {read_stderr(proc)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open within {timeout}s")


def read_stderr(proc: subprocess.Popen[bytes]) -> str:
    if proc.stderr is None:
        return ""
    try:
        return proc.stderr.read().decode(errors="replace")[-4000:]
    except Exception:  # noqa: BLE001 - diagnostics only
        return ""


class MockProc:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for_port(self.port, self.proc)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class GatewayProc:
    """`python -m gateway -f <config>` with management servers on free ports."""

    def __init__(self, config_text: str, env: dict[str, str] | None = None, args: Sequence[str] = (),
                 ready_timeout: float = 15.0) -> None:
        self.port = free_port()
        self.admin_port, self.stats_port, self.ready_port = free_port(), free_port(), free_port()
        fd, path = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(config_text)
        self.config_path = path
        full_env = dict(os.environ)
        full_env.update(
            GATEWAY_PORT=str(self.port),
            ADMIN_ADDR=f"127.0.0.1:{self.admin_port}",
            STATS_ADDR=f"127.0.0.1:{self.stats_port}",
            READINESS_ADDR=f"127.0.0.1:{self.ready_port}",
        )
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "-f", path, *args],
            cwd=ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.wait_ready(ready_timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {read_stderr(self.proc)}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ready_port}/healthz/ready", timeout=0.5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not become ready")

    def get(self, port: int, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        err = read_stderr(self.proc)
        os.unlink(self.config_path)
        return self.proc.returncode, err


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code = status
        self.headers = headers
        self.content = body

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return json.loads(self.content)


def http(method: str, url: str, *, json_body: Any = None, content: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 30) -> Response:
    """A plain stdlib HTTP call (one connection), for tests that must not depend on an SDK."""
    parts = urlsplit(url)
    hdrs = dict(headers or {})
    if json_body is not None:
        content = json.dumps(json_body).encode()
        hdrs.setdefault("content-type", "application/json")
    conn = httplib.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=content, headers=hdrs)
        r = conn.getresponse()
        body = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


def stream_chunks(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float = 30) -> Iterator[bytes]:
    """POST and yield the response body as it arrives."""
    parts = urlsplit(url)
    conn = httplib.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path, body=json.dumps(body).encode(),
                     headers={"content-type": "application/json", **headers})
        r = conn.getresponse()
        while True:
            chunk = r.read1(65536)
            if not chunk:
                return
            yield chunk
    finally:
        conn.close()
