"""OpenTelemetry traces as agentgateway emits them (research §6.3), exported over OTLP.

One SERVER span per traced request, named "<METHOD> <path>", carrying the access-log fields as
attributes; one CLIENT child span per upstream attempt, whose W3C `traceparent` replaces the
client's on the upstream request. The sampling decision is taken before any span object exists,
so an unsampled request costs one header scan. Spans are exported by a BatchSpanProcessor thread:
a slow or down collector fills (then overflows) its bounded queue, never the request path.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from gateway.config.model_telemetry import TracingConfig
from gateway.policies.base import Exchange
from gateway.server.types import Headers

_TRACEPARENT = b"traceparent"
_EXPORT_TIMEOUT_S = 5.0
# Policy refusals recorded as span events, so a trace shows which decision ended the request.
_DECISION_EVENTS = {"RateLimit": "rate_limit.rejected", "Budget": "budget.rejected",
                    "Guardrail": "guardrail.rejected", "APIKeyAuth": "auth.rejected", "JwtAuth": "auth.rejected",
                    "BasicAuth": "auth.rejected", "Authorization": "authorization.denied"}
_CLOSE_WAIT_S = 3.0
# Exchange.policy_state key: CLIENT spans (and their end times) awaiting the tracing filter.
_HELD = "tracing.held"


def parse_traceparent(value: bytes) -> tuple[int, int, bool] | None:
    """(trace id, parent span id, sampled) of a W3C `traceparent`, or None when malformed."""
    parts = value.split(b"-")
    if len(parts) < 4 or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2 or parts[0] == b"ff":
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, span_id, bool(flags & 1)


def traceparent(ctx: SpanContext) -> bytes:
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01".encode()


def exporter_for(cfg: TracingConfig) -> SpanExporter:
    headers = {k: v.reveal() for k, v in cfg.headers}
    if cfg.protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        base = cfg.endpoint.rstrip("/")
        url = base if base.endswith(cfg.path) else base + cfg.path
        return HttpExporter(endpoint=url, headers=headers, timeout=_EXPORT_TIMEOUT_S)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    insecure = not cfg.endpoint.startswith("https://")
    return GrpcExporter(endpoint=cfg.endpoint, insecure=insecure, headers=headers, timeout=_EXPORT_TIMEOUT_S)


class Tracing:
    def __init__(self, cfg: TracingConfig, processor: SpanProcessor | None = None) -> None:
        self.config = cfg
        service = os.environ.get("OTEL_SERVICE_NAME") or "agentgateway"
        # frontendPolicies.tracing.resources win over the environment: they are explicit config.
        attributes: dict[str, Any] = {"service.name": service, **dict(cfg.resources)}
        self.provider = TracerProvider(resource=Resource.create(attributes))
        self.provider.add_span_processor(processor or BatchSpanProcessor(exporter_for(cfg)))
        self.tracer = self.provider.get_tracer("agentgateway")
        self._random = cfg.random_sampling
        self._client = cfg.client_sampling
        self._filter = cfg.filter

    # -- request path -------------------------------------------------------------------------

    def start_server(self, ex: Exchange) -> None:
        """Start the request's SERVER span if it is sampled; leaves ex.span None otherwise."""
        req = ex.req
        header = req.header(_TRACEPARENT)
        parent = parse_traceparent(header) if header is not None else None
        if parent is None:
            if not _chance(self._random):
                return
            context = None
        else:
            # A client that did not sample keeps its decision; one that did is followed at clientSampling.
            if not parent[2] or not _chance(self._client):
                return
            remote = SpanContext(parent[0], parent[1], is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        ex.span = self.tracer.start_span(f"{req.method} {req.path}", context, SpanKind.SERVER)

    def start_attempt(self, ex: Exchange, headers: Headers, name: str, host: str, port: int) -> Headers:
        """A CLIENT span for one upstream attempt (ending the previous one); returns the headers with
        this span's traceparent in place of the client's."""
        self._end_attempt(ex)
        span = ex.client_span = self.tracer.start_span(
            f"{ex.req.method} {name}", trace.set_span_in_context(ex.span), SpanKind.CLIENT,
            attributes={"server.address": host, "server.port": port, "http.request.method": ex.req.method},
        )
        out = [h for h in headers if h[0] != _TRACEPARENT]
        out.append((_TRACEPARENT, traceparent(span.get_span_context())))
        return out

    def finish(self, ex: Exchange, fields: Iterable[tuple[str, Any]]) -> None:
        """End the request's spans; `fields` are the access-log fields (already CEL-adjusted)."""
        span = ex.span
        self._end_attempt(ex)
        if self._filter is not None:
            held: list[tuple[Any, int]] = ex.policy_state.pop(_HELD, [])
            # Keep semantics: only `true` exports; a span never ended is never exported.
            if self._filter.evaluate(ex) is not True:
                return
            for attempt, end_ns in held:
                attempt.end(end_ns)
        attrs = dict(fields)
        # agentgateway: the error is the span status, not an attribute.
        error = attrs.pop("error", None)
        attrs["url.scheme"] = "http"
        attrs["network.protocol.version"] = ex.req.http_version
        span.set_attributes(attrs)  # one call: the SDK locks and validates per call
        event = _DECISION_EVENTS.get(ex.reason)
        if event is not None:
            span.add_event(event, {"reason": ex.reason, "http.status": ex.status, "error": str(error or "")})
        if ex.status >= 500 or (error is not None and ex.status == 0):
            span.set_status(Status(StatusCode.ERROR, str(error or ex.reason)))
        span.end()

    def _end_attempt(self, ex: Exchange) -> None:
        span = ex.client_span
        if span is None:
            return
        ex.client_span = None
        if ex.reason == "Upstream" and ex.status:
            span.set_attribute("http.response.status_code", ex.status)
            if ex.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        else:
            span.set_status(Status(StatusCode.ERROR, ex.error or ex.reason))
        if self._filter is not None:
            # Whether it is exported is known when the request ends (finish): held until then.
            ex.policy_state.setdefault(_HELD, []).append((span, time.time_ns()))
            return
        span.end()

    def trace_ids(self, ex: Exchange) -> tuple[str, str]:
        ctx = ex.span.get_span_context()
        return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"

    # -- lifecycle ----------------------------------------------------------------------------

    async def close(self) -> None:
        """Flush what is queued, for at most a few seconds (a down collector must not hold the exit)."""
        # A daemon thread, not the loop's executor: the loop would wait for it when closing.
        done = threading.Event()

        def shutdown() -> None:
            self.provider.shutdown()
            done.set()

        threading.Thread(target=shutdown, name="otel-shutdown", daemon=True).start()
        deadline = time.monotonic() + _CLOSE_WAIT_S
        while not done.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)


def _chance(ratio: float) -> bool:
    return ratio >= 1.0 or (ratio > 0.0 and random.random() < ratio)

