"""Command line, drop-in compatible with agentgateway's: -f/--file, -c/--config, --validate-only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

import orjson

from gateway import __version__
from gateway.config import ConfigErrors, dump_config, load_config_file, load_config_text
from gateway.config.model import GatewayConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentgateway", description="LLM gateway (agentgateway-compatible)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("-f", "--file", help="config file ('-' reads stdin)")
    src.add_argument("-c", "--config", help="inline YAML config")
    p.add_argument("--validate-only", action="store_true", help="check the config and exit")
    p.add_argument("-V", dest="plain_version", action="store_true", help="print the version")
    p.add_argument("--version", action="store_true", help="print version information as JSON")
    return p


def _load(args: argparse.Namespace) -> GatewayConfig:
    if args.config is not None:
        return load_config_text(args.config, source_name="<inline>", env=os.environ)
    path = args.file or "config.yaml"
    return load_config_file(path, env=os.environ)


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
        config = _load(args)
    except ConfigErrors as errs:
        print(str(errs), file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot read config: {exc}", file=sys.stderr)
        return 1
    if args.validate_only:
        print("configuration is valid")
        return 0
    return _serve(config)


def _serve(config: GatewayConfig) -> int:
    from gateway.app import App

    async def run() -> int:
        app = App(config, lambda: dump_config(config))
        return await app.run()

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
