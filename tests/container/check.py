"""Host-side probes for tests/container/run.sh (stdlib only: it runs before or without the repo's venv).

    check.py ports N                    N free TCP ports on 127.0.0.1
    check.py image-config               buildah inspect JSON on stdin -> shell assignments (IMG_*)
    check.py ready PORT SECONDS [PID]   poll /healthz/ready until 200 (fails early if PID exits)
    check.py status PORT                print /healthz/ready's status code (000 when refused)
    check.py chat PORT [DELAY_MS]       one chat completion through the gateway; exit 0 on a good answer
    check.py inflight PORT SECONDS      wait until /metrics (stats port) shows an upstream call in flight
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import sys
import time
import urllib.error
import urllib.request


def ports(n: int) -> None:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:  # all bound at once so the n ports differ
        s.bind(("127.0.0.1", 0))
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def image_config() -> None:
    config = json.load(sys.stdin)["Docker"]["config"]
    health = (config.get("Healthcheck") or {}).get("Test") or []
    values = {
        "IMG_USER": [config.get("User") or ""],
        "IMG_WORKDIR": [config.get("WorkingDir") or "/"],
        "IMG_ENV": config.get("Env") or [],
        "IMG_ARGV": (config.get("Entrypoint") or []) + (config.get("Cmd") or []),
        "IMG_HEALTH": health[1:] if health[:1] == ["CMD"] else [],
        "IMG_PORTS": sorted(config.get("ExposedPorts") or {}),
        "IMG_STOPSIGNAL": [config.get("StopSignal") or ""],
    }
    for name, items in values.items():
        print(f"{name}=({' '.join(shlex.quote(i) for i in items)})")


def status(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/ready", timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def ready(port: int, seconds: float, pid: int | None) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if status(port) == 200:
            return 0
        if pid is not None and not os.path.exists(f"/proc/{pid}"):
            print(f"process {pid} exited before it was ready", file=sys.stderr)
            return 1
        time.sleep(0.1)
    print(f"not ready on port {port} after {seconds}s (last status {status(port):03d})", file=sys.stderr)
    return 1


def chat(port: int, delay_ms: int) -> int:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello from the container test"}]}
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json", "x-mock-delay-ms": str(delay_ms)},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.loads(r.read())
    except (OSError, ValueError) as e:
        print(f"chat request failed: {e}", file=sys.stderr)
        return 1
    text = answer["choices"][0]["message"]["content"]
    if not text or answer.get("object") != "chat.completion":
        print(f"unexpected answer: {answer}", file=sys.stderr)
        return 1
    print(f"200 {answer['model']}: {text[:60]!r}")
    return 0


def inflight(port: int, seconds: float) -> int:
    """An upstream pool connection in use means the request reached the gateway and waits on the provider."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            text = ""
        for line in text.splitlines():
            if line.startswith("agentgateway_upstream_pool_connections{") and 'state="in_use"' in line:
                if float(line.rsplit(" ", 1)[1]) > 0:
                    return 0
        time.sleep(0.05)
    print(f"no upstream request in flight on the metrics of port {port} after {seconds}s", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "ports":
        ports(int(args[0]))
        return 0
    if cmd == "image-config":
        image_config()
        return 0
    if cmd == "ready":
        return ready(int(args[0]), float(args[1]), int(args[2]) if len(args) > 2 else None)
    if cmd == "status":
        print(f"{status(int(args[0])):03d}")
        return 0
    if cmd == "chat":
        return chat(int(args[0]), int(args[1]) if len(args) > 1 else 0)
    if cmd == "inflight":
        return inflight(int(args[0]), float(args[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
