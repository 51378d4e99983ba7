"""Lowering of `frontendPolicies.tracing`, agentgateway's successor of `config.tracing`.

Precedence (README "Observability"): when both are present the frontend policy decides where
spans go (`host` or `backend`, `protocol`, `path`); its `randomSampling`/`clientSampling` win
where set, otherwise config.tracing's apply; its `remove`/`attributes` are applied after
config.tracing's `fields`. config.tracing's `headers` and the endpoint/protocol env overrides are
for the config.tracing collector and are not carried over; OTLP_HEADERS still applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gateway.cel import CelError, compile_expression

from . import model as m
from . import model_telemetry as t
from .lower_ratelimit import expression
from .lower_telemetry import _adds, _env_headers, _sampling, _secrets
from .reader import NOT_SUPPORTED, Section, join, type_name
from .yamlnodes import YMap, YScalar

_TARGETS = ("host", "backend", "service")


def frontend_tracing(root: Section, tel: t.TelemetryConfig, named: Mapping[str, m.BackendTarget],
                     env: Mapping[str, str]) -> t.TelemetryConfig:
    front = root.get("frontendPolicies")
    if not isinstance(front, YMap) or "tracing" not in front.index:
        return tel
    # Opened here, not by lower._frontend (which would report this child's errors a second time).
    schema = root.schema.child("frontendPolicies").child("tracing")
    path = join(root.sub("frontendPolicies"), "tracing")
    sec = Section.open(root.ctx, front.get("tracing"), path, schema, "frontendPolicies.tracing")
    if sec is None:
        return tel
    endpoint = _endpoint(sec, named) or ""  # on error: the other keys are still checked, tel returned
    base = tel.tracing or t.TracingConfig(endpoint="")
    protocol = sec.string("protocol") or "grpc"
    if protocol not in ("grpc", "http"):
        sec.error("protocol", f'expected grpc or http, got "{protocol}"')
        protocol = "grpc"
    fields: dict[str, Any] = {
        "endpoint": endpoint if protocol == "grpc" or "://" in endpoint else f"http://{endpoint}",
        "protocol": protocol,
        "path": sec.string("path") or "/v1/traces",
        "headers": _secrets(_env_headers(env["OTLP_HEADERS"])) if env.get("OTLP_HEADERS") else (),
        "fields": t.Fields(base.fields.add + (_adds(sec, "attributes") if sec.has("attributes") else ()),
                           base.fields.remove + (sec.str_list("remove") if sec.has("remove") else ())),
        "resources": _resources(sec),
        "filter": expression(sec, "filter") if sec.has("filter") else None,
    }
    for key, attr in (("randomSampling", "random_sampling"), ("clientSampling", "client_sampling")):
        ratio = _sampling(sec, key)
        fields[attr] = ratio if ratio is not None else getattr(base, attr)
    if not endpoint:
        return tel
    return replace(tel, tracing=t.TracingConfig(**fields))


def _endpoint(sec: Section, named: Mapping[str, m.BackendTarget]) -> str | None:
    given = [k for k in _TARGETS if sec.has(k)]
    if len(given) != 1:
        sec.error(None, "tracing needs exactly one of host, backend or service (the OTLP collector)")
        return None
    if given[0] == "service":
        sec.error("service", f"service references are {NOT_SUPPORTED}; use host or backend")
        return None
    if given[0] == "host":
        host = sec.string("host")
        if not host:
            sec.error("host", "expected the collector address, e.g. localhost:4317")
        return host or None
    ref = (sec.string("backend") or "").lstrip("/")
    target = named.get(ref)
    if not isinstance(target, m.HostBackend):
        known = ", ".join(k for k, v in named.items() if isinstance(v, m.HostBackend)) or "none defined"
        sec.error("backend", f'unknown host backend "{ref}" ({known})')
        return None
    return f"{'https' if target.tls is not None else 'http'}://{target.target}"


def _resources(sec: Section) -> tuple[tuple[str, Any], ...]:
    """`resources: {name: CEL}`: evaluated once, at load (the tracer provider's Resource is fixed)."""
    out = []
    for key, path, line, node in sec.entries("resources") if sec.has("resources") else ():
        if not (isinstance(node, YScalar) and isinstance(node.value, str)):
            sec.ctx.error(line, path, f"expected string, got {type_name(node)}")
            continue
        try:
            value = compile_expression(node.value).evaluate(None)  # type: ignore[arg-type]
        except CelError as e:
            sec.ctx.error(line, path, f"invalid CEL expression: {e}")
            continue
        if not isinstance(value, (str, bool, int, float)):
            sec.ctx.error(line, path, "resource attributes are set once at startup: expected a constant "
                                      "expression such as '\"my-service\"' (request variables are not available)")
            continue
        out.append((key, value))
    return tuple(out)
