"""Performance regression guard: `benchmarks/bench_quick.py` against the built-in mock provider.

The gateway (bare: proxy + key injection) and the mock directly are loaded alternately by the same
closed-loop client (3 rounds, medians). Only a gross regression fails: the gateway under 5% of the
direct requests/s, or above 20x the direct CPU time per request, both measured in the same run. At
the time of writing the gateway does about 20% of the direct requests/s at about 5x its CPU per
request, so the thresholds leave a 3-4x margin for a noisy, shared CI machine; a 10x slowdown of the
gateway's request path cannot pass. Bounded: each of the 8 runs stops after 1 s (fewer requests
on a slow machine), so ~10 s on an idle 2-core machine and under 20 s on a busy one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
MIN_RPS_RATIO = 0.05
MAX_CPU_RATIO = 20.0


def test_gateway_is_not_grossly_slower_than_the_upstream_direct() -> None:
    cmd = [sys.executable, str(BENCH / "bench_quick.py"), "--json", "--rounds", "3", "--requests", "800",
           "--direct-scale", "4", "--warmup", "100", "--connections", "8", "--variants", "bare", "--max-seconds", "1.0"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    direct, gateway = result["targets"]["direct"], result["targets"]["gw-bare"]
    table = out.stdout[-1500:]
    # The client really sent and timed requests (bench_quick fails on errors, non-2xx or lost answers).
    assert len(gateway["runs"]) == 3 and all(r["completed"] >= 100 for r in gateway["runs"]), table
    assert direct["rps"] > 0 and direct["cpu_us_per_req"] > 0, table
    assert gateway["rps"] >= MIN_RPS_RATIO * direct["rps"], f"gateway throughput regressed:\n{table}"
    assert gateway["cpu_us_per_req"] <= MAX_CPU_RATIO * direct["cpu_us_per_req"], f"gateway CPU regressed:\n{table}"
