"""`bench.py --workers-scaling`: req/s of the bare gateway with `--workers 1` and `--workers 2`.

Both gateways run at once (the idle one costs nothing) in front of the static nginx upstream and
are measured in alternating rounds, the order flipped every round (A B, B A, ...) so drift and
order effects hit both alike. Nothing is pinned: the workers need every core, and wrk and the
upstream share those cores with them, so on a 2-core machine the figure is what two workers gain
while the load generator competes for the same CPUs (the report says so). Scaling efficiency is
req/s with 2 workers divided by req/s with 1 (ideal: the number of workers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import METRICS, Target, preflight, run_wrk
from bench_configs import gateway_config
from bench_procs import HERE, REPO, BenchError, Children, free_ports, start_nginx, wait_http


def start_gateway(children: Children, workers: int, up: dict[str, int], tmp: Path,
                  args: argparse.Namespace) -> Target:
    json_port, sse_port, admin, stats, ready = free_ports(5)
    ports = {"json": json_port, "sse": sse_port, "up_json": up["json"], "up_sse": up["sse"],
             "admin": admin, "stats": stats, "ready": ready, "sink": 0, "redis": 0}
    config = tmp / f"gateway-w{workers}.yaml"
    config.write_text(gateway_config("bare", ports, args.access_log))
    log = tmp / f"gateway-w{workers}.log"
    with open(log, "wb") as out:
        proc = children.spawn(f"gw-w{workers}", [sys.executable, "-m", "gateway", "-f", str(config),
                                                 "--workers", str(workers)],
                              cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    # Readiness of a supervisor means every worker listens.
    wait_http(f"http://127.0.0.1:{ready}/healthz/ready", proc, args.ready_timeout + 30 * workers,
              f"gateway (--workers {workers})", log)
    return Target(f"gw-w{workers}", f"gateway bare, --workers {workers}", proc.pid,
                  {"json": json_port, "sse": sse_port})


def measure(targets: list[Target], args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
    for workload in args.workloads:
        for t in targets:
            preflight(t, workload)
            if args.warmup:
                run_wrk([], t, workload, args.connections, args.warmup)
    for i in range(args.rounds):
        for t in targets if i % 2 == 0 else reversed(targets):
            r = run_wrk([], t, args.workloads[0], args.connections, args.duration)
            r["round"] = i
            runs[t.name].append(r)
            print(f"  round {i + 1}/{args.rounds} {t.name:<6} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
                  f"p99 {r['p99_ms']:.3f} ms  CPU {r['cpu_pct']:.0f}%  non-2xx {r['non_2xx']}", flush=True)
    medians = {n: {m: statistics.median(r[m] for r in rs) for m in METRICS} for n, rs in runs.items()}
    return {"runs": runs, "medians": medians}


def report(results: dict[str, Any], targets: list[Target], args: argparse.Namespace) -> None:
    med = results["medians"]
    base = targets[0].name
    print(f"\nwrk -t1 -c{args.connections}, {args.rounds} alternating round(s) x {args.duration} s, medians; "
          f"workload {args.workloads[0]}; unpinned on {os.cpu_count()} CPUs shared with wrk and the upstream")
    print(f"{'target':<28}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU %':>7}{'x 1 worker':>11}")
    for t in targets:
        m = med[t.name]
        print(f"{t.desc:<28}{m['rps']:>9,.0f}{m['p50_ms']:>8.3f}{m['p99_ms']:>8.3f}{m['cpu_pct']:>7.0f}"
              f"{m['rps'] / med[base]['rps']:>11.2f}")
    # Per-round ratios (each from two back-to-back runs) show how stable the median ratio is.
    runs = results["runs"]
    for t in targets[1:]:
        ratios = [b["rps"] / a["rps"] for a, b in zip(runs[base], runs[t.name], strict=True) if a["rps"]]
        results[f"efficiency_{t.name}"] = med[t.name]["rps"] / med[base]["rps"]
        print(f"scaling efficiency {t.name} / {base}: {results[f'efficiency_{t.name}']:.2f} "
              f"(per-round ratios {', '.join(f'{r:.2f}' for r in ratios)})")


def run_scaling(args: argparse.Namespace) -> int:
    counts = sorted({int(n) for n in args.workers_list.split(",") if n})
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(), "kind": "workers-scaling",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
                    "loadavg_at_start": os.getloadavg()},
    }
    children = Children()
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp_dir:
        tmp = Path(tmp_dir)
        try:
            up_json, up_sse, px_json, px_sse = free_ports(4)
            values = {"JSON_PORT": str(up_json), "SSE_PORT": str(up_sse), "BODIES": str(HERE / "nginx" / "bodies"),
                      "PROXY_JSON_PORT": str(px_json), "PROXY_SSE_PORT": str(px_sse), "KEY": "bench-key"}
            start_nginx(children, [], "upstream", "upstream.conf", values, tmp, [up_json, up_sse], args.ready_timeout)
            targets = [start_gateway(children, n, {"json": up_json, "sse": up_sse}, tmp, args) for n in counts]
            results.update(measure(targets, args))
        except BenchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            children.kill_all()
    results["loadavg_at_end"] = os.getloadavg()
    report(results, targets, args)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"workers-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0
