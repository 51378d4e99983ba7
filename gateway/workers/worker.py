"""One `--workers` worker: the gateway on the shared ports, and a private socket for the supervisor.

Started by the supervisor as `python -m gateway.workers.worker --slot I --socket PATH --source NAME`,
with the config text (already validated by the supervisor) framed on stdin as `<length>\\n<bytes>`.
stdin then stays open as a lifeline: when it reaches EOF the supervisor is gone (even SIGKILLed),
and the worker drains and exits rather than keep serving unsupervised.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import BinaryIO

from gateway.admin.servers import admin_handler, stats_handler
from gateway.app import MGMT_HTTP, App
from gateway.config import dump_config, load_config_text
from gateway.config.model import GatewayConfig
from gateway.server.server import start_unix_server
from gateway.server.types import Handler, Request, Responder
from gateway.telemetry.access_log import AccessLog

log = logging.getLogger("agentgateway")


def read_config(stream: BinaryIO) -> str:
    header = stream.readline()
    size = int(header)
    data = stream.read(size)
    if len(data) != size:
        raise EOFError(f"config truncated: {len(data)} of {size} bytes")
    return data.decode("utf-8")


def frame_config(text: str) -> bytes:
    data = text.encode("utf-8")
    return f"{len(data)}\n".encode() + data


class WorkerApp(App):
    def __init__(self, config: GatewayConfig, socket_path: str) -> None:
        super().__init__(config, lambda: dump_config(config), reuse_port=True)
        self.socket_path = socket_path

    async def start_management(self) -> None:
        """Instead of the TCP management ports (the supervisor owns them): the private socket."""
        os.makedirs(os.path.dirname(self.socket_path), mode=0o700, exist_ok=True)
        if os.path.exists(self.socket_path):  # left by the worker this one replaces
            os.unlink(self.socket_path)
        server = await start_unix_server(self._private_handler(), self.socket_path, MGMT_HTTP, self._mgmt_state)
        self._mgmt_servers.append(server)
        asyncio.get_running_loop().add_reader(0, self._on_lifeline)

    async def drain(self) -> None:
        await super().drain()
        # The supervisor removes the directory; if it was killed, the last worker out does.
        with contextlib.suppress(OSError):
            os.unlink(self.socket_path)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.socket_path))  # fails while a sibling's socket is still there

    def _private_handler(self) -> Handler:
        stats = stats_handler(self.gateway.metrics)
        admin = admin_handler(self._config_dump, self.stopping.set,
                              log_level=self.gateway.telemetry.access_log.set_level)

        async def handle(req: Request, resp: Responder) -> None:
            if req.path == "/healthz/ready":
                await self.readiness.handle(req, resp)
            elif req.path == "/metrics":
                await stats(req, resp)
            else:
                await admin(req, resp)

        return handle

    def _on_lifeline(self) -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(0)
            if not self.stopping.is_set():
                log.warning("supervisor is gone; draining")
                self.stopping.set()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentgateway-worker", description="internal: one --workers worker")
    p.add_argument("--slot", type=int, required=True)
    p.add_argument("--socket", required=True, help="private unix socket path")
    p.add_argument("--source", default="config.yaml", help="the config's name in messages")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), stream=sys.stderr,
                        format=f"%(asctime)s\t%(levelname)s\t%(name)s\tworker {args.slot}: %(message)s")
    config = load_config_text(read_config(sys.stdin.buffer), args.source, env=os.environ)
    AccessLog.shared_output = True  # the other workers write to the same stderr

    async def run() -> int:
        app = WorkerApp(config, args.socket)
        return await app.run()

    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())
    except OSError as exc:
        print(f"error: worker {args.slot}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
