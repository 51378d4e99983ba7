"""Lowering of `config.tracing`, `config.logging` and `config.metrics` (agentgateway config.rs).

Env overrides follow agentgateway: OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
OTEL_EXPORTER_OTLP_ENDPOINT (first set wins) replace the endpoint and turn tracing on by
themselves; OTLP_HEADERS (JSON object or `k=v,k=v`) and OTLP_PROTOCOL replace theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from gateway.cel import CelError, compile_expression

from . import model as m
from . import model_telemetry as t
from .lower_ratelimit import expression
from .reader import NOT_SUPPORTED, Section, join, type_name
from .yamlnodes import YMap, YScalar

_ENDPOINT_ENV = ("OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_LEVELS = ("trace", "debug", "info", "warn", "error", "off")


def lower_telemetry(sec: Section | None, env: Mapping[str, str]) -> t.TelemetryConfig:
    if sec is None:
        endpoint = env_endpoint(env)
        return t.TelemetryConfig(tracing=_with_env(env, {"endpoint": endpoint}) if endpoint else None)
    logging = sec.section("logging", "config.logging")
    metrics = sec.section("metrics", "config.metrics")
    return t.TelemetryConfig(
        tracing=_tracing(sec, env),
        logging=_logging(logging) if logging is not None else t.LoggingConfig(),
        metrics=_metrics(metrics) if metrics is not None else t.MetricsConfig(),
    )


def env_endpoint(env: Mapping[str, str]) -> str | None:
    for name in _ENDPOINT_ENV:
        if env.get(name):
            return env[name]
    return None


def _tracing(parent: Section, env: Mapping[str, str]) -> t.TracingConfig | None:
    sec = parent.section("tracing", "config.tracing")
    fields: dict[str, Any] = {}
    if sec is not None:
        fields["protocol"] = sec.string("otlpProtocol") or "grpc"
        fields["headers"] = _secrets(sec.str_map("headers"))
        fields["path"] = sec.string("path") or "/v1/traces"
        for key, attr in (("randomSampling", "random_sampling"), ("clientSampling", "client_sampling")):
            ratio = _sampling(sec, key)
            if ratio is not None:
                fields[attr] = ratio
        fields["fields"] = _fields(sec, "telemetryFields")
    endpoint = env_endpoint(env) or (sec.string("otlpEndpoint") if sec else None)
    if endpoint is None:
        if sec is not None:
            parent.error("tracing", "tracing needs an otlpEndpoint (or the OTEL_EXPORTER_OTLP_ENDPOINT env var)")
        return None
    fields["endpoint"] = endpoint
    return _with_env(env, fields)


def _with_env(env: Mapping[str, str], fields: dict[str, Any]) -> t.TracingConfig:
    if env.get("OTLP_PROTOCOL"):
        # An unknown protocol from the environment falls back to the default, like agentgateway.
        proto = env["OTLP_PROTOCOL"].lower()
        fields["protocol"] = proto if proto in ("grpc", "http") else "grpc"
    if env.get("OTLP_HEADERS"):
        fields["headers"] = _secrets(_env_headers(env["OTLP_HEADERS"]))
    return t.TracingConfig(**fields)


def _sampling(sec: Section, key: str) -> float | None:
    """true/false/0.0-1.0, or a string holding one (agentgateway takes CEL; constants only here)."""
    node = sec.get(key)
    if node is None or not isinstance(node, YScalar) or node.value is None:
        return None
    value = node.value
    if isinstance(value, str):
        text = value.strip().lower()
        value = {"true": True, "false": False}.get(text, text)
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                sec.error(key, f"a CEL sampling expression is {NOT_SUPPORTED}; use true, false or 0.0-1.0")
                return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and 0.0 <= value <= 1.0:
        return float(value)
    sec.error(key, f"expected true, false or a ratio between 0.0 and 1.0, got {value}")
    return None


def _secrets(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, m.Secret], ...]:
    return tuple((k, m.Secret(v)) for k, v in headers)


def _env_headers(text: str) -> tuple[tuple[str, str], ...]:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return ()
        return tuple((str(k), str(v)) for k, v in data.items()) if isinstance(data, dict) else ()
    pairs = (p.partition("=") for p in text.split(",") if "=" in p)
    return tuple((k.strip(), v.strip()) for k, _, v in pairs)


def _fields(parent: Section, name: str) -> t.Fields:
    sec = parent.section("fields", name)
    if sec is None:
        return t.Fields()
    remove = sec.str_list("remove") if sec.has("remove") else ()
    return t.Fields(_adds(sec), remove)


def _adds(sec: Section, name: str = "add") -> tuple[tuple[str, Any], ...]:
    """An `add: {name: CEL}` map (or another key of that shape), compiled."""
    add = []
    for key, path, line, node in sec.entries(name):
        if not (isinstance(node, YScalar) and isinstance(node.value, str)):
            sec.ctx.error(line, path, f"expected string, got {type_name(node)}")
            continue
        try:
            add.append((key, compile_expression(node.value)))
        except CelError as e:
            sec.ctx.error(line, path, f"invalid CEL expression: {e}")
    return tuple(add)


def access_log_policy(root: Section, tel: t.TelemetryConfig) -> t.TelemetryConfig:
    """frontendPolicies.accessLog (agentgateway's successor of config.logging's filter and fields):
    its filter replaces config.logging.filter; its add/remove extend config.logging.fields."""
    # The frontendPolicies map itself is opened (and its keys checked) by lower._frontend; opening
    # it twice would report its errors twice, so only the accessLog child is opened here.
    front = root.get("frontendPolicies")
    if not isinstance(front, YMap) or "accessLog" not in front.index:
        return tel
    schema = root.schema.child("frontendPolicies").child("accessLog")
    path = join(root.sub("frontendPolicies"), "accessLog")
    sec = Section.open(root.ctx, front.get("accessLog"), path, schema, "frontendPolicies.accessLog")
    if sec is None:
        return tel
    log = tel.logging
    add = log.fields.add + _adds(sec)
    remove = log.fields.remove + (sec.str_list("remove") if sec.has("remove") else ())
    flt = expression(sec, "filter") if sec.has("filter") else log.filter
    return replace(tel, logging=replace(log, filter=flt, fields=t.Fields(add, remove)))


def _logging(sec: Section) -> t.LoggingConfig:
    level = _level(sec)
    fmt = sec.string("format") or "text"
    if fmt not in ("text", "json"):
        sec.error("format", f'expected text or json, got "{fmt}"')
        fmt = "text"
    return t.LoggingConfig(level, fmt, expression(sec, "filter"), _fields(sec, "telemetryFields"))


def _level(sec: Section) -> str:
    """The root level of `info`, `info,mod=trace` or `[info, mod=trace]` (per-module levels are ignored)."""
    node = sec.get("level")
    if node is None:
        return "info"
    items = sec.str_list("level") if not isinstance(node, YScalar) else (sec.string("level") or "info",)
    for item in items:
        for part in item.split(","):
            part = part.strip().lower()
            if part and "=" not in part:
                if part not in _LEVELS:
                    sec.error("level", f'unknown log level "{part}"; expected one of: {", ".join(_LEVELS)}')
                    return "info"
                return part
    return "info"


def _metrics(sec: Section) -> t.MetricsConfig:
    remove = tuple(t.canonical_metric(n) for n in sec.str_list("remove"))
    return t.MetricsConfig(remove, _fields(sec, "metricFields"))
