"""GET /api/spend on the admin server: the chargeback report as JSON, read from the ledger.

Query parameters: group_by (comma-separated: user, team, model, day, route, provider; default team),
since / until (same forms as `agentgateway report`). SQLite queries run in a worker thread; Postgres
gets its own short-lived connection per call (the writer's pool stays for the writer). Records reach
the ledger within its flushInterval.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import orjson

from gateway.config.model_cost import CostConfig
from gateway.ledger import query
from gateway.ledger.readers import open_reader
from gateway.ledger.report import parse_time
from gateway.server.types import Request

SpendHandler = Callable[[Request], Awaitable[tuple[int, bytes]]]


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"error": message})


def spend_api(cost: CostConfig) -> SpendHandler:
    async def handle(req: Request) -> tuple[int, bytes]:
        if cost.ledger is None:
            return _error(404, "no spend ledger configured (config.ledger)")
        params = {k: v[-1] for k, v in parse_qs(req.query).items()}
        groups = [g for g in params.get("group_by", "team").split(",") if g]
        bad = [g for g in groups if g not in query.GROUPS]
        if bad or not groups:
            return _error(400, f"group_by must be from {', '.join(query.GROUPS)}")
        try:
            since = parse_time(params["since"]) if "since" in params else None
            until = parse_time(params["until"]) if "until" in params else None
        except ValueError as exc:
            return _error(400, str(exc))
        ledger = cost.ledger
        source = ledger.url.reveal() if ledger.url is not None else ledger.path
        assert source is not None
        try:
            reader = await open_reader(source)
        except FileNotFoundError as exc:
            return _error(404, str(exc))
        except OSError as exc:  # database unreachable: the message names it without the password
            return _error(503, str(exc))
        try:
            return 200, orjson.dumps(await query.spend_report(reader, groups, since, until, cost.budgets))
        finally:
            await reader.close()

    return handle
