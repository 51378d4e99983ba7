"""`make demo`: start the mock provider and the gateway, walk through the features, stop both.

With ANTHROPIC_API_KEY set, the gateway fronts the real Anthropic API instead of the mock (the
OpenAI part is then skipped unless OPENAI_API_KEY is set too). Every number printed comes from a
real HTTP call made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import openai

ROOT = Path(__file__).resolve().parents[1]
MODEL = "claude-haiku-4-5-20251001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    sys.exit(f"{url} did not come up within {timeout}s")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} did not open")


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, body
        self.text = body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP request with the standard library, as any client would send it."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return call("POST", url, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def section(title: str) -> None:
    print(f"\n{'=' * 70}\n  {title}\n{'=' * 70}")


class Demo:
    def __init__(self) -> None:
        self.real = bool(os.environ.get("ANTHROPIC_API_KEY"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.ports = {"ADMIN_ADDR": free_port(), "STATS_ADDR": free_port(), "READINESS_ADDR": free_port()}
        self.env = dict(os.environ, GATEWAY_PORT=str(self.port),
                        **{k: f"127.0.0.1:{v}" for k, v in self.ports.items()})
        self.anthropic_key = os.environ.get("ANTHROPIC_API_KEY", "sk-ant-demo-server-side-key")
        self.openai_key = os.environ.get("OPENAI_API_KEY", "sk-demo-openai-server-side-key")
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = ROOT / ("examples/demo-anthropic.yaml" if self.real else "config.yaml")
        if not self.real:
            mock_port = free_port()
            self.env["MOCK_ADDR"] = f"127.0.0.1:{mock_port}"
            mock = subprocess.Popen([sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1",
                                     "--port", str(mock_port), "--latency-ms", "20"], cwd=ROOT,
                                    stdout=subprocess.DEVNULL)
            self.procs.append(mock)
            wait_port(mock_port, mock)
            print(f"mock provider  : http://127.0.0.1:{mock_port} (speaks OpenAI and Anthropic)")
        gw = subprocess.Popen([sys.executable, "-m", "gateway", "-f", str(config)], cwd=ROOT, env=self.env,
                              stderr=subprocess.DEVNULL)
        self.procs.append(gw)
        wait_http(f"http://127.0.0.1:{self.ports['READINESS_ADDR']}/healthz/ready", gw)
        print(f"gateway        : {self.url} (config {config.relative_to(ROOT)})")
        print(f"upstream       : {'api.anthropic.com (real)' if self.real else 'the mock provider'}")

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    # -- features ---------------------------------------------------------------------------

    def key_protection(self) -> None:
        section("Feature 1: API key protection")
        print("Client code (the seed's snippet): a plain POST with NO API key.")
        r = post_json(f"{self.url}/v1/messages",
                      {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "Hello!"}]})
        print(f"   status {r.status_code}")
        data = r.json()
        print(f"   reply : {data['content'][0]['text'][:70]!r}")
        print(f"   usage : {data['usage']['input_tokens']} input / {data['usage']['output_tokens']} output tokens")
        if not self.real:
            seen = r.headers.get("x-mock-auth-key-sha256")
            print(f"   the provider received header {r.headers.get('x-mock-auth-header')} "
                  f"with key sha256 {seen}; the gateway's key hashes to {digest(self.anthropic_key)}: "
                  f"{'MATCH' if seen == digest(self.anthropic_key) else 'MISMATCH'}")
            leaked = "sk-ant-LEAKED-client-key"
            r = post_json(f"{self.url}/v1/messages", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                          headers={"x-api-key": leaked})
            seen = r.headers.get("x-mock-auth-key-sha256")
            print(f"   a client that sends its own key ({leaked}) is ignored: provider saw "
                  f"{'the server key' if seen == digest(self.anthropic_key) else 'THE CLIENT KEY'}")
        dump = call("GET", f"http://127.0.0.1:{self.ports['ADMIN_ADDR']}/config_dump").text
        print(f"   admin /config_dump shows the key as <redacted>: {'<redacted>' in dump} "
              f"(key text present: {self.anthropic_key in dump})")

    def streaming(self) -> None:
        section("Streaming passthrough (Anthropic SDK, no buffering)")
        client = anthropic.Anthropic(base_url=self.url, api_key="not-a-real-key", max_retries=0)
        t0 = time.perf_counter()
        first = None
        print("   ", end="")
        with client.messages.stream(model=MODEL, max_tokens=120,
                                    messages=[{"role": "user", "content": "Say hello in five words"}]) as s:
            for text in s.text_stream:
                first = first or time.perf_counter()
                print(text, end="", flush=True)
            final = s.get_final_message()
        total = time.perf_counter() - t0
        print(f"\n   first token after {((first or t0) - t0) * 1000:.0f} ms, whole stream {total * 1000:.0f} ms, "
              f"{final.usage.output_tokens} output tokens")

    def openai_client(self) -> None:
        section("OpenAI SDK through the same gateway")
        if self.real and not os.environ.get("OPENAI_API_KEY"):
            print("   skipped: real-provider mode and no OPENAI_API_KEY set")
            return
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        c = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "Hello!"}])
        usage = c.usage
        print(f"   model {c.model}: {c.choices[0].message.content[:60]!r}")
        if usage is not None:
            print(f"   usage: {usage.prompt_tokens} prompt / {usage.completion_tokens} completion tokens")

    def errors(self) -> None:
        section("Errors in the client's own API format")
        r = call("POST", f"{self.url}/v1/messages", b"{not json", {"content-type": "application/json"})
        print(f"   Anthropic route, bad JSON -> {r.status_code} {r.text[:110]}")
        r = call("POST", f"{self.url}/v1/chat/completions", b"[", {"content-type": "application/json"})
        print(f"   OpenAI route, bad JSON    -> {r.status_code} {r.text[:110]}")

    def observability(self) -> None:
        section("Metrics (Prometheus, agentgateway names)")
        text = call("GET", f"http://127.0.0.1:{self.ports['STATS_ADDR']}/metrics").text
        for line in text.splitlines():
            if line.startswith("agentgateway_requests_total{") or (
                    line.startswith("agentgateway_gen_ai_client_token_usage_sum{")):
                print("   " + line)

    def not_yet(self) -> None:
        section("Not built yet (tracked as issues)")
        for name in ("PII redaction (promptGuard)", "rate limits (localRateLimit)", "budgets",
                     "cost tracking and chargeback", "multi-provider failover and translation",
                     "OpenTelemetry tracing"):
            print(f"   - {name}")


def main() -> int:
    demo = Demo()
    try:
        demo.start()
        demo.key_protection()
        demo.streaming()
        demo.openai_client()
        demo.errors()
        demo.observability()
        demo.not_yet()
    finally:
        demo.stop()
    print("\nstopped the gateway and the mock provider.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
