"""`--workers N`: real supervisor and worker processes on one port, against the built-in mock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import ROOT, GatewayProc, MockProc, http, stream_chunks

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  connectionTerminationDeadline: 10s
  logging: {level: $LOG}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - matches: [{path: {pathPrefix: /llm}}]
      policies:
        backendAuth: {key: server-key}
      backends:
      - ai: {name: openai, provider: {openAI: {}}, hostOverride: "$MOCK_ADDR"}
"""
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
READY_TIMEOUT = 90.0  # N interpreters importing the gateway on a shared 2-core machine


def start(mock: MockProc, workers: str, log: str = "info") -> GatewayProc:
    return GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr, "LOG": log}, args=["--workers", workers],
                       ready_timeout=READY_TIMEOUT)


@pytest.fixture
def stopper() -> Iterator[list[GatewayProc]]:
    """Gateways to stop at the end, also when an assertion failed."""
    procs: list[GatewayProc] = []
    yield procs
    for g in procs:
        if g.proc.poll() is None:
            g.stop()


def metrics(gw: GatewayProc) -> dict[str, float]:
    """Sample name + sorted labels -> value; fails unless the exposition parses as Prometheus text."""
    status, body = gw.get(gw.stats_port, "/metrics")
    assert status == 200
    out: dict[str, float] = {}
    names: list[str] = []
    for fam in text_string_to_metric_families(body.decode()):
        names.append(fam.name)
        for s in fam.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    assert len(names) == len(set(names)), "a family appears twice"
    return out


def total(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(name + "{"))


def per_worker(samples: dict[str, float], name: str, workers: int) -> list[float]:
    return [samples.get(f"{name}{{worker={i}}}", -1.0) for i in range(workers)]


def children(pid: int) -> set[int]:
    kids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        kids.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def arg_of(pid: int, flag: str) -> str:
    """The value of `flag` on a worker's command line."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().decode().split("\0")
    return argv[argv.index(flag) + 1]


def slot_of(pid: int) -> int:
    return int(arg_of(pid, "--slot"))


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def draining(gw: GatewayProc) -> bool:
    status, body = gw.get(gw.ready_port, "/healthz/ready")
    return status == 500 and body.startswith(b"not ready, pending: draining")


def chat(gw: GatewayProc, n: int) -> None:
    """n requests, each on its own connection (SO_REUSEPORT spreads connections, not requests)."""
    for _ in range(n):
        r = http("POST", f"{gw.url}/llm/v1/chat/completions", json_body=CHAT)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_one_port_and_metrics_add_up(mock: MockProc, stopper: list[GatewayProc],
                                                   workers: int) -> None:
    gw = start(mock, str(workers))
    stopper.append(gw)
    assert len(children(gw.proc.pid)) == workers
    sent = 60
    chat(gw, sent)
    m = metrics(gw)
    assert total(m, "agentgateway_requests_total") == sent
    assert total(m, "agentgateway_downstream_connections_total") == sent
    assert m["agentgateway_workers{}"] == workers
    assert m["agentgateway_workers_ready{}"] == workers
    assert m["agentgateway_build_info{tag=0.1.0}"] == 1  # same in every worker: not summed
    served = per_worker(m, "agentgateway_worker_requests_total", workers)
    assert sum(served) == sent
    assert all(n > 0 for n in served), f"the kernel gave some worker nothing: {served}"
    status, body = gw.get(gw.admin_port, "/config_dump")
    assert status == 200 and b'"binds"' in body and b"server-key" not in body
    code, err = gw.stop()
    assert code == 0, err


def stop_reading_stderr(gw: GatewayProc) -> tuple[int, str]:
    """SIGTERM, wait, and all of stderr (GatewayProc.stop keeps only its tail)."""
    gw.proc.terminate()
    _, err = gw.proc.communicate(timeout=60)
    os.unlink(gw.config_path)
    return gw.proc.returncode, err.decode(errors="replace")


def test_killed_worker_is_restarted_and_counts_survive(mock: MockProc, stopper: list[GatewayProc]) -> None:
    gw = start(mock, "2", log="warn")
    stopper.append(gw)
    chat(gw, 10)
    assert total(metrics(gw), "agentgateway_requests_total") == 10  # the supervisor has seen these
    before = children(gw.proc.pid)
    victim = min(before)
    slot = slot_of(victim)
    os.kill(victim, signal.SIGKILL)
    # Reaped, so its listening socket is closed (connections the kernel had queued on it are reset:
    # SO_REUSEPORT cannot hand them to a sibling).
    wait_until(lambda: victim not in children(gw.proc.pid), 10, "the worker to be reaped")
    chat(gw, 10)  # the surviving worker keeps the port serving meanwhile
    wait_until(lambda: metrics(gw).get("agentgateway_workers_ready{}") == 2, READY_TIMEOUT, "the replacement")
    after = children(gw.proc.pid)
    assert len(after) == 2 and victim not in after and after & before
    m = metrics(gw)
    assert sum(per_worker(m, "agentgateway_worker_restarts_total", 2)) == 1
    assert gw.get(gw.ready_port, "/healthz/ready")[0] == 200
    chat(gw, 10)
    # The dead worker's last scraped counts are kept: deployment counters never go backwards.
    assert total(metrics(gw), "agentgateway_requests_total") == 30
    code, err = stop_reading_stderr(gw)
    assert code == 0, err
    assert f"worker {slot} was killed by SIGKILL; restarting it in 0.5s (restart #1" in err


def test_sigterm_drains_inflight_stream_then_exits_0(mock: MockProc, stopper: list[GatewayProc]) -> None:
    gw = start(mock, "2")
    stopper.append(gw)
    workers = children(gw.proc.pid)
    received: list[bytes] = []
    done = threading.Event()

    def stream() -> None:
        body = {**CHAT, "stream": True}
        headers = {"x-mock-latency-ms": "200", "x-mock-chunks": "10"}
        for chunk in stream_chunks(f"{gw.url}/llm/v1/chat/completions", body, headers):
            received.append(chunk)
        done.set()

    t = threading.Thread(target=stream)
    t.start()
    wait_until(lambda: bool(received), 20, "the stream to start")
    gw.signal(signal.SIGTERM)
    # The stream still has ~2 s to go: meanwhile the deployment reports it is draining.
    wait_until(lambda: draining(gw), 5, "readiness to report draining")
    assert not done.is_set()
    t.join(30)
    assert done.is_set()
    assert b"".join(received).rstrip().endswith(b"data: [DONE]")
    assert gw.proc.wait(30) == 0
    assert not any(alive(pid) for pid in workers)
    gw.stop()


def test_workers_exit_when_the_supervisor_is_killed(mock: MockProc, stopper: list[GatewayProc]) -> None:
    gw = start(mock, "2")
    stopper.append(gw)
    workers = children(gw.proc.pid)
    assert len(workers) == 2
    private = os.path.dirname(arg_of(min(workers), "--socket"))
    assert os.path.isdir(private)
    gw.signal(signal.SIGKILL)
    gw.proc.wait(10)
    # Their lifeline (stdin from the supervisor) closed: they drain and exit instead of lingering,
    # and the last one out removes the private socket directory the supervisor could not.
    wait_until(lambda: not any(alive(pid) for pid in workers), 30, "orphaned workers to exit")
    assert not os.path.exists(private)
    gw.stop()


def test_log_level_is_forwarded_to_every_worker(mock: MockProc, stopper: list[GatewayProc]) -> None:
    gw = start(mock, "2", log="warn")  # access log off in every worker
    stopper.append(gw)
    r = http("POST", f"http://127.0.0.1:{gw.admin_port}/logging?level=info")
    assert r.status_code == 200 and r.text == "current log level is info\n"
    markers = [f"/llm/marker-{i}/v1/chat/completions" for i in range(30)]
    for path in markers:
        assert http("POST", f"{gw.url}{path}", json_body=CHAT).status_code == 200
    served = per_worker(metrics(gw), "agentgateway_worker_requests_total", 2)
    assert all(n > 0 for n in served), served
    code, err = stop_reading_stderr(gw)
    assert code == 0
    logged = [m for m in markers if f"http.path={m} " in err]
    assert logged == markers  # every worker logs its requests, though the file said warn


def test_auto_is_one_worker_per_usable_cpu(mock: MockProc, stopper: list[GatewayProc]) -> None:
    cpus = len(os.sched_getaffinity(0))
    gw = start(mock, "auto")
    stopper.append(gw)
    chat(gw, 4)
    m = metrics(gw)
    if cpus > 1:
        assert m["agentgateway_workers{}"] == cpus
        assert len(children(gw.proc.pid)) == cpus
    else:  # one CPU: auto is the plain single process
        assert "agentgateway_workers{}" not in m and not children(gw.proc.pid)
    assert total(m, "agentgateway_requests_total") == 4
    assert gw.stop()[0] == 0


RATE_LIMITED = """
binds:
- port: 3000
  listeners:
  - routes:
    - name: limited
      policies:
        localRateLimit: [{maxTokens: 10, tokensPerFill: 1, fillInterval: 60s}]
      backends: [{host: "127.0.0.1:9"}]
