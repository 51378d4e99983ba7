"""Command line, drop-in compatible with agentgateway's: -f/--file, -c/--config, --validate-only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from gateway import __version__
from gateway.config import ConfigErrors, dump_config, load_config_text, read_config_file
from gateway.config.model import GatewayConfig
from gateway.workers.checks import memory_state_refusal


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentgateway", description="LLM gateway (agentgateway-compatible)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("-f", "--file", help="config file ('-' reads stdin)")
    src.add_argument("-c", "--config", help="inline YAML config")
    p.add_argument("--validate-only", action="store_true", help="check the config and exit")
    p.add_argument("--workers", type=_workers, default=1, metavar="N|auto",
                   help="worker processes sharing the ports (default 1; auto: one per usable CPU)")
    p.add_argument("-V", dest="plain_version", action="store_true", help="print the version")
    p.add_argument("--version", action="store_true", help="print version information as JSON")
    return p


def _workers(value: str) -> int:
    if value == "auto":
        return usable_cpus()
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1 or auto, got {value!r}")
    return n


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset or taskset), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _source(args: argparse.Namespace) -> tuple[str, str]:
    """(raw config text, its name in messages)."""
    if args.config is not None:
        return args.config, "<inline>"
    return read_config_file(args.file or "config.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:  # `agentgateway report ...`: chargeback from the ledger file
        from gateway.ledger.report import main as report_main

        return report_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.plain_version:
        print(__version__)
        return 0
    if args.version:
        print(orjson.dumps({"version": __version__, "implementation": "agentgateway-py"}).decode())
        return 0
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s\t%(levelname)s\t%(name)s\t%(message)s", stream=sys.stderr)
    try:
        text, source_name = _source(args)
        config = load_config_text(text, source_name, env=os.environ)
    except ConfigErrors as errs:
        print(str(errs), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read config: {exc}", file=sys.stderr)
        return 1
    refusal = memory_state_refusal(config, args.workers)
    if refusal is not None:
        print(f"error: {refusal}", file=sys.stderr)
        return 1
    if args.validate_only:
        print("configuration is valid")
        return 0
    if args.workers > 1:
        return _supervise(config, text, source_name, args.workers)
    return _serve(config)


def _serve(config: GatewayConfig) -> int:
    from gateway.app import App

    async def run() -> int:
        app = App(config, lambda: dump_config(config))
        return await app.run()

    return _run_loop(run)


def _supervise(config: GatewayConfig, text: str, source_name: str, workers: int) -> int:
    from gateway.workers.supervisor import Supervisor

    async def run() -> int:
        return await Supervisor(config, text, source_name, workers).run()

    return _run_loop(run)


def _run_loop(run: Callable[[], Coroutine[Any, Any, int]]) -> int:
    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:  # uvloop is a dependency; plain asyncio still works without it
        return asyncio.run(run())
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
