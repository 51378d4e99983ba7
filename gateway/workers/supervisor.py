"""`--workers N`: the supervisor process.

It owns the management ports (readiness, stats, admin) and starts N worker processes
(gateway/workers/worker.py) that listen on the `binds` with SO_REUSEPORT, so the kernel spreads
connections across them. A worker that dies is restarted with exponential backoff; SIGTERM/SIGINT
or `POST /quitquitquit` makes every worker drain, and the supervisor exits once they have.
Readiness is "every worker ready"; /metrics merges the workers' expositions (merge.py).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.admin.servers import Readiness, admin_handler, exposition_handler
from gateway.app import MGMT_HTTP
from gateway.config import dump_config
from gateway.config.model import GatewayConfig, HostPort
from gateway.ledger.api import spend_api
from gateway.server.server import shutdown, start_server
from gateway.server.state import ServerState
from gateway.server.types import Handler
from gateway.telemetry.access_log import is_level, python_level
from gateway.workers import merge
from gateway.workers.channel import WorkerChannel
from gateway.workers.worker import frame_config

log = logging.getLogger("agentgateway.supervisor")

READY_TIMEOUT = 60.0  # a worker not ready by then is killed (and restarted)
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0  # a worker that lived this long resets its slot's backoff
KILL_GRACE = 10.0  # beyond connectionTerminationDeadline (a worker also flushes telemetry)
_POLL = 0.05
_MGMT_DRAIN = 1.0


@dataclass
class Slot:
    index: int
    channel: WorkerChannel
    proc: asyncio.subprocess.Process | None = None
    ready: bool = False
    restarts: int = 0
    quick_failures: int = 0
    # The current process's last scrape; folded into the retired totals when it exits.
    metrics: list[Metric] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            return f"was killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"was killed by signal {-rc}"
    return f"exited with code {rc}"


class Supervisor:
    def __init__(self, config: GatewayConfig, config_text: str, source_name: str, workers: int) -> None:
        self.config = config
        self.workers = workers
        self._frame = frame_config(config_text)
        self._source = source_name
        # Private sockets: a directory only this user can enter (mkdtemp creates it 0700).
        self._dir = Path(tempfile.mkdtemp(prefix="agentgateway-workers-"))
        self.slots = [Slot(i, WorkerChannel(str(self._dir / f"w{i}.sock"))) for i in range(workers)]
        self.readiness = Readiness()
        self.stopping = asyncio.Event()
        self.exit_code = 0
        self._all_ready_once = False
        self._retired: list[Metric] = []
        self._log_level: str | None = None
        self._mgmt_state = ServerState()
        self._mgmt_servers: list[asyncio.AbstractServer] = []
        self._update_readiness()

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            level = self.config.process.telemetry.logging.level
            if level != "info":  # as App does: info is the default, LOG_LEVEL may still lower it
                logging.getLogger().setLevel(python_level(level))
            log.info("agentgateway-py %s: supervisor of %d workers", __version__, self.workers)
            await self._start_management()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stopping.set)
            tasks = [asyncio.create_task(self._supervise(slot)) for slot in self.slots]
            await self.stopping.wait()
            await self._drain(tasks)
            return self.exit_code
        finally:
            for slot in self.slots:
                await slot.channel.close()
            shutil.rmtree(self._dir, ignore_errors=True)

    async def _start_management(self) -> None:
        proc = self.config.process
        mgmt: list[tuple[HostPort | None, Handler, str]] = [
            (proc.readiness_addr, self.readiness.handle, "readiness"),
            (proc.stats_addr, exposition_handler(self.exposition), "stats"),
            (proc.admin_addr, admin_handler(lambda: dump_config(self.config), self.stopping.set,
                                              spend_api(proc.cost), log_level=self.set_log_level), "admin"),
        ]
        for addr, handler, name in mgmt:
            if addr is None:
                continue
            try:
                server = await start_server(handler, addr.host, addr.port, MGMT_HTTP, self._mgmt_state)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot listen on {addr} ({name}): {exc.strerror}") from None
            self._mgmt_servers.append(server)
            log.info("%s listening on %s", name, addr)

    async def _drain(self, tasks: list[asyncio.Task[None]]) -> None:
        deadline = self.config.process.connection_termination_deadline
        log.info("stopping: draining %d workers (deadline %.1fs)", self.workers, deadline)
        self._update_readiness()
        for slot in self.slots:
            self._terminate(slot)
        _, pending = await asyncio.wait(tasks, timeout=deadline + KILL_GRACE)
        if pending:
            for slot in self.slots:
                if slot.alive and slot.proc is not None:
                    log.error("worker %d (pid %d) did not exit after draining; killing it", slot.index,
                              slot.proc.pid)
                    slot.proc.kill()
            self.exit_code = 1
            await asyncio.wait(pending, timeout=5.0)
        await shutdown(self._mgmt_servers, self._mgmt_state, _MGMT_DRAIN)
        log.info("all workers stopped")

    @staticmethod
    def _terminate(slot: Slot) -> None:
        if slot.alive and slot.proc is not None:
            try:
                slot.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- one worker slot --------------------------------------------------------------------

    async def _supervise(self, slot: Slot) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            started = loop.time()
            rc = await self._run_once(slot)
            if self.stopping.is_set():
                return
            if not self._all_ready_once:
                log.error("worker %d %s before every worker was ready; stopping", slot.index, describe_exit(rc))
                self.exit_code = 1
                self.stopping.set()
                return
            slot.quick_failures = 0 if loop.time() - started >= STABLE_AFTER else slot.quick_failures + 1
            delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, slot.quick_failures - 1))
            slot.restarts += 1
            log.warning("worker %d %s; restarting it in %.1fs (restart #%d of this worker)", slot.index,
                        describe_exit(rc), delay, slot.restarts)
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
            except TimeoutError:
                pass

    async def _run_once(self, slot: Slot) -> int:
        """Start the slot's worker, wait until it exits; its exit status."""
        cmd = [sys.executable, "-m", "gateway.workers.worker", "--slot", str(slot.index),
               "--socket", slot.channel.path, "--source", self._source]
        try:
            proc = slot.proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE)
        except OSError as exc:  # e.g. out of processes or descriptors: back off like a crash
            log.error("cannot start worker %d: %s", slot.index, exc)
            return 127
        log.info("worker %d started (pid %d)", slot.index, proc.pid)
        if self.stopping.is_set():  # stop arrived while it was being spawned
            self._terminate(slot)
        assert proc.stdin is not None
        try:
            proc.stdin.write(self._frame)  # stays open: its EOF tells the worker we are gone
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # it died before reading: its exit status says why
        watch = asyncio.create_task(self._watch_ready(slot, proc))
        rc = await proc.wait()
        watch.cancel()
        proc.stdin.close()
        slot.ready = False
        self._update_readiness()
        self._retire(slot)
        return rc

    async def _watch_ready(self, slot: Slot, proc: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        while not await slot.channel.ready():
            if loop.time() > deadline:
                log.error("worker %d (pid %d) not ready after %.0fs; killing it", slot.index, proc.pid,
                          READY_TIMEOUT)
                proc.kill()
                return
            await asyncio.sleep(_POLL)
        if proc.returncode is not None:
            return
        if self._log_level is not None:  # a level set at runtime also applies to replacements
            await self._forward_level(slot, self._log_level)
        slot.ready = True
        self._update_readiness()
        log.info("worker %d (pid %d) ready", slot.index, proc.pid)
        if not self._all_ready_once and all(s.ready for s in self.slots):
            self._all_ready_once = True
            log.info("all %d workers ready", self.workers)

    def _update_readiness(self) -> None:
        pending = {f"worker {s.index}" for s in self.slots if not s.ready}
        if self.stopping.is_set():
            pending.add("draining")  # load balancers stop sending while the workers finish
        self.readiness.pending = pending

    # -- admin: metrics and log level -------------------------------------------------------

    async def exposition(self) -> bytes:
        """Deployment-wide /metrics: every live worker scraped now, merged with the totals of
        workers that exited (counters must not go backwards when a worker is replaced)."""
        await asyncio.gather(*(self._scrape(s) for s in self.slots if s.alive))
        families = merge.merge([self._retired, *(s.metrics for s in self.slots)])
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families([*families, *self._own_families()]))
        return generate_latest(registry)

    async def _scrape(self, slot: Slot) -> None:
        proc = slot.proc
        try:
            status, text = await slot.channel.request("GET", "/metrics")
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            log.debug("worker %d metrics unavailable (%s); using its last scrape", slot.index, exc)
            return
        # The process may have exited (and been retired) while we waited: never count it twice.
        if status == 200 and slot.proc is proc and slot.alive:
            slot.metrics = merge.parse(text)

    def _retire(self, slot: Slot) -> None:
        if slot.metrics:
            self._retired = merge.merge([self._retired, merge.cumulative(slot.metrics)])
        slot.metrics = []

    def _own_families(self) -> Iterator[Metric]:
        configured = GaugeMetricFamily("agentgateway_workers", "Worker processes configured (--workers)")
        configured.add_metric([], self.workers)
        yield configured
        ready = GaugeMetricFamily("agentgateway_workers_ready", "Worker processes ready to serve")
        ready.add_metric([], sum(s.ready for s in self.slots))
        yield ready
        restarts = CounterMetricFamily("agentgateway_worker_restarts", "Worker processes restarted after exiting",
                                       labels=("worker",))
        requests = CounterMetricFamily("agentgateway_worker_requests",
                                       "Requests served by the worker's current process", labels=("worker",))
        for s in self.slots:
            restarts.add_metric([str(s.index)], s.restarts)
            requests.add_metric([str(s.index)], merge.sample_sum(s.metrics, "agentgateway_requests_total"))
        yield restarts
        yield requests

    async def set_log_level(self, level: str) -> bool:
        """POST /logging: the supervisor's level, then every ready worker's (a worker that starts
        later gets it once ready)."""
        if not is_level(level):
            return False
        logging.getLogger().setLevel(python_level(level))
        self._log_level = level
        await asyncio.gather(*(self._forward_level(s, level) for s in self.slots if s.ready))
        return True

    async def _forward_level(self, slot: Slot, level: str) -> None:
        try:
            status, body = await slot.channel.request("POST", f"/logging?level={level}")
        except (OSError, aiohttp.ClientError, TimeoutError) as exc:
            status, body = 0, str(exc)
        if status != 200:
            log.warning("worker %d did not take log level %s: %s %s", slot.index, level, status, body.strip())


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)
