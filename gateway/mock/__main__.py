"""`python -m gateway.mock --port N [--host H] [--latency-ms X]`: run the mock provider."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from gateway.mock.server import MockProvider


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m gateway.mock",
        description="Mock OpenAI/Anthropic chat provider for tests and benchmarks.",
    )
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="delay before every response unless the request sets x-mock-delay-ms")
    ap.add_argument("--record", action="store_true",
                    help="keep a (bounded) in-memory record of requests; off by default since a "
                         "standalone process has nobody to read it")
    ap.add_argument("--no-uvloop", action="store_true", help="use the stock asyncio event loop")
    return ap.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    mock = MockProvider(args.host, args.port, args.latency_ms, record=args.record)
    await mock.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Printed only once the socket is bound: scripts wait for this line (and parse the port).
    print(f"mock provider listening on http://{args.host}:{mock.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await mock.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.no_uvloop:
        asyncio.run(serve(args))
    else:
        try:
            import uvloop
        except ImportError:
            asyncio.run(serve(args))
        else:
            uvloop.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
