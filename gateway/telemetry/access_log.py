"""agentgateway's per-request access log line, written to stderr off the event loop.

Text: `<RFC3339 UTC µs>\tinfo\trequest key=value ...` (fields without a value are left out);
JSON (`config.logging.format: json`): `{"level", "time", "scope": "request", <dotted keys>}`.
A request only appends its line to a buffer; the buffer is handed to a writer thread at most
every few milliseconds, so the loop never waits on a slow or full stderr pipe. If the writer falls
behind by more than a bounded number of batches, new batches are dropped (their lines counted).
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import re
import select
import threading
import time
from collections.abc import Iterable
from typing import Any

import orjson

from gateway.config.model_telemetry import LoggingConfig

_FLUSH_EVERY_S = 0.02
_MAX_PENDING_BATCHES = 1000
_CLOSE_WAIT_S = 2.0
_LOGGED_LEVELS = ("trace", "debug", "info")
# Values made only of these are written bare; anything else (spaces, quotes, tabs) is JSON-quoted.
_plain = re.compile(r"[\w\-./:@,+*%=?&\[\]()#]+").fullmatch


class AccessLog:
    # Set by a `--workers` worker: several processes write to one stderr, and a pipe only keeps a
    # write whole up to PIPE_BUF bytes, so batches are written in line-aligned pieces of that size.
    shared_output = False

    def __init__(self, cfg: LoggingConfig, fd: int = 2) -> None:
        self.level = cfg.level
        self.enabled = cfg.level in _LOGGED_LEVELS
        self.json = cfg.format == "json"
        self.dropped = 0
        self._fd = fd
        self._lines: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_scheduled = False
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pending = 0  # batches queued, not yet written
        self._thread: threading.Thread | None = None
        self._sec = -1
        self._sec_text = ""

    def set_level(self, level: str) -> bool:
        """Change the level at runtime (admin POST /logging): request lines and the gateway's own log."""
        if level not in _PY_LEVELS:
            return False
        self.level, self.enabled = level, level in _LOGGED_LEVELS
        logging.getLogger().setLevel(python_level(level))
        return True

    def emit(self, fields: Iterable[tuple[str, Any]], now: float) -> None:
        """Buffer one request's line; `now` is wall-clock seconds."""
        line = self._json(fields, now) if self.json else self._text(fields, now)
        self._lines.append(line)
        if not self._flush_scheduled:
            if self._loop is None:
                self._start()
            self._flush_scheduled = True
            assert self._loop is not None
            self._loop.call_later(_FLUSH_EVERY_S, self._flush)

    # -- formatting -----------------------------------------------------------------------------

    def timestamp(self, now: float) -> str:
        sec = int(now)
        if sec != self._sec:  # strftime once a second; microseconds appended per line
            self._sec, self._sec_text = sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        return f"{self._sec_text}.{int((now - sec) * 1e6):06d}Z"

    def _text(self, fields: Iterable[tuple[str, Any]], now: float) -> str:
        parts = []
        for key, value in fields:
            if type(value) is not int:  # ints (status, token counts) never need quoting
                value = _text_value(value)
            parts.append(f"{key}={value}")
        return f"{self.timestamp(now)}\tinfo\trequest {' '.join(parts)}\n"

    def _json(self, fields: Iterable[tuple[str, Any]], now: float) -> str:
        record: dict[str, Any] = {"level": "info", "time": self.timestamp(now), "scope": "request"}
        record.update(fields)
        return orjson.dumps(record, default=str).decode() + "\n"

    # -- writing --------------------------------------------------------------------------------

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._write_loop, name="access-log", daemon=True)
        self._thread.start()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._lines:
            return
        data = "".join(self._lines).encode("utf-8", "replace")
        lines = len(self._lines)
        self._lines.clear()
        if self._pending >= _MAX_PENDING_BATCHES:
            self.dropped += lines  # lines, not batches: what an operator lost
            return
        self._pending += 1
        self._queue.put(data)

    def _write_loop(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            # os.write, not sys.stderr: a daemon thread blocked inside a Python buffered writer
            # would make interpreter shutdown abort.
            try:
                for piece in _line_pieces(data) if self.shared_output else (data,):
                    view = memoryview(piece)
                    while view:
                        view = view[os.write(self._fd, view):]
            except OSError:
                pass  # stderr closed: the lines have nowhere to go
            self._pending -= 1

    async def close(self) -> None:
        """Write what is buffered (bounded wait: a stuck stderr must not hold the exit)."""
        self._flush()
        if self._thread is None:
            return
        self._queue.put(None)
        deadline = time.monotonic() + _CLOSE_WAIT_S
        while self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


def _line_pieces(data: bytes, limit: int = select.PIPE_BUF) -> Iterable[bytes]:
    """`data` cut after a newline into pieces of at most `limit` bytes (a longer line stays whole)."""
    start = 0
    while len(data) - start > limit:
        cut = data.rfind(b"\n", start, start + limit)
        end = cut + 1 if cut >= start else data.find(b"\n", start + limit) + 1 or len(data)
        yield data[start:end]
        start = end
    if start < len(data):
        yield data[start:]


def _text_value(value: Any) -> str:
    text = value if type(value) is str else str(value)
    if _plain(text):
        return text
    return orjson.dumps(text).decode()  # quoted, escaped: one line per request, always


_PY_LEVELS = {"trace": 5, "debug": 10, "info": 20, "warn": 30, "error": 40, "off": 100}


def python_level(level: str) -> int:
    """config.logging.level as a `logging` level (trace is below DEBUG; off silences everything)."""
    return _PY_LEVELS.get(level, 20)


def is_level(level: str) -> bool:
    """One of the levels `POST /logging` and config.logging.level accept."""
    return level in _PY_LEVELS
