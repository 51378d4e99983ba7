"""A large non-streaming LLM response that arrives in many TCP reads reaches the client whole."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.e2e.harness import GatewayProc, http

BIG_TEXT = "lorem ipsum " * 50_000  # ~600 KB of content


class SlowBigProvider(BaseHTTPRequestHandler):
    """An OpenAI-style upstream that sends a big body in pieces, pausing between them."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["content-length"]))
        body = json.dumps({
            "id": "x", "object": "chat.completion", "model": "big-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": BIG_TEXT}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 150000, "total_tokens": 150003},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        for i in range(0, len(body), 64 * 1024):
            self.wfile.write(body[i:i + 64 * 1024])
            self.wfile.flush()
            time.sleep(0.01)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def provider() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowBigProvider)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()


def test_big_response_is_complete(provider: int) -> None:
    config = f"""
config: {{adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - backends:
      - ai: {{name: big, provider: {{openAI: {{}}}}, hostOverride: "127.0.0.1:{provider}"}}
"""
    gw = GatewayProc(config)
    try:
        r = http("POST", f"{gw.url}/v1/chat/completions",
                 json_body={"model": "m", "messages": [{"role": "user", "content": "long please"}]})
        assert r.status_code == 200
        assert r.json()["choices"][0]["message"]["content"] == BIG_TEXT
    finally:
        gw.stop()
