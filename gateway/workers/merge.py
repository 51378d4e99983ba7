"""Deployment-wide metrics: the workers' expositions merged into one.

Each worker keeps its own prometheus-client registry (including the collectors read at scrape
time), so the supervisor scrapes every worker and merges the parsed families: samples with the
same name and label set are combined, counters, histograms and summaries by summing, gauges by
summing unless `GAUGE_MERGE` names a family whose value every worker reports alike (shared state,
build info) or whose worst reading is the useful one (ledger lag).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

# Families not summed across workers. Budget gauges come from the shared state backend (with the
# memory backend, budgets refuse to start with workers), so each worker reports the deployment's
# value: taking the extreme avoids multiplying it by N.
GAUGE_MERGE: dict[str, Callable[[float, float], float]] = {
    "agentgateway_build_info": max,
    "agentgateway_budget_spent_usd": max,
    "agentgateway_budget_remaining_usd": min,
    "agentgateway_budget_limit_usd": max,
    "agentgateway_budget_series_omitted": max,
    "agentgateway_ledger_commit_lag_seconds": max,
    "agentgateway_ledger_oldest_pending_seconds": max,
}
# Types whose samples only grow while a process lives; a dead worker's last values are kept.
CUMULATIVE = frozenset({"counter", "histogram", "summary"})

_Key = tuple[str, tuple[tuple[str, str], ...]]


def parse(text: str) -> list[Metric]:
    return list(text_string_to_metric_families(text))


def _add(a: float, b: float) -> float:
    return a + b


def merge(sources: Iterable[Iterable[Metric]]) -> list[Metric]:
    """One family per name (first-seen order), one sample per (sample name, label set)."""
    families: dict[str, Metric] = {}
    samples: dict[str, dict[_Key, Sample]] = {}
    for source in sources:
        for fam in source:
            out = families.get(fam.name)
            if out is None:
                out = families[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
                samples[fam.name] = {}
            combine = GAUGE_MERGE.get(fam.name, _add) if fam.type == "gauge" else _add
            merged = samples[fam.name]
            for s in fam.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                prev = merged.get(key)
                merged[key] = s if prev is None else prev._replace(value=combine(prev.value, s.value))
    for name, fam in families.items():
        fam.samples = list(samples[name].values())
    return list(families.values())


def cumulative(families: Iterable[Metric]) -> list[Metric]:
    """The families that must not go backwards when the worker reporting them exits."""
    return [f for f in families if f.type in CUMULATIVE]


def sample_sum(families: Iterable[Metric], sample_name: str) -> float:
    return sum(s.value for f in families for s in f.samples if s.name == sample_name)
