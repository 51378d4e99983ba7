"""Prometheus metric families, named, labelled and bucketed as agentgateway does (research §6.1).

Recording is per request, so it is kept cheap: the label children of one label tuple are looked
up once and cached together (`http_children`, `genai_children`), and what can be read at scrape
time instead (downstream connections, upstream pool occupancy) is read then by a collector.
Families named in `config.metrics.remove` are never created: their recording is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.config.model_telemetry import MetricsConfig, canonical_metric

# agentgateway exposes no `_created` series; they would double the exposition for nothing.
disable_created_metrics()

HTTP_LABELS = ("backend", "protocol", "method", "status", "reason", "bind", "gateway", "listener", "route",
               "route_rule")
GENAI_LABELS = ("gen_ai_operation_name", "gen_ai_system", "gen_ai_request_model", "gen_ai_response_model",
                "bind", "gateway", "listener", "route", "route_rule")
TOKEN_TYPES = ("input", "output", "input_cache_read", "input_cache_write")

# agentgateway's buckets. Tokens: powers of 4 from 1 to 64 Mi.
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))
HTTP_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)
GENAI_DURATION_BUCKETS = tuple(0.01 * 2**i for i in range(14))  # 0.01 .. 81.92 s
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5)
CONNECT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpChildren:
    """The children of one HTTP label tuple; None for a removed family."""

    __slots__ = ("requests", "duration")

    def __init__(self, m: Metrics, labels: tuple[str, ...]) -> None:
        self.requests = m.requests.labels(*labels) if m.requests else None
        self.duration = m.request_duration.labels(*labels) if m.request_duration else None


class GenAIChildren:
    """The children of one GenAI label tuple; `tokens` is indexed like TOKEN_TYPES."""

    __slots__ = ("_family", "_labels", "_tokens", "cost", "duration", "ttft", "tpot")

    def __init__(self, m: Metrics, labels: tuple[str, ...]) -> None:
        self._family, self._labels = m.tokens, labels
        # Token children are created on first use: no empty cache_read/cache_write series.
        self._tokens: list[Any] = [None] * len(TOKEN_TYPES)
        self.cost = m.cost.labels(*labels) if m.cost else None
        self.duration = m.genai_duration.labels(*labels) if m.genai_duration else None
        self.ttft = m.ttft.labels(*labels) if m.ttft else None
        self.tpot = m.tpot.labels(*labels) if m.tpot else None

    def observe_tokens(self, index: int, n: int) -> None:
        """Observe `n` tokens of TOKEN_TYPES[index]."""
        child = self._tokens[index]
        if child is None:
            if self._family is None:
                return
            child = self._tokens[index] = self._family.labels(TOKEN_TYPES[index], *self._labels)
        child.observe(n)


class Metrics:
    def __init__(self, config: MetricsConfig | None = None) -> None:
        cfg = config or MetricsConfig()
        self.registry = CollectorRegistry(auto_describe=True)
        self._removed = frozenset(cfg.remove)
        # config.metrics.fields.add: extra label dimensions (CEL), after agentgateway's own labels.
        self.extra_labels = tuple(name for name, _ in cfg.fields.add)
        http = HTTP_LABELS + self.extra_labels
        genai = GENAI_LABELS + self.extra_labels
        self.requests = self._counter("agentgateway_requests", "Total HTTP requests", http)
        self.request_duration = self._histogram("agentgateway_request_duration_seconds", "Request duration",
                                                http, HTTP_DURATION_BUCKETS)
        self.retries = self._counter("agentgateway_retries", "Upstream retry attempts", http)
        self.tokens = self._histogram("agentgateway_gen_ai_client_token_usage", "Number of tokens used per request",
                                      ("gen_ai_token_type",) + genai, TOKEN_BUCKETS)
        self.cost = self._counter("agentgateway_gen_ai_client_cost_usd", "Cost of LLM requests in USD", genai)
        self.genai_duration = self._histogram("agentgateway_gen_ai_server_request_duration",
                                              "Generative AI server request duration", genai,
                                              GENAI_DURATION_BUCKETS)
        self.ttft = self._histogram("agentgateway_gen_ai_server_time_to_first_token",
                                    "Time to generate first token", genai, TTFT_BUCKETS)
        self.tpot = self._histogram("agentgateway_gen_ai_server_time_per_output_token",
                                    "Time per output token generated after the first token", genai, TPOT_BUCKETS)
        self.guardrail_checks = self._counter("agentgateway_guardrail_checks", "Guardrail checks",
                                              ("phase", "action"))
        self.upstream_connect = self._histogram("agentgateway_upstream_connect_duration_seconds",
                                                "Time to open an upstream connection", ("backend",),
                                                CONNECT_BUCKETS)
        build = self._gauge("agentgateway_build_info", "Build information", ("tag",))
        if build is not None:
            build.labels(__version__).set(1)
        self._http_children: dict[tuple[str, ...], HttpChildren] = {}
        self._genai_children: dict[tuple[str, ...], GenAIChildren] = {}
        # Not an agentgateway family (it only counts 429s by reason); which limit type refuses is
        # what an operator tuning localRateLimit needs.
        self.rate_limit_rejections = Counter("agentgateway_rate_limit_rejections",
                                             "Requests refused by localRateLimit", ("route", "type"),
                                             registry=self.registry)
        # Not an agentgateway family: PII found by promptGuard regex guards, per entity type (SSN,
        # CREDIT_CARD, ..., "custom" for patterns) and action; never the values themselves.
        self.guardrail_detections = Counter("agentgateway_guardrail_detections",
                                            "Entities detected by promptGuard regex guards",
                                            ("phase", "entity", "action"), registry=self.registry)
        # Not an agentgateway family: backends taken out of rotation by failover (count_ejection).
        self.ejections = self._counter("agentgateway_failover_ejections", "Backends ejected by failover",
                                       ("backend",))

    # -- families (skipped when config.metrics.remove names them) -----------------------------

    def removed(self, name: str) -> bool:
        return canonical_metric(name) in self._removed

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Counter | None:
        # prometheus-client appends _total to counters itself.
        return None if self.removed(name) else Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...]) -> Gauge | None:
        return None if self.removed(name) else Gauge(name, doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str, labels: tuple[str, ...],
                   buckets: tuple[float, ...]) -> Histogram | None:
        if self.removed(name):
            return None
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    # -- recording ----------------------------------------------------------------------------

    def http_children(self, labels: tuple[str, ...]) -> HttpChildren:
        children = self._http_children.get(labels)
        if children is None:
            children = self._http_children[labels] = HttpChildren(self, labels)
        return children

    def genai_children(self, labels: tuple[str, ...]) -> GenAIChildren:
        children = self._genai_children.get(labels)
        if children is None:
            children = self._genai_children[labels] = GenAIChildren(self, labels)
        return children

    def record_cost(self, labels: tuple[str, ...], usd: float) -> None:
        """Add to agentgateway_gen_ai_client_cost_usd_total; `labels` as GENAI_LABELS + extra labels."""
        cost = self.genai_children(labels).cost
        if cost is not None and usd > 0:
            cost.inc(usd)

    def count_retry(self, labels: tuple[str, ...]) -> None:
        """One upstream retry; `labels` as HTTP_LABELS + extra labels (created on first retry only)."""
        if self.retries is not None:
            self.retries.labels(*labels).inc()

    def count_guardrail(self, phase: str, action: str) -> None:
        """phase Request|Response, action Allow|Mask|Reject|FailOpen (agentgateway's values)."""
        if self.guardrail_checks is not None:
            self.guardrail_checks.labels(phase, action).inc()

    def count_detections(self, phase: str, entity: str, action: str, n: int) -> None:
        self.guardrail_detections.labels(phase, entity, action).inc(n)

    def observe_connect(self, backend: str, seconds: float) -> None:
        if self.upstream_connect is not None:
            self.upstream_connect.labels(backend).observe(seconds)

    def count_ejection(self, backend: str) -> None:
        """One failover ejection of `backend` (a configured name: bounded label set)."""
        if self.ejections is not None:
            self.ejections.labels(backend).inc()

    def count_rate_limit_rejection(self, route: str, limit_type: str) -> None:
        # Rejections are the exceptional path; the prometheus-client label lookup is cheap enough.
        self.rate_limit_rejections.labels(route, limit_type).inc()

    # -- scrape-time collectors ---------------------------------------------------------------

    def watch_connections(self, accepted: Callable[[], int]) -> None:
        """agentgateway_downstream_connections_total, read from the front end when scraped."""
        if not self.removed("downstream_connections"):
            self.registry.register(_Callback(lambda: [_connections(accepted())]))

    def watch_pool(self, occupancy: Callable[[], Iterable[tuple[str, int, int]]]) -> None:
        """Upstream pool gauges (ours; agentgateway has none): (backend, in use, idle) per peer."""
        if not self.removed("upstream_pool_connections"):
            self.registry.register(_Callback(lambda: _pool(occupancy())))

    def watch_access_log(self, dropped: Callable[[], int]) -> None:
        """agentgateway_access_log_dropped_lines_total (ours): lines lost because stderr fell behind."""
        self.watch("access_log_dropped_lines", lambda: [_counter(
            "agentgateway_access_log_dropped_lines", "Access-log lines dropped because the writer fell behind",
            dropped())])

    def watch(self, family: str, collect: Callable[[], Iterable[Metric]]) -> None:
        """Families computed when scraped (on the event loop thread), unless `family` is removed."""
        if not self.removed(family):
            self.registry.register(_Callback(collect))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Callback(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        yield from self._collect()

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no names to reserve up front; keeps registration free of a first collect


def _connections(n: int) -> Metric:
    return _counter("agentgateway_downstream_connections", "Downstream connections accepted", n)


def _counter(name: str, doc: str, value: float) -> Metric:
    fam = CounterMetricFamily(name, doc)
    fam.add_metric([], value)
    return fam


def _pool(rows: Iterable[tuple[str, int, int]]) -> list[Metric]:
    fam = GaugeMetricFamily("agentgateway_upstream_pool_connections", "Upstream pool connections",
                            labels=("backend", "state"))
    for backend, in_use, idle in rows:
        fam.add_metric([backend, "in_use"], in_use)
        fam.add_metric([backend, "idle"], idle)
    return [fam]

