"""Load generators that wrk cannot do, run as a subprocess so bench.py can pin them to the load core.

    python benchmarks/bench_load.py fixed URL BODY_FILE --rate 3000 --duration 10
    python benchmarks/bench_load.py idle URL BODY_FILE --connections 10000 --hold 3
    python benchmarks/bench_load.py closed URL BODY_FILE --requests 5000 --connections 16
    python benchmarks/bench_load.py otlp-sink --port N

`fixed` is open-loop: request i is due at t0 + i/rate whether or not earlier ones have answered,
and its latency is measured from that due time, so a stalled server shows up in the tail instead of
silently slowing the sender (wrk's closed loop hides this: "coordinated omission"). It prints one
JSON line. `idle` opens N keep-alive connections, sends one request on each, prints a JSON line
"holding", keeps them idle for --hold seconds, re-uses a sample of them and prints a final line.
`closed` sends exactly --requests requests over --connections keep-alive connections, each
connection sending its next request when the previous answer is complete (closed loop, like wrk but
with a fixed count, so a measured server's CPU seconds divide by a known number of requests), and
prints one JSON line. `otlp-sink` accepts OTLP/HTTP trace exports and discards them (GET /stats returns its counts), so
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


class _ClosedConn(asyncio.Protocol):
    """One keep-alive connection of the closed-loop client: answers are framed by content-length
    (or chunked coding), parsed with bytes.find on the buffer (cheap, so the client is rarely the
    bottleneck)."""

    def __init__(self, run: ClosedLoop) -> None:
        self.run = run
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.send()

    def send(self) -> None:
        if self.run.take() and self.transport is not None:
            self.sent_at = time.perf_counter()
            self.transport.write(self.run.request)
        elif self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            at = head.find(b"content-length:")
            if at >= 0:
                nl = head.find(b"\r\n", at)
                total = end + 4 + int(head[at + 15:nl if nl >= 0 else len(head)])
            elif b"transfer-encoding: chunked" in head:
                last = self.buf.find(b"\r\n0\r\n\r\n", end)
                if last < 0:
                    return
                total = last + 7
            else:
                self.run.fail(ValueError("response without content-length or chunked coding"))
                return
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            self.run.done(int(head[9:12]), time.perf_counter() - self.sent_at)
            if b"connection: close" in head:
                self.run.fail(ValueError("server closed a keep-alive connection"))
                return
            self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.run.lost(exc)


@dataclass
class ClosedLoop:
    request: bytes
    total: int
    issued: int = 0
    completed: int = 0
    non_2xx: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    finished: asyncio.Future[None] | None = None

    def take(self) -> bool:
        if self.issued >= self.total or self.errors:
            return False
        self.issued += 1
        return True

    def done(self, status: int, latency: float) -> None:
        self.completed += 1
        self.latencies.append(latency)
        if not 200 <= status < 300:
            self.non_2xx += 1
        if self.completed >= self.total:
            self._finish()

    def fail(self, exc: BaseException) -> None:
        self.errors.append(f"{type(exc).__name__}: {exc}")
        self._finish()

    def lost(self, exc: Exception | None) -> None:
        if self.completed < self.total and exc is not None:
            self.fail(exc)

    def _finish(self) -> None:
        if self.finished is not None and not self.finished.done():
            self.finished.set_result(None)


async def closed_main(args: argparse.Namespace) -> dict[str, Any]:
    url = urlsplit(args.url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    loop = asyncio.get_running_loop()
    run = ClosedLoop(build_request(host, port, url.path, open(args.body_file, "rb").read()), args.requests)
    run.finished = loop.create_future()
    if args.max_seconds:
        def stop_issuing() -> None:  # the requests in flight still complete; none after them
            run.total = run.issued
            if run.completed >= run.total:
                run._finish()
        loop.call_later(args.max_seconds, stop_issuing)
    cpu0, t0 = time.process_time(), time.perf_counter()
    transports = []
    for _ in range(min(args.connections, args.requests)):
        transport, _ = await loop.create_connection(lambda: _ClosedConn(run), host, port)
        transports.append(transport)
    try:
        await asyncio.wait_for(run.finished, args.timeout)
    except asyncio.TimeoutError:
        run.errors.append(f"timeout after {args.timeout} s ({run.completed} of {run.total} answered)")
    elapsed = time.perf_counter() - t0
    for transport in transports:
        transport.close()
    lat = sorted(x * 1000 for x in run.latencies)
    return {"requests": run.total, "completed": run.completed, "seconds": elapsed,
            "rps": run.completed / elapsed if elapsed > 0 else 0.0, "non_2xx": run.non_2xx,
            "errors": run.errors[:5], "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
            "generator_cpu_pct": 100 * (time.process_time() - cpu0) / elapsed if elapsed > 0 else 0.0}


async def closed_serve(args: argparse.Namespace) -> None:
    """`closed --serve`: one run per JSON line on stdin ({"url", "requests", "connections",
    "max_seconds"}; body_file and timeout from the command line), one JSON line out each, until EOF.
    Saves a Python start-up per run, which on a busy machine costs more than the run itself."""
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line.strip():
            return
        cmd = json.loads(line)
        run_args = argparse.Namespace(**{**vars(args), **cmd})
        print(json.dumps(await closed_main(run_args)), flush=True)


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
    closed = sub.add_parser("closed", help="closed-loop load: a fixed number of requests")
    closed.add_argument("url", help="ignored with --serve (give any)")
    closed.add_argument("body_file")
    closed.add_argument("--serve", action="store_true", help="take runs as JSON lines on stdin")
    closed.add_argument("--requests", type=int, default=5000)
    closed.add_argument("--connections", type=int, default=16)
    closed.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    closed.add_argument("--max-seconds", type=float, default=0.0,
                        help="stop sending after this many seconds (0: send all --requests)")
    closed.add_argument("--uvloop", action="store_true", help="run on uvloop (a cheaper client)")
    sink = sub.add_parser("otlp-sink", help="OTLP/HTTP trace sink that discards exports")
    sink.add_argument("--port", type=int, default=0)
    sink.add_argument("--max-seconds", type=float, default=3600.0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cmd == "fixed":
        print(json.dumps(asyncio.run(fixed_main(args))), flush=True)
    elif args.cmd == "closed":
        if args.serve:
            import uvloop  # a gateway dependency, so always there where the gateway runs
            uvloop.run(closed_serve(args))
        elif args.uvloop:
            import uvloop
            print(json.dumps(uvloop.run(closed_main(args))), flush=True)
        else:
            print(json.dumps(asyncio.run(closed_main(args))), flush=True)
    elif args.cmd == "idle":
        print(json.dumps(asyncio.run(idle_main(args))), flush=True)
    else:
        asyncio.run(sink_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
