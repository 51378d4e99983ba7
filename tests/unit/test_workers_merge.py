"""The `--workers` metrics merge, on the expositions of real Metrics registries."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.telemetry.access_log import _line_pieces
from gateway.telemetry.metrics import HTTP_LABELS, Metrics
from gateway.workers import merge

LABELS = tuple(f"v-{name}" for name in HTTP_LABELS)


def worker(requests: int, seconds: float, pool_idle: int, budget_spent: float) -> list[Metric]:
    m = Metrics()
    children = m.http_children(LABELS)
    assert children.requests is not None and children.duration is not None
    for _ in range(requests):
        children.requests.inc()
        children.duration.observe(seconds)
    m.watch_pool(lambda: [("http://up", 0, pool_idle)])

    def budget() -> list[Metric]:
        fam = GaugeMetricFamily("agentgateway_budget_spent_usd", "spend", labels=("scope", "account", "period"))
        fam.add_metric(["team", "a", "monthly"], budget_spent)
        return [fam]

    m.watch("budget", budget)
    return merge.parse(m.exposition().decode())


def expose(families: list[Metric]) -> str:
    class Source:
        def collect(self) -> list[Metric]:
            return families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Source())  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_counters_histograms_and_gauges_merge_by_label_set() -> None:
    a, b = worker(3, 0.02, 2, 1.5), worker(5, 0.2, 1, 1.75)
    out = values(expose(merge.merge([a, b])))
    labels = tuple(sorted(zip(HTTP_LABELS, LABELS, strict=True)))
    assert out[("agentgateway_requests_total", labels)] == 8
    assert out[("agentgateway_request_duration_seconds_count", labels)] == 8
    assert abs(out[("agentgateway_request_duration_seconds_sum", labels)] - (3 * 0.02 + 5 * 0.2)) < 1e-9
    assert out[("agentgateway_request_duration_seconds_bucket", tuple(sorted((*labels, ("le", "0.025")))))] == 3
    assert out[("agentgateway_request_duration_seconds_bucket", tuple(sorted((*labels, ("le", "+Inf")))))] == 8
    # Per-worker amounts add up; values every worker reports alike do not.
    assert out[("agentgateway_upstream_pool_connections", (("backend", "http://up"), ("state", "idle")))] == 3
    assert out[("agentgateway_build_info", (("tag", "0.1.0"),))] == 1
    budget = (("account", "a"), ("period", "monthly"), ("scope", "team"))
    assert out[("agentgateway_budget_spent_usd", budget)] == 1.75


def test_cumulative_keeps_what_must_not_go_backwards() -> None:
    retired = merge.merge([merge.cumulative(worker(4, 0.1, 7, 2.0))])
    names = {f.name for f in retired}
    assert "agentgateway_requests" in names and "agentgateway_request_duration_seconds" in names
    assert "agentgateway_upstream_pool_connections" not in names and "agentgateway_build_info" not in names
    out = merge.merge([retired, worker(1, 0.1, 1, 0.0)])
    assert merge.sample_sum(out, "agentgateway_requests_total") == 5


def test_merging_one_source_round_trips_the_exposition() -> None:
    m = Metrics()
    requests = m.http_children(LABELS).requests
    assert requests is not None
    requests.inc(2)
    text = m.exposition().decode()
    assert expose(merge.merge([merge.parse(text)])) == text


def test_access_log_pieces_stay_line_aligned_under_pipe_buf() -> None:
    lines = [b"x" * n + b"\n" for n in (10, 3000, 2000, 5000, 1, 4095)]
    data = b"".join(lines)
    pieces = list(_line_pieces(data, 4096))
    assert b"".join(pieces) == data
    assert all(p.endswith(b"\n") for p in pieces)
    assert all(len(p) <= 4096 or p.count(b"\n") == 1 for p in pieces)  # only an over-long line stays whole
    assert len(pieces) == 5
