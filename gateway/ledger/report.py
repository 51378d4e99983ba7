"""`agentgateway report`: chargeback from the ledger (SQLite file or Postgres), no running gateway needed."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson

from gateway.config.model_cost import Budgets
from gateway.ledger import query
from gateway.ledger.readers import open_reader

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_COLUMNS = ("requests", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def parse_time(text: str, now: float | None = None) -> float:
    """ISO date/datetime (UTC unless it says otherwise), epoch seconds, or relative like 7d / 12h / 30m."""
    now = time.time() if now is None else now
    rel = _RELATIVE.match(text)
    if rel:
        return now - int(rel.group(1)) * _UNITS[rel.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f'invalid time "{text}" (expected 2026-12-01, 2026-12-01T10:00, epoch or 7d)') from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentgateway report", description="Spend per user, team, model and day "
                                "from the spend ledger (reads the SQLite file or Postgres; no running gateway needed).")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--ledger", metavar="PATH_OR_URL",
                     help="ledger: SQLite file or postgres://user@host:port/db (a password is better in PGPASSWORD "
                          "than on the command line; default: config.ledger.path or .url of --file)")
    src.add_argument("-f", "--file", help="gateway config whose ledger (and budgets, for forecasts) to use")
    p.add_argument("--since", help="start (inclusive): 2026-12-01, 2026-12-01T10:00Z, epoch, or 7d/24h")
    p.add_argument("--until", help="end (exclusive), same forms")
    p.add_argument("--by", default="user,team,model,day",
                   help=f"comma-separated groupings from {', '.join(query.GROUPS)} (default: user,team,model,day)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    return p


def _sources(args: argparse.Namespace) -> tuple[str, Budgets | None]:
    """(path or URL, budgets). A URL may hold a password: it is only ever given to the driver."""
    if args.ledger:
        return args.ledger, None
    from gateway.config import load_config_file

    cfg = load_config_file(args.file or "config.yaml", env=os.environ)
    cost = cfg.process.cost
    if cost.ledger is None:
        raise ValueError(f"{args.file or 'config.yaml'} has no config.ledger; pass --ledger")
    source = cost.ledger.url.reveal() if cost.ledger.url is not None else cost.ledger.path
    assert source is not None
    return source, cost.budgets


async def _report(source: str, groups: list[str], since: float | None, until: float | None,
                  budgets: Budgets | None) -> dict[str, Any]:
    reader = await open_reader(source)
    try:
        return await query.spend_report(reader, groups, since, until, budgets)
    finally:
        await reader.close()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    groups = [g.strip() for g in args.by.split(",") if g.strip()]
    bad = [g for g in groups if g not in query.GROUPS]
    if bad or not groups:
        print(f"error: --by: unknown grouping {', '.join(bad) or '(empty)'}; expected {', '.join(query.GROUPS)}",
              file=sys.stderr)
        return 2
    try:
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
        source, budgets = _sources(args)
        doc = asyncio.run(_report(source, groups, since, until, budgets))
    except Exception as exc:  # config errors, unreadable files, unreachable database: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    render = {"json": _json, "csv": _csv, "table": _table}[args.format]
    sys.stdout.write(render(doc))
    return 0


def _json(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["group", "key", *_COLUMNS, "cost_usd"])
    for group, data in doc["groups"].items():
        for row in [*data["rows"], data["total"]]:
            w.writerow([group, row["key"], row["requests"], row["inputTokens"], row["outputTokens"],
                        row["cacheReadTokens"], row["cacheWriteTokens"], row["costUsd"]])
    return buf.getvalue()


def _table(doc: dict[str, Any]) -> str:
    out = []
    span = f"{_when(doc['since'])} .. {_when(doc['until'])}"
    out.append(f"Spend report ({span}; USD at list prices; days are UTC)\n")
    for group, data in doc["groups"].items():
        rows = [*data["rows"], data["total"]]
        head = [group.upper(), "REQUESTS", "INPUT", "OUTPUT", "CACHE_READ", "CACHE_WRITE", "COST_USD"]
        cells = [[r["key"], str(r["requests"]), str(r["inputTokens"]), str(r["outputTokens"]),
                  str(r["cacheReadTokens"]), str(r["cacheWriteTokens"]), r["costUsd"]] for r in rows]
        out.append(_grid(head, cells, ruled_total=True))
    if doc["forecast"]:
        head = ["TEAM", "PERIOD", "SPENT_USD", "FORECAST_USD", "LIMIT_USD"]
        cells = [[f["team"], f"{f['period']} {f['periodKey']}", f["spentUsd"], f["forecastUsd"],
                  f["limitUsd"] or "-"] for f in doc["forecast"]]
        out.append("Forecast for the current period (linear projection)\n" + _grid(head, cells))
    return "\n".join(out)


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if ts is not None else "all"


def _grid(head: list[str], cells: list[list[str]], ruled_total: bool = False) -> str:
    widths = [max(len(x) for x in col) for col in zip(head, *cells, strict=False)]
    lines = []
    for i, row in enumerate([head, *cells]):
        if ruled_total and i == len(cells):  # the TOTAL row, ruled off
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths,
                                                                                                  strict=True))))
    return "\n".join(lines) + "\n"
