"""What the gateway records when a request ends: metrics, the access-log line and the spans.

`Telemetry.record` is the one call at the end of every request (Gateway._record). Metrics are
always recorded; the access-log fields are built once and shared by the log line and the span
attributes, and only when one of them will use them. CEL `fields.add` expressions were compiled
at load; they are evaluated here only when configured.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from gateway.config.model import GatewayConfig, RouteType
from gateway.config.model_telemetry import Fields
from gateway.policies.base import Exchange
from gateway.server.types import Headers
from gateway.telemetry.access_log import AccessLog
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.tracing import Tracing

Field = tuple[str, Any]
_HTTP_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0", "2": "HTTP/2", "2.0": "HTTP/2"}
# Request parameters agentgateway logs (gen_ai.request.*), read from the parsed request body.
_REQUEST_PARAMS = (("temperature", "gen_ai.request.temperature"), ("top_p", "gen_ai.request.top_p"),
                   ("max_tokens", "gen_ai.request.max_tokens"),
                   ("frequency_penalty", "gen_ai.request.frequency_penalty"),
                   ("presence_penalty", "gen_ai.request.presence_penalty"), ("seed", "gen_ai.request.seed"))
# Exchange.policy_state key where the budget policy (policies/budget.py COST_NANOS) leaves the
# request's priced cost, in nanodollars, by the time the request is recorded.
COST_NANOS = "cost.nanos"


class Telemetry:
    def __init__(self, config: GatewayConfig, metrics: Metrics) -> None:
        tel = config.process.telemetry
        self.metrics = metrics
        self.tracing = Tracing(tel.tracing) if tel.tracing is not None else None
        self.access_log = AccessLog(tel.logging)  # kept when disabled: POST /logging may enable it
        metrics.watch_access_log(lambda: self.access_log.dropped)
        self._log_filter = tel.logging.filter
        self._log_fields = tel.logging.fields
        self._trace_fields = tel.tracing.fields if tel.tracing is not None else Fields()
        # Only when the Metrics object was built with these labels (a caller may pass its own).
        adds = tel.metrics.fields.add
        names = tuple(name for name, _ in adds)
        self._metric_fields = tuple(expr for _, expr in adds) if metrics.extra_labels == names else ()
        # bind name (its port) -> the `gateways:` entry it was declared by; other dialects have none.
        self._gateways = {str(b.port): b.gateway for b in config.binds if b.gateway}

    async def close(self) -> None:
        await self.access_log.close()
        if self.tracing is not None:
            await self.tracing.close()

    def upstream_attempt(self, ex: Exchange, headers: Headers, peer: Any) -> Headers:
        """Called before each upstream call: remembers the peer; a traced request gets a CLIENT span."""
        ex.endpoint = peer
        if ex.span is None or self.tracing is None:
            return headers
        return self.tracing.start_attempt(ex, headers, ex.backend_name, peer.host, peer.port)

    def count_retry(self, ex: Exchange, bind_name: str, backend: str, status: int) -> None:
        """agentgateway_retries_total, labelled with the failed attempt's backend and status."""
        route = ex.route.name if ex.route and ex.route.name else "unknown"
        listener = ex.listener.name if ex.listener and ex.listener.name else "unknown"
        extra = tuple(_label(e.evaluate(ex)) for e in self._metric_fields) if self._metric_fields else ()
        self.metrics.count_retry((backend, ex.protocol, ex.req.method, str(status), "UpstreamFailure", bind_name,
                                  self._gateways.get(bind_name, "unknown"), listener, route, "unknown") + extra)

    def record(self, ex: Exchange, bind_name: str) -> None:
        now = asyncio.get_running_loop().time()
        duration = now - ex.started_at
        route = ex.route.name if ex.route and ex.route.name else "unknown"
        listener = ex.listener.name if ex.listener and ex.listener.name else "unknown"
        extra = tuple(_label(e.evaluate(ex)) for e in self._metric_fields) if self._metric_fields else ()
        gateway = self._gateways.get(bind_name, "unknown")
        http = self.metrics.http_children((ex.backend_name, ex.protocol, ex.req.method, str(ex.status), ex.reason,
                                           bind_name, gateway, listener, route, "unknown") + extra)
        if http.requests is not None:
            http.requests.inc()
        if http.duration is not None:
            http.duration.observe(duration)
        nanos = ex.policy_state.get(COST_NANOS)
        cost = nanos / 1e9 if nanos else 0.0
        if ex.usage is not None:
            self._genai(ex, now, ("chat", ex.provider, ex.model or ex.request_model or "unknown",
                                  ex.response_model or "unknown", bind_name, gateway, listener, route,
                                  "unknown") + extra, cost)
        log = self.access_log
        if not log.enabled and ex.span is None:
            return
        fields = self.fields(ex, now, duration, cost)
        if log.enabled and (self._log_filter is None or self._log_filter.evaluate(ex) is True):
            log.emit(_adjust(fields, self._log_fields, ex), time.time())
        if ex.span is not None and self.tracing is not None:
            self.tracing.finish(ex, _adjust(fields, self._trace_fields, ex))

    def _genai(self, ex: Exchange, now: float, labels: tuple[str, ...], cost: float) -> None:
        g = self.metrics.genai_children(labels)
        usage = ex.usage
        output = usage.output_tokens
        counts = (usage.total_input_tokens(), output, usage.cache_read_tokens, usage.cache_write_tokens)
        for index, n in enumerate(counts):
            if n:
                g.observe_tokens(index, n)
        if g.duration is not None:
            g.duration.observe(now - ex.started_at)
        first = ex.first_chunk_at
        if first and ex.status < 300:
            if g.ttft is not None:
                g.ttft.observe(first - ex.started_at)
            if g.tpot is not None and output > 1:
                g.tpot.observe((now - first) / (output - 1))
        if cost and g.cost is not None:
            g.cost.inc(cost)

    def fields(self, ex: Exchange, now: float, duration: float, cost: float) -> list[Field]:
        """agentgateway's access-log fields, in its order; fields without a value are left out."""
        req = ex.req
        out: list[Field] = []
        add = out.append
        if ex.listener is not None and ex.listener.name:
            add(("listener", ex.listener.name))
        if ex.route is not None and ex.route.name:
            add(("route", ex.route.name))
        if ex.endpoint is not None:
            add(("endpoint", f"{ex.endpoint.host}:{ex.endpoint.port}"))
        if req.client is not None:
            add(("src.addr", f"{req.client[0]}:{req.client[1]}"))
        add(("http.method", req.method))
        host = req.header(b"host")
        if host:
            add(("http.host", host.decode("latin-1")))
        add(("http.path", req.path))
        add(("http.version", _HTTP_VERSIONS.get(req.http_version, req.http_version)))
        if ex.status:
            add(("http.status", ex.status))
        if ex.span is not None and self.tracing is not None:
            trace_id, span_id = self.tracing.trace_ids(ex)
            add(("trace.id", trace_id))
            add(("span.id", span_id))
        if ex.jwt and isinstance(ex.jwt.get("sub"), str):
            add(("jwt.sub", ex.jwt["sub"]))
        add(("protocol", ex.protocol))
        if ex.protocol == "llm" and ex.route_type is not None:
            _llm_fields(ex, now, add, cost)
        if ex.error:
            add(("error", ex.error))
        if ex.reason != "Upstream":
            add(("reason", ex.reason))
        add(("duration", f"{int(duration * 1000)}ms"))
        return out


