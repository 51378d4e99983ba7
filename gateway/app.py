"""Process lifecycle: start the binds and the management servers, wait for a signal, drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from gateway import __version__
from gateway.admin.servers import Readiness, admin_handler, stats_handler
from gateway.config.model import FrontendHTTP, GatewayConfig, HostPort
from gateway.fastpath import IMPL as FASTPATH_IMPL
from gateway.ledger.api import spend_api
from gateway.proxy.gateway import Gateway
from gateway.server.server import shutdown, start_server
from gateway.server.state import ServerState
from gateway.server.types import Handler
from gateway.telemetry.access_log import python_level

log = logging.getLogger("agentgateway")

# Management endpoints answer small requests; they need no LLM-sized buffers.
MGMT_HTTP = FrontendHTTP(max_buffer_size=64 * 1024, http1_idle_timeout=60.0)
_MGMT_DRAIN = 1.0
# `config:` keys the loader accepts for later features but that nothing applies yet.
_NOT_APPLIED = ("histograms", "sensitiveHeaders", "workerThreads",
                "connectionMinTerminationDeadline")


class App:
    def __init__(self, config: GatewayConfig, config_dump: Callable[[], dict[str, Any]], *,
                 reuse_port: bool = False) -> None:
        self.config = config
        # True in a `--workers` worker: its siblings listen on the same ports (SO_REUSEPORT).
        self.reuse_port = reuse_port
        self.gateway = Gateway(config)
        self.readiness = Readiness()
        self.stopping = asyncio.Event()
        self._config_dump = config_dump
        self._state = ServerState()
        self._mgmt_state = ServerState()
        self._servers: list[asyncio.AbstractServer] = []
        self._mgmt_servers: list[asyncio.AbstractServer] = []

    async def start(self) -> None:
        """Bind every port; raises OSError naming the address when one cannot be bound."""
        proc = self.config.process
        log.info("agentgateway-py %s, fast path: %s", __version__, FASTPATH_IMPL)
        extra = dict(proc.extra)
        for key in _NOT_APPLIED:
            if key in extra:
                log.warning("config.%s is accepted but not applied by this gateway yet", key)
        if proc.telemetry.logging.level != "info":  # info is the default; LOG_LEVEL may still lower it
            logging.getLogger().setLevel(python_level(proc.telemetry.logging.level))
        await self.gateway.start()
        self.gateway.metrics.watch_connections(lambda: self._state.connections_accepted)
        await self.start_management()
        for bind in self.config.binds:
            addr = HostPort(bind.address, bind.port)
            handler = self.gateway.handler_for(bind)
            self._servers.append(await self._listen(handler, addr, self.config.frontend.http, self._state, "bind",
                                                    self.reuse_port))
        self.readiness.mark_ready("binds")

    async def start_management(self) -> None:
        """The readiness, stats and admin servers (a `--workers` worker serves a private socket instead)."""
        proc = self.config.process
        mgmt: list[tuple[HostPort | None, Handler, str]] = [
            (proc.readiness_addr, self.readiness.handle, "readiness"),
            (proc.stats_addr, stats_handler(self.gateway.metrics), "stats"),
            (proc.admin_addr, admin_handler(self._config_dump, self.stopping.set, spend_api(proc.cost),
                                              log_level=self.gateway.telemetry.access_log.set_level), "admin"),
        ]
        for addr, handler, name in mgmt:
            if addr is not None:
                self._mgmt_servers.append(await self._listen(handler, addr, MGMT_HTTP, self._mgmt_state, name))

    @staticmethod
    async def _listen(handler: Handler, addr: HostPort, settings: FrontendHTTP, state: ServerState,
                      name: str, reuse_port: bool = False) -> asyncio.AbstractServer:
        try:
            server = await start_server(handler, addr.host, addr.port, settings, state, reuse_port)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot listen on {addr} ({name}): {exc.strerror}") from None
        log.info("%s listening on %s", name, addr)
        return server

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)

    async def drain(self) -> None:
        """Stop accepting, let in-flight requests (streams too) finish up to the deadline."""
        deadline = self.config.process.connection_termination_deadline
        log.info("draining (deadline %.1fs)", deadline)
        self.readiness.pending.add("draining")  # load balancers stop sending while in-flight requests finish
        await shutdown(self._servers, self._state, deadline)
        await shutdown(self._mgmt_servers, self._mgmt_state, _MGMT_DRAIN)
        await self.gateway.close()
        await self.gateway.telemetry.close()  # flush access log and spans after the last request

    async def run(self) -> int:
        await self.start()
        self.install_signal_handlers()
        await self.stopping.wait()
        await self.drain()
        return 0