"""
BUDGETED = """
config:
  budgets: {defaultUser: {limit: "5", period: daily}}
binds:
- port: 3000
  listeners:
  - routes:
    - backends: [{host: "127.0.0.1:9"}]
"""


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("config", "named"), [(RATE_LIMITED, "localRateLimit (route limited)"),
                                               (BUDGETED, "config.budgets")])
def test_memory_backend_refuses_limits_with_several_workers(config: str, named: str) -> None:
    p = run_cli("--workers", "2", "-c", config)  # not --validate-only: the real start refuses
    assert p.returncode == 1
    assert named in p.stderr
    assert "multiplying every limit by 2" in p.stderr
    assert "config.stateBackend" in p.stderr and "type: redis" in p.stderr
    assert run_cli("--workers", "1", "--validate-only", "-c", config).returncode == 0
    redis = "config:\n  stateBackend: {type: redis, url: redis://127.0.0.1:9}\n"
    shared = config.replace("config:\n", redis, 1) if config.startswith("\nconfig:") else redis + config
    p = run_cli("--workers", "2", "--validate-only", "-c", shared)
    assert p.returncode == 0, p.stderr


def test_workers_argument_is_checked() -> None:
    for bad in ("0", "-2", "two"):
        p = run_cli("--workers", bad, "--validate-only", "-c", RATE_LIMITED)
        assert p.returncode == 2 and "expected a number >= 1 or auto" in p.stderr
    if len(os.sched_getaffinity(0)) > 1:  # auto counts the CPUs this process may use
        p = run_cli("--workers", "auto", "--validate-only", "-c", RATE_LIMITED)
        assert p.returncode == 1 and f"--workers {len(os.sched_getaffinity(0))} needs" in p.stderr