def _llm_fields(ex: Exchange, now: float, add: Any, cost: float) -> None:
    add(("gen_ai.operation.name", "embeddings" if ex.route_type is RouteType.EMBEDDINGS else "chat"))
    if ex.provider != "unknown":
        add(("gen_ai.provider.name", ex.provider))
    model = ex.model or ex.request_model
    if model:
        add(("gen_ai.request.model", model))
    if ex.response_model:
        add(("gen_ai.response.model", ex.response_model))
    usage = ex.usage
    if usage is not None and ex.status < 300:
        add(("gen_ai.usage.input_tokens", usage.total_input_tokens()))
        if usage.cache_write_tokens:
            add(("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens))
        if usage.cache_read_tokens:
            add(("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens))
        add(("gen_ai.usage.output_tokens", usage.output_tokens))
        first = ex.first_chunk_at
        if first:
            add(("agw.ai.time_to_first_token", f"{int((first - ex.started_at) * 1000)}ms"))
            if usage.output_tokens > 1:
                add(("agw.ai.time_per_output_token", f"{int((now - first) * 1000 / (usage.output_tokens - 1))}ms"))
    if cost:
        add(("agw.ai.usage.cost.total", cost))
    body = ex.body
    if body:
        for key, name in _REQUEST_PARAMS:
            value = body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                add((name, value))


def _adjust(fields: list[Field], spec: Fields, ex: Exchange) -> list[Field]:
    """Apply `fields.remove` then `fields.add` (CEL; a result of None adds nothing)."""
    if not spec.add and not spec.remove:
        return fields
    out = [f for f in fields if f[0] not in spec.remove] if spec.remove else list(fields)
    for name, expr in spec.add:
        value = expr.evaluate(ex)
        if value is not None:
            out = [f for f in out if f[0] != name]
            out.append((name, _attribute(value)))
    return out


def _attribute(value: Any) -> Any:
    """CEL results as log/span values: scalars as they are, anything else as JSON text."""
    if isinstance(value, (str, bool, int, float)):
        return value
    return orjson.dumps(value, default=str).decode()


def _label(value: Any) -> str:
    return "unknown" if value is None else str(value)
