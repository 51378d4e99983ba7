"""Instructions per request under callgrind: a measure of the gateway's per-request work that other
processes on the machine cannot disturb (CPU time moves by ±15% on a shared VM; this moves by <1%).

    .venv/bin/python benchmarks/bench_instr.py                   # bare gateway in front of the mock
    .venv/bin/python benchmarks/bench_instr.py --variant cost --requests 1000
    .venv/bin/python benchmarks/bench_instr.py --target direct   # the mock provider itself

The measured process runs under `valgrind --tool=callgrind` (about 50x slower, so keep --requests
small); the mock upstream and the closed-loop client (`bench_load.py closed`) run natively. After a
warm-up the counters are zeroed (`callgrind_control -z`), --requests requests are sent, and the
counters dumped (`callgrind_control -d`): instructions (Ir) / requests. The dump can be opened with
`callgrind_annotate` or kcachegrind for a per-C-function breakdown (Python frames are not visible
to callgrind; use `bench_quick.py --profile` for those). Needs valgrind (apt-get install valgrind).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_configs import VARIANTS, gateway_config
from bench_procs import REPO, BenchError, Children, free_ports, wait_http, wait_port
from bench_quick import BODY, LOAD, PATH


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=("gateway", "direct"), default="gateway")
    ap.add_argument("--variant", choices=[v for v in VARIANTS if v != "trace"], default="bare")
    ap.add_argument("--requests", type=int, default=500, help="measured requests (default 500)")
    ap.add_argument("--warmup", type=int, default=200, help="requests before the counters are zeroed")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--keep", type=Path, help="copy the callgrind dump here")
    ap.add_argument("--repo", type=Path, default=REPO, help="run the gateway from this checkout (before/after)")
    return ap.parse_args(argv)


def control(flag: str, pid: int) -> None:
    out = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True, timeout=120,
                         check=False)
    if out.returncode != 0:
        raise BenchError(f"callgrind_control {flag} failed: {out.stdout}{out.stderr}")


def load(port: int, requests: int, connections: int) -> None:
    cmd = [sys.executable, str(LOAD), "closed", f"http://127.0.0.1:{port}{PATH}", str(BODY), "--requests",
           str(requests), "--connections", str(connections), "--timeout", "900"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1000, check=False)
    if out.returncode != 0 or '"errors": []' not in out.stdout or '"non_2xx": 0' not in out.stdout:
        raise BenchError(f"load failed: {out.stdout[-1000:]}{out.stderr[-1000:]}")


def total_ir(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise BenchError(f"no totals in {dump}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("error: valgrind not found (apt-get install valgrind)", file=sys.stderr)
        return 2
    children = Children()
    try:
        with tempfile.TemporaryDirectory(prefix="gw-instr-") as tmp_s:
            tmp = Path(tmp_s)
            out_file = tmp / "callgrind.out"
            grind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}.%p"]
            mock_port, gw_port, sse, admin, stats, ready = free_ports(6)
            mock_cmd = [sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1", "--port", str(mock_port)]
            log = tmp / "mock.log"
            with open(log, "wb") as f:
                mock = children.spawn("mock", (grind if args.target == "direct" else []) + mock_cmd, cwd=REPO,
                                      stdout=f, stderr=subprocess.STDOUT)
            wait_port(mock_port, mock, 300, "mock provider", log)
            measured, port = mock, mock_port
            if args.target == "gateway":
                ports = {"json": gw_port, "sse": sse, "up_json": mock_port, "up_sse": mock_port, "admin": admin,
                         "stats": stats, "ready": ready, "sink": 0}
                config = tmp / "gateway.yaml"
                config.write_text(gateway_config(args.variant, ports, access_log=False))
                log = tmp / "gateway.log"
                with open(log, "wb") as f:
                    measured = children.spawn("gateway", grind + [sys.executable, "-m", "gateway", "-f", str(config)],
                                              cwd=args.repo.resolve(), stdout=f, stderr=subprocess.STDOUT)
                wait_http(f"http://127.0.0.1:{ready}/healthz/ready", measured, 600, "gateway", log)
                port = gw_port
            load(port, args.warmup, args.connections)
            control("-z", measured.pid)
            started = time.monotonic()
            load(port, args.requests, args.connections)
            control("-d", measured.pid)
            dumps = sorted(tmp.glob("callgrind.out.*"), key=lambda p: p.stat().st_mtime)
            if not dumps:
                raise BenchError("callgrind wrote no dump")
            ir = total_ir(dumps[-1])
            if args.keep:
                shutil.copyfile(dumps[-1], args.keep)
            name = f"gw-{args.variant}" if args.target == "gateway" else "direct (mock)"
            print(f"{name}: {ir / args.requests:,.0f} instructions/request "
                  f"({args.requests} requests, {args.connections} connections, {time.monotonic() - started:.0f} s "
                  f"under callgrind)")
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        children.kill_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
