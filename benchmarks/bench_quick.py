"""Quick benchmark: the gateway's CPU per request and requests/s against the upstream direct, same run.

    .venv/bin/python benchmarks/bench_quick.py                 # mock upstream, bare gateway, ~10 s
    .venv/bin/python benchmarks/bench_quick.py --profile 10 --variants cost   # py-spy, on-CPU samples only
    .venv/bin/python benchmarks/bench_quick.py --upstream nginx --nginx-proxy --variants bare,cost \\
        --requests 20000 --rounds 5                            # the same, against nginx (make bench's upstream)

No nginx or wrk needed by default: the upstream is the built-in mock provider (`python -m gateway.mock`)
and the load is `bench_load.py closed`, a closed-loop Python client that sends a fixed number of
requests, so the measured process's CPU seconds (from /proc) divide by a known count: CPU-µs per
request is robust on a shared machine, where requests/s is not (other processes steal the core, the
per-request work does not change). Targets run in alternating rounds; the table shows medians.
`tests/bench/test_quick_guard.py` runs this in CI and fails only on gross regressions relative to
the upstream direct in the same run. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_configs import DESCRIPTIONS, VARIANTS, gateway_config
from bench_procs import (
    HERE,
    REPO,
    BenchError,
    Children,
    free_ports,
    pin_prefixes,
    read_line,
    start_nginx,
    usage,
    wait_http,
    wait_port,
)
from bench_profile import record

LOAD = HERE / "bench_load.py"
BODY = HERE / "requests" / "openai.json"
PATH = "/v1/chat/completions"


@dataclass
class QuickTarget:
    name: str
    desc: str
    pid: int
    port: int
    scale: int  # requests per round = --requests * scale (cheap targets need more for CPU tick resolution)
    runs: list[dict[str, Any]] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", choices=("mock", "nginx"), default="mock",
                    help="the static upstream: the built-in mock provider (default) or nginx")
    ap.add_argument("--nginx-proxy", action="store_true", help="also measure nginx as a keep-alive proxy")
    ap.add_argument("--variants", default="bare", help=f"gateway configurations, subset of {','.join(VARIANTS)}")
    ap.add_argument("--compare", type=Path, metavar="DIR",
                    help="also run each variant from another checkout (e.g. `git worktree add DIR HEAD~3`, "
                         "built in place), named gw-VARIANT@base: before/after in the same alternating rounds")
    ap.add_argument("--requests", type=int, default=2000, help="requests per gateway round (default 2000)")
    ap.add_argument("--direct-scale", type=int, default=4,
                    help="the upstream and nginx get this many times --requests per round (default 4)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--warmup", type=int, default=300, help="discarded requests per target before round 1")
    ap.add_argument("--connections", type=int, default=16, help="client connections (default 16)")
    ap.add_argument("--max-seconds", type=float, default=0.0,
                    help="cap each run at this many seconds (fewer requests on a slow machine; 0: no cap)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    ap.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                    help="instead of measuring: py-spy the first gateway variant under closed load (on-CPU only)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")
    ap.add_argument("--ready-timeout", type=float, default=30.0)
    args = ap.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v!r}; expected one of {', '.join(VARIANTS)}")
    if args.nginx_proxy and args.upstream != "nginx":
        ap.error("--nginx-proxy needs --upstream nginx")
    return args


def start_targets(children: Children, tmp: Path, args: argparse.Namespace) -> list[QuickTarget]:
    proxy_pin, load_pin, _ = pin_prefixes(args.no_pin)
    targets: list[QuickTarget] = []
    if args.upstream == "mock":
        (up,) = free_ports(1)
        log = tmp / "mock.log"
        with open(log, "wb") as out:
            proc = children.spawn("mock", load_pin + [sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1",
                                                      "--port", str(up)], cwd=REPO, stdout=out,
                                  stderr=subprocess.STDOUT)
        wait_port(up, proc, args.ready_timeout, "mock provider", log)
        targets.append(QuickTarget("direct", "upstream direct (mock provider)", proc.pid, up, args.direct_scale))
        up_sse = up
    else:
        up, up_sse, px, px_sse = free_ports(4)
        values = {"JSON_PORT": str(up), "SSE_PORT": str(up_sse), "BODIES": str(HERE / "nginx" / "bodies"),
                  "PROXY_JSON_PORT": str(px), "PROXY_SSE_PORT": str(px_sse), "KEY": "bench-key"}
        proc = start_nginx(children, load_pin, "upstream", "upstream.conf", values, tmp, [up, up_sse],
                           args.ready_timeout)
        targets.append(QuickTarget("direct", "upstream direct (static nginx)", proc.pid, up, args.direct_scale))
        if args.nginx_proxy:
            proxy = start_nginx(children, proxy_pin, "proxy", "proxy.conf", values, tmp, [px, px_sse],
                                args.ready_timeout)
            targets.append(QuickTarget("nginx", "nginx keep-alive reverse proxy", proxy.pid, px, args.direct_scale))
    for variant in args.variants:
        targets.append(start_gateway(children, tmp, args, variant, up, up_sse, REPO, ""))
        if args.compare is not None:
            targets.append(start_gateway(children, tmp, args, variant, up, up_sse, args.compare.resolve(), "@base"))
    return targets


def start_gateway(children: Children, tmp: Path, args: argparse.Namespace, variant: str, up: int, up_sse: int,
                  repo: Path, suffix: str) -> QuickTarget:
    proxy_pin, _, _ = pin_prefixes(args.no_pin)
    json_port, sse_port, admin, stats, ready = free_ports(5)
    ports = {"json": json_port, "sse": sse_port, "up_json": up, "up_sse": up_sse, "admin": admin,
             "stats": stats, "ready": ready, "sink": 0}
    if variant == "trace":
        raise BenchError("the trace variant needs the OTLP sink: use bench.py")
    name = f"gw-{variant}{suffix}"
    config = tmp / f"{name}.yaml"
    config.write_text(gateway_config(variant, ports, access_log=False))
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:  # `-m gateway` from the checkout's directory imports that checkout
        gw = children.spawn(name, proxy_pin + [sys.executable, "-m", "gateway", "-f", str(config)],
                            cwd=repo, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{ready}/healthz/ready", gw, args.ready_timeout, f"gateway ({name})", log)
    wait_port(json_port, gw, args.ready_timeout, f"gateway ({name})", log)
    desc = DESCRIPTIONS[variant] + (f" [{repo.name}]" if suffix else "")
    return QuickTarget(name, desc, gw.pid, json_port, 1)


class Client:
    """The closed-loop client (`bench_load.py closed --serve`), started once on the load core."""

    def __init__(self, children: Children, load_pin: list[str]) -> None:
        self.proc = children.spawn("client", load_pin + [sys.executable, str(LOAD), "closed", "-", str(BODY),
                                                         "--serve", "--timeout", "60"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def run(self, target: QuickTarget, requests: int, connections: int, max_seconds: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        cmd = {"url": f"http://127.0.0.1:{target.port}{PATH}", "requests": requests, "connections": connections,
               "max_seconds": max_seconds}
        before = usage(target.pid)
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        self.proc.stdin.flush()
        line = read_line(self.proc, 90)
        after = usage(target.pid)
        if not line:
            raise BenchError(f"the load generator gave no answer for {target.name} (exit code {self.proc.poll()})")
        result: dict[str, Any] = json.loads(line)
        # With a time cap the client stops sending early; every request it did send must be answered.
        sent = result["requests"]
        if result["errors"] or not result["completed"] or result["completed"] != sent:
            raise BenchError(f"{target.name}: {result['completed']} of {sent} answered; errors {result['errors']}")
        if result["non_2xx"]:
            raise BenchError(f"{target.name}: {result['non_2xx']} answers were not 2xx")
        result["cpu_s"] = after.cpu_s - before.cpu_s
        result["cpu_us_per_req"] = 1e6 * result["cpu_s"] / result["completed"]
        result["rss_mb"] = after.rss_mb
        return result


def measure(targets: list[QuickTarget], client: Client, args: argparse.Namespace) -> dict[str, Any]:
    _, _, pin_desc = pin_prefixes(args.no_pin)
    for t in targets:
        if args.warmup:
            client.run(t, args.warmup * t.scale, args.connections, args.max_seconds)
    for i in range(args.rounds):
        for t in targets:  # alternate: drift affects every target alike
            r = client.run(t, args.requests * t.scale, args.connections, args.max_seconds)
            t.runs.append(r)
            print(f"  round {i + 1}/{args.rounds} {t.name:<9} {r['rps']:>9,.0f} req/s  "
                  f"{r['cpu_us_per_req']:7.1f} CPU-µs/req  p50 {r['p50_ms']:.3f} ms", flush=True)
    out: dict[str, Any] = {"pinning": pin_desc, "upstream": args.upstream, "connections": args.connections,
                           "rounds": args.rounds, "targets": {}}
    for t in targets:
        out["targets"][t.name] = {
            "description": t.desc, "runs": t.runs,
            "rps": statistics.median(r["rps"] for r in t.runs),
            "cpu_us_per_req": statistics.median(r["cpu_us_per_req"] for r in t.runs),
            "p50_ms": statistics.median(r["p50_ms"] for r in t.runs),
            "rss_mb": t.runs[-1]["rss_mb"],
        }
    return out


def profile(targets: list[QuickTarget], client: Client, tmp: Path, args: argparse.Namespace) -> None:
    _, load_pin, _ = pin_prefixes(args.no_pin)
    gw = next(t for t in targets if t.name.startswith("gw-"))
    client.run(gw, args.warmup or 300, args.connections, 0.0)
    load = load_pin + [sys.executable, str(LOAD), "closed", f"http://127.0.0.1:{gw.port}{PATH}", str(BODY),
                       "--requests", "100000000", "--max-seconds", str(args.profile + 1),
                       "--connections", str(args.connections), "--uvloop"]
    print(f"profiling {gw.name} for {args.profile} s under closed load, {args.connections} connections", flush=True)
    print(record(gw.pid, args.profile, tmp / "profile.txt", load, idle=False))
    out = HERE / "results" / f"profile-quick-{gw.name}-{time.strftime('%Y%m%dT%H%M%S')}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    if (tmp / "profile.txt").exists():
        out.write_bytes((tmp / "profile.txt").read_bytes())
        print(f"raw stacks: {out}")


def print_table(result: dict[str, Any]) -> None:
    targets = result["targets"]
    direct = targets["direct"]
    nginx = targets.get("nginx")
    print(f"\nclosed loop, {result['connections']} connections, {result['rounds']} alternating rounds, medians; "
          f"pinning: {result['pinning']}")
    header = f"{'target':<48} {'req/s':>8} {'x direct':>8} {'CPU-µs/req':>10} {'x direct':>8}"
    if nginx:
        header += f" {'CPU x nginx':>11}"
    print(header + f" {'p50 ms':>7} {'RSS MB':>7}")
    for t in targets.values():
        line = (f"{t['description']:<48} {t['rps']:>8,.0f} {t['rps'] / direct['rps']:>8.3f} "
                f"{t['cpu_us_per_req']:>10.1f} {t['cpu_us_per_req'] / direct['cpu_us_per_req']:>8.2f}")
        if nginx:
            line += f" {t['cpu_us_per_req'] / nginx['cpu_us_per_req']:>11.2f}"
        print(line + f" {t['p50_ms']:>7.3f} {t['rss_mb']:>7.1f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    children = Children()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="gw-quick-") as tmp:
            targets = start_targets(children, Path(tmp), args)
            client = Client(children, pin_prefixes(args.no_pin)[1])
            if args.profile:
                profile(targets, client, Path(tmp), args)
                return 0
            result = measure(targets, client, args)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        children.kill_all()
    result["elapsed_s"] = time.monotonic() - started
    print_table(result)
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
