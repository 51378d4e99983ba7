"""The benchmark suite's own parts keep working (`make bench` is not run in CI): its gateway configs
load, its nginx templates fill, the open-loop generator really sends on schedule and reads
answers, and the py-spy summary counts inclusive and self time correctly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_config_text
from tests.e2e.harness import MockProc

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_configs  # noqa: E402
import bench_procs  # noqa: E402
import bench_profile  # noqa: E402

PORTS = {"json": 3001, "sse": 3002, "up_json": 3003, "up_sse": 3004, "admin": 3005, "stats": 3006, "ready": 3007,
         "sink": 3008}


@pytest.mark.parametrize("variant", bench_configs.VARIANTS)
def test_every_benchmarked_gateway_config_loads(variant: str) -> None:
    config = load_config_text(bench_configs.gateway_config(variant, PORTS, access_log=False), f"<{variant}>", env={})
    assert [b.port for b in config.binds] == [3001, 3002]
    route = config.binds[0].listeners[0].routes[0]
    assert route.policies.backend_auth is not None
    assert bool(route.policies.local_rate_limit) == (variant != "bare")


@pytest.mark.parametrize("template", ["upstream.conf", "proxy.conf"])
def test_nginx_templates_fill_every_placeholder(template: str) -> None:
    values = {k: "1" for k in ("USER", "TMP", "JSON_PORT", "SSE_PORT", "BODIES", "PROXY_JSON_PORT",
                                "PROXY_SSE_PORT", "KEY")}
    text = bench_procs.render_template(template, values)
    assert "{{" not in text and "daemon off;" in text


def test_fixed_rate_generator_sends_on_schedule_and_reads_answers() -> None:
    mock = MockProc()
    try:
        out = subprocess.run([sys.executable, str(BENCH / "bench_load.py"), "fixed",
                              f"http://{mock.addr}/v1/chat/completions", str(BENCH / "requests" / "openai.json"),
                              "--rate", "200", "--duration", "1", "--warmup", "0.2"],
                             capture_output=True, text=True, timeout=60, check=False)
    finally:
        mock.stop()
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sent"] == 200 and result["completed"] == 200
    assert result["non_2xx"] == 0 and result["errors"] == 0 and result["dropped"] == 0
    assert 100 < result["achieved_rate"] <= 201  # completed / time to the last answer (tail included)
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]


def test_profile_summary_counts_inclusive_and_self_time() -> None:
    raw = ("main (a.py:1);handle (b.py:10);send (c.py:5) 3\n"
           "main (a.py:1);handle (b.py:12) 1\n"
           "main (a.py:2) 4\n")
    inclusive, own, total = bench_profile.parse_raw(raw)
    assert total == 8
    assert inclusive["main (a.py)"] == 8 and inclusive["handle (b.py)"] == 4 and inclusive["send (c.py)"] == 3
    assert own["main (a.py)"] == 4 and own["handle (b.py)"] == 1 and own["send (c.py)"] == 3
