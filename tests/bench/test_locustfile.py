"""benchmarks/locustfile.py and its gateway config stay usable: the config loads, and each of the
workload's tasks, run once against a real gateway in front of the mock, gets the outcome the
locustfile expects (answers, masked PII, the batch job's rate-limit refusals). Locust itself is not
run (no load in CI); the tasks run in a subprocess because importing locust monkey-patches the
standard library with gevent, which must not leak into this test process."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_config_file
from tests.e2e.harness import GatewayProc, MockProc

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

DRIVER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import locustfile as lf
from locust.env import Environment

env = Environment(user_classes=[lf.ChatUser, lf.BatchJobUser, lf.InternUser], events=lf.events)
lf.ChatUser.host = lf.BatchJobUser.host = sys.argv[2]  # what --host does
env.create_local_runner()  # wires request events to env.stats; no users are spawned
chat, batch = lf.ChatUser(env), lf.BatchJobUser(env)
chat.on_start()
batch.on_start()
for run in (chat.openai_chat, chat.openai_stream, chat.anthropic_messages, chat.anthropic_stream):
    run()
for _ in range(3):
    chat.pii_prompt()
for _ in range(15):  # the per-user bucket holds 10: the rest are refused
    batch.burst()
rows = {f"{e.method} {e.name}": [e.num_requests, e.num_failures] for e in env.stats.entries.values()}
errors = [str(e.error) for e in env.stats.errors.values()]
print(json.dumps({"rows": rows, "errors": errors, "chat_user": [chat.user, chat.team]}))
"""


def test_locust_config_loads_with_its_defaults() -> None:
    config = load_config_file(str(BENCH / "locust-config.yaml"), env={})
    assert [b.port for b in config.binds] == [3000]
    routes = config.binds[0].listeners[0].routes
    assert [r.name for r in routes] == ["openai", "anthropic"]
    for route in routes:  # both client formats get the same limits and PII masking
        assert route.policies.local_rate_limit and route.policies.ai and route.policies.backend_auth


def test_each_locust_task_gets_the_expected_outcome() -> None:
    if importlib.util.find_spec("locust") is None:  # not importorskip: importing it here would monkey-patch
        pytest.skip("locust is not installed (pip install -e '.[bench]')")
    mock = MockProc()
    gw = GatewayProc((BENCH / "locust-config.yaml").read_text(), env={"MOCK_ADDR": mock.addr})
    try:
        out = subprocess.run([sys.executable, "-c", DRIVER, str(BENCH), gw.url], capture_output=True, text=True,
                             timeout=90, check=False)
    finally:
        gw.stop()
        mock.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    rows = result["rows"]
    assert result["errors"] == []
    for name in ("openai chat", "openai chat stream", "anthropic messages", "anthropic messages stream"):
        assert rows[f"POST {name}"] == [1, 0], rows
    pii = sum(n for key, (n, fails) in rows.items() if "PII (masked)" in key and not fails)
    assert pii == 3, rows
    assert rows["POST batch-job chat"] == [15, 0], rows
    refused = rows["REFUSED batch-job chat: 429 rate limit exceeded"][0]
    assert 1 <= refused <= 5, rows
    assert result["chat_user"][0].startswith("user")
