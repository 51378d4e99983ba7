"""Lowering of the cost-control keys of `config:`: modelCatalog (agentgateway's), pricing, budgets, ledger (ours)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from gateway.pricing.catalog import CatalogError, parse_document, to_nanos

from . import model_cost as mc
from .lower_policies import duration
from .model import Secret
from .reader import Section, type_name
from .urls import redact_url
from .yamlnodes import YMap, YNode, YScalar, plain

_PERIODS = {p.value: p for p in mc.Period}
_UNKNOWN = {u.value: u for u in mc.UnknownModel}


def lower_cost(sec: Section) -> mc.CostConfig:
    """`sec` is the `config:` section."""
    catalogs = _catalogs(sec)
    pricing = sec.section("pricing", "pricing")
    builtin, unknown = True, mc.UnknownModel.ZERO_COST
    if pricing is not None:
        builtin = pricing.boolean("builtinCatalog") is not False
        unknown = _enum(pricing, "unknownModel", _UNKNOWN) or unknown
    return mc.CostConfig(catalogs, builtin, unknown, _budgets(sec.section("budgets", "budgets")),
                         _ledger(sec.section("ledger", "ledger")))


def _enum(sec: Section, key: str, table: dict[str, Any]) -> Any:
    text = sec.string(key)
    if text is None:
        return None
    if text not in table:
        sec.error(key, f'invalid value "{text}"; expected one of: {", ".join(table)}')
        return None
    return table[text]


# -- modelCatalog ---------------------------------------------------------------------------------

def _catalogs(sec: Section) -> tuple[Any, ...]:
    docs = []
    for path, node, _ in sec.items("modelCatalog"):
        doc = _catalog_source(sec, path, node)
        if doc is None:
            continue
        try:
            parse_document(doc)
        except CatalogError as e:
            sec.ctx.error(node.line, path, f"invalid model catalog: {e}")
            continue
        docs.append(doc)
    return tuple(docs)


def _catalog_source(sec: Section, path: str, node: YNode) -> Any:
    if not isinstance(node, YMap) or len(node.items) != 1 or node.items[0][0] not in ("file", "inline"):
        sec.ctx.error(node.line, path, 'expected exactly one of "file" or "inline"')
        return None
    key, line, value = node.items[0]
    if key == "inline":
        if isinstance(value, YScalar) and isinstance(value.value, str):
            try:
                return json.loads(value.value)
            except json.JSONDecodeError as e:
                sec.ctx.error(line, f"{path}.inline", f"invalid JSON: {e}")
                return None
        return plain(value)
    if not (isinstance(value, YScalar) and isinstance(value.value, str)):
        sec.ctx.error(line, f"{path}.file", f"expected string, got {type_name(value)}")
        return None
    try:
        return yaml.safe_load(Path(value.value).read_text())  # JSON or YAML
    except (OSError, yaml.YAMLError) as e:
        sec.ctx.error(line, f"{path}.file", f'cannot read model catalog "{value.value}": {e}')
        return None


# -- budgets ----------------------------------------------------------------------------------------

def _limit(sec: Section | None) -> mc.BudgetLimit | None:
    if sec is None:
        return None
    sec.require("limit")
    node = sec.get("limit")
    if node is None:
        return None
    raw = node.value if isinstance(node, YScalar) else None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        sec.error("limit", f'expected a decimal USD string like "0.05", got {type_name(node)}')
        return None
    try:
        nanos = to_nanos(raw)
    except ValueError as e:
        sec.error("limit", str(e))
        return None
    period = _enum(sec, "period", _PERIODS) or mc.Period.MONTHLY
    return mc.BudgetLimit(nanos, period)


def _limits(sec: Section, key: str) -> tuple[tuple[str, mc.BudgetLimit], ...]:
    out = []
    for name, path, _, node in sec.entries(key):
        limit = _limit(Section.open(sec.ctx, node, path, sec.schema.child(key), "budgetLimit"))
        if limit is not None:
            out.append((name, limit))
    return tuple(out)


def _alerts(sec: Section | None) -> mc.BudgetAlerts:
    if sec is None:
        return mc.BudgetAlerts()
    thresholds: list[float] = []
    for path, item, _ in sec.items("thresholds"):
        value = item.value if isinstance(item, YScalar) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
            sec.ctx.error(item.line, path, "expected a fraction of the limit like 0.8 (0 < x <= 10)")
        else:
            thresholds.append(float(value))
    webhook = sec.string("webhook")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        sec.error("webhook", f'invalid URL "{webhook}" (expected http(s)://...)')
        webhook = None
    thresholds_out = tuple(sorted(set(thresholds))) if sec.has("thresholds") else (0.8, 1.0)
    return mc.BudgetAlerts(thresholds_out, Secret(webhook) if webhook is not None else None)


def _timezone(sec: Section) -> str:
    tz = sec.string("timezone") or "UTC"
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):
        sec.error("timezone", f'unknown timezone "{tz}" (expected an IANA name like "UTC" or "Europe/Paris")')
        return "UTC"
    return tz


def _budgets(sec: Section | None) -> mc.Budgets | None:
    if sec is None:
        return None
    cap = sec.integer("defaultMaxOutputTokens", 1)
    return mc.Budgets(
        users=_limits(sec, "users"),
        teams=_limits(sec, "teams"),
        default_user=_limit(sec.section("defaultUser", "budgetLimit")),
        default_team=_limit(sec.section("defaultTeam", "budgetLimit")),
        timezone=_timezone(sec),
        default_max_output_tokens=cap if cap is not None else 4096,
        alerts=_alerts(sec.section("alerts", "budgetAlerts")),
        metrics=_budget_metrics(sec.section("metrics", "budgetMetrics")),
    )


def _budget_metrics(sec: Section | None) -> mc.BudgetMetrics:
    if sec is None:
        return mc.BudgetMetrics()
    default = mc.BudgetMetrics()
    teams, users = sec.boolean("teams"), sec.boolean("users")
    cap = sec.integer("maxSeries", 0, 100_000)
    return mc.BudgetMetrics(default.teams if teams is None else teams, default.users if users is None else users,
                            default.max_series if cap is None else cap)


# -- ledger -----------------------------------------------------------------------------------------

def _ledger(sec: Section | None) -> mc.Ledger | None:
    if sec is None:
        return None
    path, url = sec.string("path"), sec.string("url")
    if sec.has("path") and sec.has("url"):
        sec.error(None, 'expected exactly one of "path" (SQLite file) or "url" (postgres://...), not both')
    elif not sec.has("path") and not sec.has("url") and sec.pristine:
        sec.error(None, 'missing field "path" (SQLite file) or "url" (postgres://...)')
    interval = duration(sec, "flushInterval")
    if interval is not None and not 0.01 <= interval <= 3600:
        sec.error("flushInterval", "expected a duration between 10ms and 1h")
        interval = None
    pool = sec.integer("poolSize", 1, 100)
    queue = sec.integer("maxQueue", 1, 10_000_000)
    if url is not None and not _postgres_url(sec, url):
        return None
    if (path is None) == (url is None):
        return None
    return mc.Ledger(path, interval if interval is not None else 1.0, Secret(url) if url is not None else None,
                     redact_url(url) if url is not None else None, pool or 2, queue or 100_000)


def _postgres_url(sec: Section, url: str) -> bool:
    """Checks the URL's shape; messages never quote it (the password is in it)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        sec.error("url", "invalid URL (expected postgres://user:password@host:port/database)")
        return False
    if parts.scheme not in ("postgres", "postgresql"):
        sec.error("url", f'expected a postgres:// or postgresql:// URL, got scheme "{parts.scheme}"')
        return False
    return True
