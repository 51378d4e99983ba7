"""Sample the gateway with py-spy under load and summarise where its time goes.

Used by `bench.py --profile SECONDS`: py-spy records raw stacks (`-f raw`, idle frames included, so
the share of time the event loop waits for I/O is visible: self time of `Runner.run`, where uvloop
sits in epoll) while wrk or the fixed-rate generator loads the gateway; the summary ranks functions
by inclusive time (samples whose stack contains the function) and by self time (samples where it is
the innermost frame). Callbacks run by uvloop's C loop appear as stacks of their own, so a function
near the top of the event loop may have less inclusive time than the code it calls from elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def parse_raw(text: str) -> tuple[Counter[str], Counter[str], int]:
    """(inclusive, self, total samples) from py-spy's raw (collapsed stack) output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        if not frames:
            continue
        total += count
        for fn in set(frames):
            inclusive[fn] += count
        own[frames[-1]] += count
    return inclusive, own, total


def _function(frame: str) -> str:
    """'handle (gateway/proxy/gateway.py:123)' -> 'handle (gateway/proxy/gateway.py)': merge lines."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0].rstrip(")")
    for marker in ("/site-packages/", "/lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summary(text: str, top: int = 25, idle: bool = True) -> str:
    inclusive, own, total = parse_raw(text)
    if not total:
        return "py-spy recorded no samples"
    what = "% of all samples, idle included" if idle else "% of on-CPU samples"
    lines = [f"{total} samples; top {top} functions by inclusive time ({what}):"]
    lines += [f"  {100 * n / total:5.1f}%  {fn}" for fn, n in inclusive.most_common(top)]
    lines.append(f"top {top // 2} by self time:")
    lines += [f"  {100 * n / total:5.1f}%  {fn}" for fn, n in own.most_common(top // 2)]
    return "\n".join(lines)


def record(pid: int, seconds: int, out: Path, load_cmd: list[str], idle: bool = True) -> str:
    """Run load_cmd while py-spy samples pid for `seconds`; returns the summary text.

    idle=False leaves out samples where the process waits (so shares are of CPU time, not wall)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        return "py-spy not installed (pip install py-spy, or the `bench` extra)"
    spy = subprocess.Popen([py_spy, "record", "-f", "raw", *(["--idle"] if idle else []), "--nonblocking",
                            "-r", "250", "-d", str(seconds), "-o", str(out), "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    load = subprocess.run(load_cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    try:
        _, err = spy.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate(timeout=5)
    if spy.returncode != 0 or not out.exists():
        return f"py-spy failed (rc={spy.returncode}): {err.decode(errors='replace')[-500:]}"
    return f"load: {load.stdout.strip().splitlines()[-1:] }\n" + summary(out.read_text(), idle=idle)
