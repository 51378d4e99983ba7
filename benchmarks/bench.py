"""Benchmark suite: the gateway against nginx in the same run (`make bench`).

    .venv/bin/python benchmarks/bench.py            # full suite (~4-5 min)
    .venv/bin/python benchmarks/bench.py --quick    # < 1 min, fewer rounds and workloads

A static upstream (nginx serving fixed OpenAI/Anthropic JSON and SSE bodies) is measured directly,
through nginx as a keep-alive reverse proxy, and through the gateway in three configurations, in
alternating rounds (A B C A B C ...) so a noisy machine's drift hits every target alike; the table
reports medians. Then an open-loop fixed-rate run (p99 at 3,000 req/s) and an idle-connections run
(RSS while holding 10,000 keep-alive connections). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_configs import DESCRIPTIONS, OPTIONAL_VARIANTS, VARIANTS, gateway_config
from bench_load import raise_nofile
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
from bench_report import print_extras, print_table

LUA = HERE / "chat.lua"
LOAD = HERE / "bench_load.py"
WORKLOADS = {  # name: (path, request body file, upstream kind, description)
    "chat": ("/v1/chat/completions", "openai.json", "json", "OpenAI chat, non-streaming"),
    "stream": ("/v1/chat/completions", "openai_stream.json", "sse", "OpenAI chat, streaming (SSE)"),
    "messages": ("/v1/messages", "anthropic.json", "json", "Anthropic messages, non-streaming"),
}
METRICS = ("rps", "p50_ms", "p90_ms", "p99_ms", "non_2xx", "cpu_pct", "rss_mb", "rps_per_core")


@dataclass
class Target:
    name: str
    desc: str
    pid: int
    ports: dict[str, int]  # upstream kind -> port

    def url(self, workload: str) -> str:
        path, _, kind, _ = WORKLOADS[workload]
        return f"http://127.0.0.1:{self.ports[kind]}{path}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 round of 2 s, chat+stream only, short extras (<1 min)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per target (default 3)")
    ap.add_argument("--duration", type=int, default=4, help="seconds per wrk run (default 4)")
    ap.add_argument("--latency-duration", type=int, default=2, help="seconds of the 1-connection run (default 2)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of discarded warm-up per target (0: none)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--workloads", default="chat,stream,messages", help=f"subset of {','.join(WORKLOADS)}")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="gateway configurations to run")
    ap.add_argument("--fixed-rate", type=float, default=3000.0, help="open-loop rate, req/s (0: skip)")
    ap.add_argument("--fixed-duration", type=float, default=10.0)
    ap.add_argument("--fixed-targets", default="nginx,gw-bare,gw-full")
    ap.add_argument("--idle-connections", type=int, default=10000, help="0: skip the idle-connections run")
    ap.add_argument("--idle-hold", type=float, default=3.0)
    ap.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                    help="instead of the suite: py-spy the gateway for SECONDS under load, print top functions")
    ap.add_argument("--profile-variant", default="full", help="gateway configuration to profile (default full)")
    ap.add_argument("--profile-load", choices=("wrk", "fixed"), default="wrk",
                    help="load while profiling: wrk -c50 on the chat workload, or the fixed-rate generator")
    ap.add_argument("--access-log", action="store_true", help="keep the gateway's access log on (default off)")
    ap.add_argument("--workers-scaling", action="store_true",
                    help="instead of the suite: bare gateway with --workers 1 vs 2, unpinned (bench_workers.py)")
    ap.add_argument("--workers-list", default="1,2", help="worker counts for --workers-scaling (default 1,2)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    ap.add_argument("--ready-timeout", type=float, default=30.0)
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    if "--quick" in (sys.argv[1:] if argv is None else argv):  # defaults only: explicit flags still win
        ap.set_defaults(rounds=1, duration=2, latency_duration=1, warmup=0, workloads="chat,stream",
                        fixed_duration=3.0, fixed_targets="gw-bare", idle_connections=1000, idle_hold=1.0)
    args = ap.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    # Profiling needs only the gateway being profiled.
    args.variants = [args.profile_variant] if args.profile else [v for v in args.variants.split(",") if v]
    args.fixed_targets = [t for t in args.fixed_targets.split(",") if t]
    for w in args.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}; expected one of {', '.join(WORKLOADS)}")
    for v in args.variants:
        if v not in VARIANTS + OPTIONAL_VARIANTS:
            ap.error(f"unknown variant {v!r}; expected one of {', '.join(VARIANTS + OPTIONAL_VARIANTS)}")
    for name in ("rounds", "duration", "latency_duration", "connections"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


# ---------------------------------------------------------------------------- servers


def start_gateway(children: Children, prefix: list[str], variant: str, up: dict[str, int], sink: int,
                  tmp: Path, args: argparse.Namespace) -> Target:
    json_port, sse_port, admin, stats, ready = free_ports(5)
    ports = {"json": json_port, "sse": sse_port, "up_json": up["json"], "up_sse": up["sse"],
             "admin": admin, "stats": stats, "ready": ready, "sink": sink, "redis": up.get("redis", 0)}
    config = tmp / f"gateway-{variant}.yaml"
    config.write_text(gateway_config(variant, ports, args.access_log))
    log = tmp / f"gateway-{variant}.log"
    with open(log, "wb") as out:  # a file, not a pipe: a chatty gateway must never block mid-run
        proc = children.spawn(f"gw-{variant}", prefix + [sys.executable, "-m", "gateway", "-f", str(config)],
                              cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{ready}/healthz/ready", proc, args.ready_timeout, f"gateway ({variant})", log)
    return Target(f"gw-{variant}", DESCRIPTIONS[variant], proc.pid, {"json": json_port, "sse": sse_port})


def start_sink(children: Children, prefix: list[str], timeout: float) -> tuple[int, subprocess.Popen[bytes]]:
    proc = children.spawn("otlp-sink", prefix + [sys.executable, str(LOAD), "otlp-sink"], stdout=subprocess.PIPE)
    line = read_line(proc, timeout)
    if not line.startswith("otlp sink listening on 127.0.0.1:"):
        raise BenchError(f"OTLP sink did not start (first output {line!r})")
    return int(line.rsplit(":", 1)[1]), proc


def start_redis(children: Children, prefix: list[str], tmp: Path, timeout: float) -> int:
    """A redis-server for the cost-redis variant, without persistence, on the load core."""
    server = shutil.which("redis-server")
    if server is None:
        raise BenchError("the cost-redis variant needs redis-server (apt-get install redis-server)")
    (port,) = free_ports(1)
    log = tmp / "redis.log"
    with open(log, "wb") as out:
        proc = children.spawn("redis", prefix + [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp),
                                                 "--save", "", "--appendonly", "no"], stdout=out,
                              stderr=subprocess.STDOUT)
    wait_port(port, proc, timeout, "redis-server", log)
    return port


_POSTGRES: list[Any] = []  # the temporary server of the ledger-pg variant, closed at the end of run()


def start_ledgers(tmp: Path, args: argparse.Namespace) -> None:
    """The ledger variants expand $BENCH_LEDGER_DIR / $BENCH_LEDGER_URL (the gateways inherit them).
    ledger-pg: a temporary PostgreSQL server (fsync on, as in production) from tests/e2e/pgserver.py."""
    os.environ["BENCH_LEDGER_DIR"] = str(tmp)
    if "ledger-pg" in args.variants:
        sys.path.insert(0, str(REPO))
        from tests.e2e.pgserver import PostgresServer, missing_reason

        if missing_reason():
            raise BenchError(f"the ledger-pg variant needs PostgreSQL: {missing_reason()}")
        _POSTGRES.append(PostgresServer(fsync=True))
        os.environ["BENCH_LEDGER_URL"] = _POSTGRES[0].url()


def start_all(children: Children, tmp: Path, args: argparse.Namespace) -> tuple[dict[str, Target], int]:
    proxy_pin, load_pin, _ = pin_prefixes(args.no_pin)
    up_json, up_sse, px_json, px_sse = free_ports(4)
    values = {"JSON_PORT": str(up_json), "SSE_PORT": str(up_sse), "BODIES": str(HERE / "nginx" / "bodies"),
              "PROXY_JSON_PORT": str(px_json), "PROXY_SSE_PORT": str(px_sse), "KEY": "bench-key"}
    upstream = start_nginx(children, load_pin, "upstream", "upstream.conf", values, tmp, [up_json, up_sse],
                           args.ready_timeout)
    proxy = start_nginx(children, proxy_pin, "proxy", "proxy.conf", values, tmp, [px_json, px_sse],
                        args.ready_timeout)
    targets = {
        "direct": Target("direct", "upstream direct (static nginx)", upstream.pid, {"json": up_json, "sse": up_sse}),
        "nginx": Target("nginx", "nginx keep-alive reverse proxy", proxy.pid, {"json": px_json, "sse": px_sse}),
    }
    sink_port = 0
    if "trace" in args.variants:
        sink_port, _ = start_sink(children, load_pin, args.ready_timeout)
    up = {"json": up_json, "sse": up_sse}
    if "cost-redis" in args.variants:
        up["redis"] = start_redis(children, load_pin, tmp, args.ready_timeout)
    start_ledgers(tmp, args)
    for variant in args.variants:
        t = start_gateway(children, proxy_pin, variant, up, sink_port, tmp, args)
        targets[t.name] = t
    for t in targets.values():
        for kind, port in t.ports.items():
            wait_port(port, upstream, args.ready_timeout, f"{t.name} ({kind})", tmp / "upstream.log")
    return targets, sink_port


# -------------------------------------------------------------------------------- load


def body_file(workload: str) -> Path:
    return HERE / "requests" / WORKLOADS[workload][1]


def preflight(target: Target, workload: str) -> None:
    """One request before measuring: a benchmark of error responses would be meaningless."""
    url = target.url(workload)
    req = urllib.request.Request(url, data=body_file(workload).read_bytes(), headers={
        "content-type": "application/json", "anthropic-version": "2023-06-01",
        "x-user-id": "bench-user", "x-team-id": "bench-team"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = resp.read()
            ctype = resp.headers.get("content-type", "")
    except OSError as e:
        detail = e.read()[:300] if isinstance(e, urllib.error.HTTPError) else b""
        raise BenchError(f"{target.name} {workload}: preflight POST {url} failed: {e} {detail!r}") from e
    if WORKLOADS[workload][2] == "sse":
        if "text/event-stream" not in ctype or b"data:" not in data:
            raise BenchError(f"{target.name} {workload}: expected an event stream, got {ctype} {data[:200]!r}")
    else:
        json.loads(data)


def run_wrk(prefix: list[str], target: Target, workload: str, connections: int, duration: int) -> dict[str, Any]:
    cmd = prefix + ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(LUA),
                    target.url(workload)]
    env = {**os.environ, "BENCH_BODY_FILE": str(body_file(workload))}
    before, t0 = usage(target.pid), time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False, env=env)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from e
    after, wall = usage(target.pid), time.monotonic() - t0
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            result["cpu_pct"] = 100 * (after.cpu_s - before.cpu_s) / wall
            # Requests per CPU-second of the measured process: comparable even when other processes
            # steal part of core 0, or when the load side (not the proxy) is the bottleneck.
            result["rps_per_core"] = result["rps"] / (result["cpu_pct"] / 100) if result["cpu_pct"] > 0 else 0.0
            result["rss_mb"], result["hwm_mb"] = after.rss_mb, after.hwm_mb
            return result
    raise BenchError(f"no WRK_JSON line from wrk (rc={out.returncode}):\n{out.stdout}\n{out.stderr}")


def measure(targets: dict[str, Target], args: argparse.Namespace, results: dict[str, Any]) -> None:
    _, load_pin, _ = pin_prefixes(args.no_pin)
    for workload in args.workloads:
        names = [n for n in targets if workload != "messages" or n in ("direct", "nginx", "gw-bare")]
        for n in names:
            preflight(targets[n], workload)
            if args.warmup:
                run_wrk(load_pin, targets[n], workload, args.connections, args.warmup)
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for i in range(args.rounds):
            for n in names:  # alternate: drift affects every target alike
                r = run_wrk(load_pin, targets[n], workload, args.connections, args.duration)
                runs[n].append(r)
                print(f"  {workload:<8} round {i + 1}/{args.rounds} {n:<9} {r['rps']:>9,.0f} req/s  "
                      f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  non-2xx {r['non_2xx']}", flush=True)
        single = {n: run_wrk(load_pin, targets[n], workload, 1, args.latency_duration) for n in names}
        results["workloads"][workload] = {
            "description": WORKLOADS[workload][3], "runs": runs, "single_connection": single,
            "medians": {n: {m: statistics.median(r[m] for r in rs) for m in METRICS} for n, rs in runs.items()},
        }


def fixed_rate(targets: dict[str, Target], args: argparse.Namespace) -> dict[str, Any]:
    _, load_pin, _ = pin_prefixes(args.no_pin)
    out: dict[str, Any] = {}
    for name in args.fixed_targets:
        if name not in targets:
            continue
        t = targets[name]
        cmd = load_pin + [sys.executable, str(LOAD), "fixed", t.url("chat"), str(body_file("chat")),
                          "--rate", str(args.fixed_rate), "--duration", str(args.fixed_duration)]
        before, t0 = usage(t.pid), time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.fixed_duration + 60, check=False)
        after = usage(t.pid)
        try:
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError) as e:
            raise BenchError(f"fixed-rate load generator failed: {proc.stderr[-2000:]}") from e
        out[name]["cpu_pct"] = 100 * (after.cpu_s - before.cpu_s) / (time.monotonic() - t0)
        out[name]["rss_mb"] = after.rss_mb
        r = out[name]
        print(f"  fixed {args.fixed_rate:,.0f}/s {name:<9} achieved {r['achieved_rate']:,.0f}/s  "
              f"p50 {r['p50_ms']:.3f} p99 {r['p99_ms']:.3f} ms  errors {r['errors']}", flush=True)
    return out


def idle_connections(children: Children, target: Target, args: argparse.Namespace) -> dict[str, Any]:
    _, load_pin, _ = pin_prefixes(args.no_pin)
    before = usage(target.pid)
    cmd = load_pin + [sys.executable, str(LOAD), "idle", target.url("chat"), str(body_file("chat")),
                      "--connections", str(args.idle_connections), "--hold", str(args.idle_hold)]
    proc = children.spawn("idle", cmd, stdout=subprocess.PIPE)
    line = read_line(proc, 180)
    holding = usage(target.pid)
    done = read_line(proc, args.idle_hold + 120)
    children.stop(proc)
    time.sleep(0.5)  # let the gateway notice the closed sockets before the "after" sample
    after = usage(target.pid)
    try:
        held, final = json.loads(line), json.loads(done)
    except ValueError as e:
        raise BenchError(f"idle-connections generator failed (output {line!r} {done!r})") from e
    result = {**held, **{f"final_{k}": v for k, v in final.items()}, "target": target.name,
              "rss_before_mb": before.rss_mb, "rss_holding_mb": holding.rss_mb, "rss_after_mb": after.rss_mb}
    print(f"  idle: {held['open']}/{held['requested']} connections held (errors {held['errors']}), "
          f"RSS {before.rss_mb:.1f} -> {holding.rss_mb:.1f} MB, reuse ok {final['reuse_ok']}/{final['reused']}",
          flush=True)
    return result


def profile(target: Target, tmp: Path, args: argparse.Namespace) -> int:
    _, load_pin, _ = pin_prefixes(args.no_pin)
    preflight(target, "chat")
    if args.profile_load == "wrk":
        load = load_pin + ["wrk", "-t1", f"-c{args.connections}", f"-d{args.profile + 1}s", "-s", str(LUA),
                           target.url("chat")]
    else:
        load = load_pin + [sys.executable, str(LOAD), "fixed", target.url("chat"), str(body_file("chat")),
                           "--rate", str(args.fixed_rate), "--duration", str(args.profile + 1)]
    print(f"profiling {target.name} for {args.profile} s under {args.profile_load} load (py-spy, raw)", flush=True)
    print(record(target.pid, args.profile, tmp / "profile.txt", load))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"profile-{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.txt"
    if (tmp / "profile.txt").exists():
        shutil.copyfile(tmp / "profile.txt", out)
    print(f"raw stacks: {out}")
    return 0


def sink_stats(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as resp:
            stats: dict[str, Any] = json.loads(resp.read())
            return stats
    except (OSError, ValueError) as e:
        return {"error": str(e)}


# --------------------------------------------------------------------------------- main


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("wrk not found. Install it with:  apt-get install wrk   (Debian/Ubuntu, as root)", file=sys.stderr)
        return 2
    # Children inherit the limit: the gateway and nginx need a descriptor per idle connection.
    nofile = raise_nofile(args.idle_connections + 1024)
    signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM would otherwise skip `finally`
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "pinning": pin_prefixes(args.no_pin)[2], "nofile_soft_limit": nofile,
                    "loadavg_at_start": os.getloadavg()},
        "workloads": {},
    }
    children = Children()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        try:
            targets, sink_port = start_all(children, Path(tmp), args)
            if args.profile:
                return profile(targets[f"gw-{args.profile_variant}"], Path(tmp), args)
            results["targets"] = {n: t.desc for n, t in targets.items()}
            print(f"pinning: {results['machine']['pinning']}; targets: {', '.join(targets)}", flush=True)
            measure(targets, args, results)
            if args.fixed_rate > 0:
                results["fixed_rate"] = fixed_rate(targets, args)
            if args.idle_connections > 0 and "gw-bare" in targets:
                results["idle"] = idle_connections(children, targets["gw-bare"], args)
            if sink_port:
                results["otlp_sink"] = sink_stats(sink_port)
        except BenchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            children.kill_all()
            while _POSTGRES:
                _POSTGRES.pop().close()
    results["elapsed_s"] = time.monotonic() - started
    results["loadavg_at_end"] = os.getloadavg()
    print_table(results, {n: WORKLOADS[n][3] for n in args.workloads}, args)
    print_extras(results, args)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{dt.datetime.now(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out}  (elapsed {results['elapsed_s']:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers_scaling:
        from bench_workers import run_scaling

        args.workloads = args.workloads[:1]  # one workload: chat unless --workloads says otherwise
        return run_scaling(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
