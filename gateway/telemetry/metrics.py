"""Prometheus metric families, named as agentgateway names them.

The full set (histograms, GenAI durations, guardrails...) comes with the observability work; the
families here are the ones the core gateway records. Label children are cached per label tuple so
recording a request costs a dict lookup and an increment.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from gateway import __version__

HTTP_LABELS = ("backend", "protocol", "method", "status", "reason", "bind", "gateway", "listener", "route")
GENAI_LABELS = ("gen_ai_token_type", "gen_ai_operation_name", "gen_ai_system", "gen_ai_request_model",
                "gen_ai_response_model", "route")


# agentgateway's token buckets: powers of 4 from 1 to 64 Mi.
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # prometheus-client appends _total to counters itself.
        self.requests = Counter("agentgateway_requests", "Total HTTP requests", HTTP_LABELS,
                                registry=self.registry)
        self.tokens = Histogram("agentgateway_gen_ai_client_token_usage", "Number of tokens used per request",
                                GENAI_LABELS, buckets=TOKEN_BUCKETS, registry=self.registry)
        self.downstream_connections = Counter("agentgateway_downstream_connections",
                                              "Downstream connections accepted", ("bind",),
                                              registry=self.registry)
        build = Gauge("agentgateway_build_info", "Build information", ("tag",), registry=self.registry)
        build.labels(__version__).set(1)
        self._request_children: dict[tuple[str, ...], Counter] = {}
        self._token_children: dict[tuple[str, ...], Histogram] = {}

    def count_request(self, labels: tuple[str, ...]) -> None:
        child = self._request_children.get(labels)
        if child is None:
            child = self._request_children[labels] = self.requests.labels(*labels)
        child.inc()

    def observe_tokens(self, labels: tuple[str, ...], n: int) -> None:
        child = self._token_children.get(labels)
        if child is None:
            child = self._token_children[labels] = self.tokens.labels(*labels)
        child.observe(n)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
