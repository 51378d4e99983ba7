"""Benchmark runner: wrk against the mock provider directly and through the gateway.

    .venv/bin/python benchmarks/bench.py                 # mock direct vs via gateway
    .venv/bin/python benchmarks/bench.py --direct-only   # only the mock (no gateway needed)

Rounds alternate (direct, gateway, direct, gateway, ...) so slow drift of a noisy machine hits
both sides alike; the table reports medians across rounds and the gateway/direct ratio. See
benchmarks/README.md for what the numbers mean and their caveats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
LUA = HERE / "chat.lua"
BENCH_KEY = "bench-key"
DEFAULT_GATEWAY_CMD = "{python} -m gateway -f {config}"
METRICS = ("rps", "p50_ms", "p90_ms", "p99_ms", "non_2xx")


class BenchError(Exception):
    """A setup failure with a message meant for the user (no traceback needed)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per target (default 3)")
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run (default 5)")
    ap.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of discarded warm-up per target")
    ap.add_argument("--direct-only", action="store_true", help="benchmark only the mock, no gateway")
    ap.add_argument("--gateway-cmd", default=DEFAULT_GATEWAY_CMD,
                    help="gateway command; {python} and {config} are substituted "
                         f"(default: {DEFAULT_GATEWAY_CMD!r})")
    ap.add_argument("--mock-latency-ms", type=float, default=0.0,
                    help="mock's delay before each response (default 0: measure pure overhead)")
    ap.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for readiness")
    ap.add_argument("--no-pin", action="store_true", help="do not pin processes with taskset")
    ap.add_argument("--no-latency-run", action="store_true", help="skip the 1-connection latency run")
    ap.add_argument("--results-dir", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.threads > args.connections:
        ap.error("--threads must not exceed --connections (wrk requirement)")
    for name in ("rounds", "duration", "connections", "threads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    return args


# ---------------------------------------------------------------------------- processes


class Children:
    """Child processes, each in its own session so the whole group can be killed on exit."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self, name: str, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append((name, proc))
        return proc

    def kill_all(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)


def free_ports(n: int) -> list[int]:
    """n distinct free ports (sockets held open together so they cannot repeat)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def pin_prefixes(no_pin: bool) -> tuple[list[str], list[str], str]:
    """(server prefix, wrk prefix, description). Servers on core 0, wrk on core 1: the load
    generator must never steal CPU from what it measures; with <2 cores pinning would do harm."""
    taskset = shutil.which("taskset")
    cpus = os.cpu_count() or 1
    if no_pin:
        return [], [], "disabled (--no-pin)"
    if taskset is None:
        return [], [], "unavailable (no taskset)"
    if cpus < 2:
        return [], [], f"skipped ({cpus} CPU)"
    return [taskset, "-c", "0"], [taskset, "-c", "1"], "servers on core 0, wrk on core 1"


def start_mock(children: Children, prefix: list[str], latency_ms: float, timeout: float) -> int:
    cmd = prefix + [sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1", "--port", "0",
                    "--latency-ms", str(latency_ms)]
    proc = children.spawn("mock", cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
    line = buf.decode(errors="replace").strip()
    prefix_text = "mock provider listening on http://127.0.0.1:"
    if not line.startswith(prefix_text):
        err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
        raise BenchError(f"mock did not start (first output {line!r}) {err[-2000:]}")
    return int(line.splitlines()[0].removeprefix(prefix_text))


def gateway_config(port: int, mock_port: int, admin: int, stats: int, ready: int) -> str:
    cfg = {
        "config": {"adminAddr": f"127.0.0.1:{admin}", "statsAddr": f"127.0.0.1:{stats}",
                   "readinessAddr": f"127.0.0.1:{ready}"},
        "binds": [{"port": port, "listeners": [{"routes": [{
            "backends": [{"ai": {"name": "openai", "provider": {"openAI": {}},
                                 "hostOverride": f"127.0.0.1:{mock_port}"}}],
            "policies": {"backendAuth": {"key": BENCH_KEY}},
        }]}]}],
    }
    # JSON is valid YAML, and this avoids depending on a YAML emitter's formatting choices.
    return json.dumps(cfg, indent=2) + "\n"


def start_gateway(children: Children, prefix: list[str], cmd_template: str, mock_port: int,
                  workdir: Path, timeout: float) -> tuple[int, Path]:
    port, admin, stats, ready = free_ports(4)
    config = workdir / "gateway.yaml"
    config.write_text(gateway_config(port, mock_port, admin, stats, ready))
    cmd = prefix + [a.format(python=sys.executable, config=str(config))
                    for a in shlex.split(cmd_template)]
    log_path = workdir / "gateway.log"
    # A file, not a pipe: a chatty gateway must never block on a full pipe mid-benchmark.
    with open(log_path, "wb") as log:
        proc = children.spawn("gateway", cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ready}/healthz/ready"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gateway exited with code {proc.returncode} before becoming ready.\n"
                             f"command: {shlex.join(cmd)}\nconfig: {config}\n"
                             f"log tail:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return port, log_path
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise BenchError(f"gateway not ready after {timeout:.0f}s ({url} never returned 200).\n"
                     f"command: {shlex.join(cmd)}\nlog tail:\n{tail(log_path)}")


def tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_bytes()[-n:].decode(errors="replace")
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------- wrk


def lua_body() -> bytes:
    """The body chat.lua sends, for the preflight request (so both send the same bytes)."""
    text = LUA.read_text()
    start = text.index("wrk.body = ") + len("wrk.body = ")
    end = text.index("\n\n", start)
    parts = [seg.split("'")[1] for seg in text[start:end].split("..")]
    return "".join(parts).encode()


def preflight(name: str, url: str) -> dict[str, str]:
    """One request before measuring: a benchmark of error responses would be meaningless."""
    req = urllib.request.Request(url, data=lua_body(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            json.loads(resp.read())
            return {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as e:
        raise BenchError(f"{name}: preflight POST {url} -> {e.code}: {e.read()[:500]!r}") from e
    except (OSError, ValueError) as e:
        raise BenchError(f"{name}: preflight POST {url} failed: {e}") from e


def run_wrk(prefix: list[str], url: str, connections: int, threads: int, duration: int) -> dict[str, Any]:
    cmd = prefix + ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
                    "-s", str(LUA), url]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"wrk did not finish: {shlex.join(cmd)}") from e
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            return result
    raise BenchError(f"no WRK_JSON line from wrk (rc={out.returncode}):\n{out.stdout}\n{out.stderr}")


def median_of(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {m: statistics.median(r[m] for r in runs) for m in METRICS}


# --------------------------------------------------------------------------------- main


def fmt_row(name: str, m: dict[str, float]) -> str:
    return (f"{name:<14}{m['rps']:>12,.0f}{m['p50_ms']:>10.3f}{m['p90_ms']:>10.3f}"
            f"{m['p99_ms']:>10.3f}{m['non_2xx']:>10.0f}")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("wrk not found. Install it with:  apt-get install wrk   (Debian/Ubuntu, as root)\n"
              "or build it from https://github.com/wg/wrk", file=sys.stderr)
        return 2
    server_pin, wrk_pin, pin_desc = pin_prefixes(args.no_pin)
    children = Children()
    # SIGTERM would otherwise skip `finally` and orphan the servers.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "pinning": pin_desc},
        "rounds": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        try:
            mock_port = start_mock(children, server_pin, args.mock_latency_ms, args.ready_timeout)
            targets = {"mock direct": f"http://127.0.0.1:{mock_port}/v1/chat/completions"}
            preflight("mock direct", targets["mock direct"])
            if not args.direct_only:
                gw_port, log_path = start_gateway(children, server_pin, args.gateway_cmd, mock_port,
                                                  Path(tmp), args.ready_timeout)
                targets["via gateway"] = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
                headers = preflight("via gateway", targets["via gateway"])
                results["gateway_auth_seen_by_mock"] = headers.get("x-mock-auth-header", "(not forwarded)")
            print(f"pinning: {pin_desc}; targets: {targets}", flush=True)

            if args.warmup > 0:
                for url in targets.values():
                    run_wrk(wrk_pin, url, args.connections, args.threads, args.warmup)
            per_target: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
            for i in range(args.rounds):
                for name, url in targets.items():  # alternate: drift affects both sides alike
                    r = run_wrk(wrk_pin, url, args.connections, args.threads, args.duration)
                    per_target[name].append(r)
                    results["rounds"].append({"round": i, "target": name, **r})
                    print(f"  round {i + 1}/{args.rounds} {name:<12} {r['rps']:>10,.0f} req/s  "
                          f"p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  non-2xx {r['non_2xx']}",
                          flush=True)
            medians = {name: median_of(runs) for name, runs in per_target.items()}
            results["medians"] = medians

            single: dict[str, dict[str, Any]] = {}
            if not args.no_latency_run:
                for name, url in targets.items():
                    single[name] = run_wrk(wrk_pin, url, 1, 1, args.duration)
                results["single_connection"] = single
        except BenchError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        finally:
            children.kill_all()

    print()
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds, "
          f"medians; pinning: {pin_desc}")
    print(f"{'':<14}{'req/s':>12}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, m in medians.items():
        print(fmt_row(name, m))
    if "via gateway" in medians:
        d, g = medians["mock direct"], medians["via gateway"]
        ratio = {m: (g[m] / d[m] if d[m] else float("nan")) for m in METRICS if m != "non_2xx"}
        results["ratio_gateway_over_direct"] = ratio
        print(f"{'gw/direct':<14}{ratio['rps']:>12.3f}{ratio['p50_ms']:>10.2f}{ratio['p90_ms']:>10.2f}"
              f"{ratio['p99_ms']:>10.2f}")
    if single:
        print("\n1 connection (latency):")
        for name, r in single.items():
            print(f"  {name:<12} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  {r['rps']:,.0f} req/s")
        if "via gateway" in single:
            added = single["via gateway"]["p50_ms"] - single["mock direct"]["p50_ms"]
            results["added_p50_ms_single_connection"] = added
            print(f"  added p50 latency via gateway: {added:.3f} ms")

    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.results_dir / f"{stamp}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults: {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
