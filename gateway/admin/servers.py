"""The management servers: readiness (15021), stats (15020) and admin (15000).

They run on the same front end as the gateway, each with its own tiny handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from gateway.server.types import Handler, Request, Responder
from gateway.telemetry.metrics import Metrics

_TEXT = [(b"content-type", b"text/plain")]
_JSON = [(b"content-type", b"application/json")]
_PROM = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]


class Readiness:
    """Ready once every bind listens; until then, says what is pending."""

    def __init__(self) -> None:
        self.pending: set[str] = {"binds"}

    def mark_ready(self, task: str) -> None:
        self.pending.discard(task)

    async def handle(self, req: Request, resp: Responder) -> None:
        if req.path not in ("/healthz/ready", "/ready"):
            resp.send(404, _TEXT, b"not found\n")
        elif req.method not in ("GET", "HEAD"):
            resp.send(405, _TEXT, b"method not allowed\n")
        elif self.pending:
            resp.send(500, _TEXT, f"not ready, pending: {', '.join(sorted(self.pending))}\n".encode())
        else:
            resp.send(200, _TEXT, b"ready\n")


def stats_handler(metrics: Metrics) -> Handler:
    async def expose() -> bytes:
        return metrics.exposition()

    return exposition_handler(expose)


def exposition_handler(expose: Callable[[], Awaitable[bytes]]) -> Handler:
    """/metrics from any source (the `--workers` supervisor merges its workers' expositions)."""
    async def handle(req: Request, resp: Responder) -> None:
        if req.path not in ("/metrics", "/stats/prometheus"):
            resp.send(404, _TEXT, b"not found\n")
        elif req.method not in ("GET", "HEAD"):
            resp.send(405, _TEXT, b"method not allowed\n")
        else:
            resp.send(200, _PROM, await expose())

    return handle


LevelSetter = Callable[[str], bool | Awaitable[bool]]


async def _logging(req: Request, resp: Responder, set_level: LevelSetter) -> None:
    """agentgateway's `POST /logging?level=debug`: change the log level at runtime."""
    if req.method != "POST":
        resp.send(405, _TEXT, b"method not allowed\n")
        return
    level = parse_qs(req.query).get("level", [""])[0].strip().lower()
    done = set_level(level)  # the `--workers` supervisor forwards the level to every worker
    if not (await done if inspect.isawaitable(done) else done):
        resp.send(400, _TEXT, b"expected ?level= one of trace, debug, info, warn, error, off\n")
        return
    resp.send(200, _TEXT, f"current log level is {level}\n".encode())


def admin_handler(config_dump: Callable[[], dict[str, Any]], quit: Callable[[], None],
                  spend: Callable[[Request], Awaitable[tuple[int, bytes]]] | None = None, *,
                  log_level: LevelSetter | None = None) -> Handler:
    async def handle(req: Request, resp: Responder) -> None:
        if req.path == "/logging" and log_level is not None:
            await _logging(req, resp, log_level)
        elif req.path == "/api/spend" and spend is not None:  # chargeback JSON (gateway/ledger/api.py)
            if req.method != "GET":
                resp.send(405, _TEXT, b"method not allowed\n")
                return
            status, body = await spend(req)
            resp.send(status, _JSON, body)
        elif req.path in ("/config_dump", "/config"):
            if req.method not in ("GET", "HEAD"):
                resp.send(405, _TEXT, b"method not allowed\n")
                return
            resp.send(200, _JSON, orjson.dumps(config_dump(), option=orjson.OPT_INDENT_2))
        elif req.path == "/quitquitquit":
            if req.method != "POST":
                resp.send(405, _TEXT, b"method not allowed\n")
                return
            resp.send(200, _TEXT, b"OK\n")
            quit()
        else:
            resp.send(404, _TEXT, b"not found\n")

    return handle
