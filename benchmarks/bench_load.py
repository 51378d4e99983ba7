"""Load generators that wrk cannot do, run as a subprocess so bench.py can pin them to the load core.

    python benchmarks/bench_load.py fixed URL BODY_FILE --rate 3000 --duration 10
    python benchmarks/bench_load.py idle URL BODY_FILE --connections 10000 --hold 3
    python benchmarks/bench_load.py otlp-sink --port N

`fixed` is open-loop: request i is due at t0 + i/rate whether or not earlier ones have answered,
and its latency is measured from that due time, so a stalled server shows up in the tail instead of
silently slowing the sender (wrk's closed loop hides this: "coordinated omission"). It prints one
JSON line. `idle` opens N keep-alive connections, sends one request on each, prints a JSON line
"holding", keeps them idle for --hold seconds, re-uses a sample of them and prints a final line.
`otlp-sink` accepts OTLP/HTTP trace exports and discards them (GET /stats returns its counts), so
tracing at 100% can be measured without a collector's decoding cost on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

EXTRA_HEADERS = b"anthropic-version: 2023-06-01\r\nx-user-id: bench-user\r\nx-team-id: bench-team\r\n"


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n").encode()
    return head + EXTRA_HEADERS + b"\r\n" + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) after reading one whole response (content-length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            await reader.readexactly(size + 2)
    else:
        at = lower.find(b"content-length:")
        if at < 0:
            raise ValueError("response without content-length or chunked encoding")
        length = int(lower[at + 15:lower.index(b"\r\n", at)])
        await reader.readexactly(length)
    return status, b"connection: close" not in lower


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass
class FixedRate:
    host: str
    port: int
    request: bytes
    max_conns: int
    idle: list[Conn] = field(default_factory=list)
    opened: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    dropped: int = 0

    async def connect(self) -> Conn:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def one(self, due: float, record: bool) -> None:
        loop = asyncio.get_running_loop()
        if self.idle:
            conn = self.idle.pop()
        elif self.opened < self.max_conns:
            conn = await self.connect()
        else:
            self.dropped += 1
            return
        try:
            conn[1].write(self.request)
            status, keep = await read_response(conn[0])
        except (OSError, ValueError, asyncio.IncompleteReadError):
            self.errors += 1
            self.opened -= 1
            conn[1].close()
            return
        if record:
            self.latencies.append(loop.time() - due)
            self.statuses[status] = self.statuses.get(status, 0) + 1
        if keep:
            self.idle.append(conn)
        else:
            self.opened -= 1
            conn[1].close()

    async def run(self, rate: float, duration: float, record: bool) -> float:
        """Send rate*duration requests on schedule; returns the wall time until the last answer."""
        loop = asyncio.get_running_loop()
        total = int(rate * duration)
        tasks: set[asyncio.Task[None]] = set()
        t0 = loop.time() + 0.01
        i = 0
        while i < total:
            now = loop.time()
            while i < total and t0 + i / rate <= now:
                task = asyncio.create_task(self.one(t0 + i / rate, record))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        return loop.time() - t0


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q / 100 * len(sorted_values)))]


async def fixed_main(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    gen = FixedRate(host, port, build_request(host, port, url.path, open(args.body_file, "rb").read()),
                    args.max_connections)
    gen.idle.extend([await gen.connect() for _ in range(args.preopen)])
    await gen.run(args.rate, args.warmup, record=False)
    cpu0 = time.process_time()
    elapsed = await gen.run(args.rate, args.duration, record=True)
    # The generator's own CPU: near 100% means it, not the server, set the tail.
    own_cpu = 100 * (time.process_time() - cpu0) / elapsed if elapsed > 0 else 0.0
    lat = sorted(x * 1000 for x in gen.latencies)
    ok = sum(n for s, n in gen.statuses.items() if 200 <= s < 300)
    return {"target_rate": args.rate, "duration_s": args.duration, "sent": int(args.rate * args.duration),
            "completed": len(lat), "achieved_rate": len(lat) / elapsed if elapsed > 0 else 0.0,
            "non_2xx": len(lat) - ok, "errors": gen.errors, "dropped": gen.dropped,
            "connections_used": gen.opened, "generator_cpu_pct": own_cpu,
            "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90), "p99_ms": percentile(lat, 99),
            "p999_ms": percentile(lat, 99.9), "max_ms": lat[-1] if lat else float("nan"),
            "mean_ms": statistics.fmean(lat) if lat else float("nan")}


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-files limit toward `wanted` (never above the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


async def idle_main(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = build_request(host, port, url.path, open(args.body_file, "rb").read())
    limit = raise_nofile(args.connections + 64)
    wanted = min(args.connections, limit - 64)
    conns: list[Conn] = []
    errors: list[str] = []

    async def open_one() -> None:
        try:
            conn = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
            conn[1].write(request)
            status, _ = await asyncio.wait_for(read_response(conn[0]), 10)
            if status != 200:
                errors.append(f"status {status}")
            conns.append(conn)
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
            errors.append(type(e).__name__)

    started = time.monotonic()
    for at in range(0, wanted, args.batch):
        await asyncio.gather(*(open_one() for _ in range(min(args.batch, wanted - at))))
    print(json.dumps({"phase": "holding", "requested": args.connections, "nofile_limit": limit,
                      "attempted": wanted, "open": len(conns), "errors": len(errors),
                      "error_kinds": sorted(set(errors))[:5], "open_s": time.monotonic() - started}), flush=True)
    await asyncio.sleep(args.hold)
    sample = conns[:: max(1, len(conns) // args.reuse_sample)] if conns else []
    reuse_ok = 0
    for reader, writer in sample:  # the held connections must still work, not just be open
        try:
            writer.write(request)
            status, _ = await asyncio.wait_for(read_response(reader), 10)
            reuse_ok += status == 200
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
    for _, writer in conns:
        writer.close()
    return {"phase": "done", "open": len(conns), "errors": len(errors), "reused": len(sample), "reuse_ok": reuse_ok}


class SinkStats:
    exports = 0
    bytes = 0


async def sink_handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15:lower.index(b"\r\n", at)]) if at >= 0 else 0
            await reader.readexactly(length)
            if head.startswith(b"GET /stats"):
                body = json.dumps({"exports": SinkStats.exports, "bytes": SinkStats.bytes}).encode()
                ctype = b"application/json"
            else:
                SinkStats.exports += 1
                SinkStats.bytes += length
                body, ctype = b"", b"application/x-protobuf"  # an empty ExportTraceServiceResponse
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
    except (OSError, ValueError, asyncio.IncompleteReadError):
        writer.close()


async def sink_main(args: argparse.Namespace) -> None:
    server = await asyncio.start_server(sink_handle, "127.0.0.1", args.port)
    print(f"otlp sink listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await asyncio.sleep(args.max_seconds)  # bounded: bench.py kills it long before


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    fixed = sub.add_parser("fixed", help="open-loop fixed-rate load")
    fixed.add_argument("url")
    fixed.add_argument("body_file")
    fixed.add_argument("--rate", type=float, default=3000.0)
    fixed.add_argument("--duration", type=float, default=10.0)
    fixed.add_argument("--warmup", type=float, default=1.0)
    fixed.add_argument("--preopen", type=int, default=32, help="keep-alive connections opened before t0")
    fixed.add_argument("--max-connections", type=int, default=512)
    idle = sub.add_parser("idle", help="hold many idle keep-alive connections")
    idle.add_argument("url")
    idle.add_argument("body_file")
    idle.add_argument("--connections", type=int, default=10000)
    idle.add_argument("--hold", type=float, default=3.0)
    idle.add_argument("--batch", type=int, default=500)
    idle.add_argument("--reuse-sample", type=int, default=200)
    sink = sub.add_parser("otlp-sink", help="OTLP/HTTP trace sink that discards exports")
    sink.add_argument("--port", type=int, default=0)
    sink.add_argument("--max-seconds", type=float, default=3600.0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cmd == "fixed":
        print(json.dumps(asyncio.run(fixed_main(args))), flush=True)
    elif args.cmd == "idle":
        print(json.dumps(asyncio.run(idle_main(args))), flush=True)
    else:
        asyncio.run(sink_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
