"""Child processes for the benchmark: start, wait until ready, measure (/proc), always stop."""

from __future__ import annotations

import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(Exception):
    """A setup failure with a message meant for the user (no traceback needed)."""


class Children:
    """Child processes, each in its own session so the whole group can be killed on exit."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def spawn(self, name: str, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, start_new_session=True, **kw)
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)

    def kill_all(self) -> None:
        for _, proc in reversed(self.procs):
            self.stop(proc)


def free_ports(n: int) -> list[int]:
    """n distinct free ports (sockets held open together so they cannot repeat)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def pin_prefixes(no_pin: bool) -> tuple[list[str], list[str], str]:
    """(proxy prefix, load prefix, description). The proxy under test gets core 0 alone; wrk, the
    load generators, the static upstream and the trace sink share core 1, so nothing that is not
    being measured competes with the proxy. With <2 cores pinning would do harm."""
    taskset = shutil.which("taskset")
    cpus = os.cpu_count() or 1
    if no_pin:
        return [], [], "disabled (--no-pin)"
    if taskset is None:
        return [], [], "unavailable (no taskset)"
    if cpus < 2:
        return [], [], f"skipped ({cpus} CPU)"
    return [taskset, "-c", "0"], [taskset, "-c", "1"], "proxy on core 0; wrk, load generators, upstream on core 1"


def tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_bytes()[-n:].decode(errors="replace")
    except OSError:
        return "(no log)"


def read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The next stdout line of proc, or '' after timeout / EOF (bounded, never blocks forever)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(proc.stdout.fileno(), 1)  # byte-wise: must not swallow the next line
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace").strip()


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with code {proc.returncode} before becoming ready.\n"
                             f"command: {shlex.join(proc.args)}\nlog tail:\n{tail(log)}")  # type: ignore[arg-type]
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {timeout:.0f}s ({url}).\nlog tail:\n{tail(log)}")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited with code {proc.returncode}.\nlog tail:\n{tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{what} not listening on {port} after {timeout:.0f}s.\nlog tail:\n{tail(log)}")


def render_template(name: str, values: dict[str, str]) -> str:
    text = "\n".join(line for line in (HERE / "nginx" / name).read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    if "{{" in text:
        raise BenchError(f"benchmarks/nginx/{name}: unfilled placeholder near {text[text.index('{{'):][:40]!r}")
    return text


def start_nginx(children: Children, prefix: list[str], name: str, template: str, values: dict[str, str],
                tmp: Path, ports: list[int], timeout: float) -> subprocess.Popen[bytes]:
    """nginx in the foreground with a generated config in tmp (the system nginx is never touched)."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        raise BenchError("nginx not found. Install it with:  apt-get install nginx   (Debian/Ubuntu, as root)")
    # A root master would hand requests to `nobody`, which cannot read our temp dir.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / f"{name}.conf"
    conf.write_text(render_template(template, {"USER": user, "TMP": str(tmp), **values}))
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:
        cmd = prefix + [nginx, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / f"{name}-error.log")]
        proc = children.spawn(name, cmd, stdout=out, stderr=subprocess.STDOUT)
    for port in ports:
        wait_port(port, proc, timeout, f"nginx ({name})", log)
    return proc


@dataclass
class Usage:
    cpu_s: float
    rss_mb: float
    hwm_mb: float


def _tree(pid: int) -> list[int]:
    """pid and its descendants (nginx's workers are children of the measured master)."""
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def usage(pid: int) -> Usage:
    """CPU seconds so far and RSS / peak RSS in MB, summed over the process tree."""
    cpu = rss = hwm = 0.0
    for p in _tree(pid):
        try:
            with open(f"/proc/{p}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / CLK_TCK
            with open(f"/proc/{p}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        rss += int(line.split()[1]) / 1024
                    elif line.startswith(b"VmHWM:"):
                        hwm += int(line.split()[1]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return Usage(cpu, rss, hwm)
