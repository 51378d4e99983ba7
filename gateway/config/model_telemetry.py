"""Runtime IR of `config.tracing`, `config.logging` and `config.metrics` (observability).

CEL-valued fields hold gateway.cel.Expression objects compiled at load, so a bad expression is a
config error with its line and evaluation on the request path only runs the compiled program.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fields:
    """`fields: {add: {name: CEL}, remove: [name]}` of tracing, logging and metrics."""

    add: tuple[tuple[str, Any], ...] = ()  # (name, Expression) in file order
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class TracingConfig:
    """config.tracing (with OTLP_* / OTEL_EXPORTER_OTLP_* env overrides applied)."""

    endpoint: str
    protocol: str = "grpc"  # grpc | http
    headers: tuple[tuple[str, Any], ...] = ()  # (name, model.Secret): collector credentials
    path: str = "/v1/traces"  # HTTP protocol only
    # Sampling: a ratio 0.0-1.0 (true = 1.0, false = 0.0). random: requests without a traceparent;
    # client: requests whose traceparent says sampled.
    random_sampling: float = 0.0
    client_sampling: float = 1.0
    fields: Fields = field(default_factory=Fields)
    # frontendPolicies.tracing only: OTel Resource attributes (constants, evaluated at load) and a
    # CEL keep-filter: a sampled request's spans are exported only when it evaluates to true.
    resources: tuple[tuple[str, Any], ...] = ()
    filter: Any = None


@dataclass(frozen=True)
class LoggingConfig:
    """config.logging."""

    level: str = "info"  # the root level; per-module entries are accepted and ignored
    format: str = "text"  # text | json
    filter: Any = None  # Expression: log a request only when it evaluates to true
    fields: Fields = field(default_factory=Fields)


@dataclass(frozen=True)
class MetricsConfig:
    """config.metrics: families to drop and extra label dimensions on every request metric."""

    remove: tuple[str, ...] = ()  # canonical family names (prefix and _total stripped)
    fields: Fields = field(default_factory=Fields)


@dataclass(frozen=True)
class TelemetryConfig:
    tracing: TracingConfig | None = None  # None: tracing off, no span objects at all
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)


_METRIC_PREFIX = "agentgateway_"
_METRIC_SUFFIXES = ("_total", "_seconds", "_bytes")


def canonical_metric(name: str) -> str:
    """One spelling per family: `agentgateway_requests_total`, `requests_total` and `requests` are
    the same family, as are `request_duration_seconds` and `request_duration` (agentgateway accepts
    bare, prefixed, `_total` and unit-suffixed names in `metrics.remove`)."""
    name = name.strip()
    if name.startswith(_METRIC_PREFIX):
        name = name[len(_METRIC_PREFIX):]
    for suffix in _METRIC_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name
