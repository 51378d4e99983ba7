"""Metric families recorded through the public Metrics API, read back from the exposition."""

from __future__ import annotations

from gateway.config.model_telemetry import MetricsConfig
from gateway.telemetry.metrics import Metrics

GENAI = ("chat", "openai", "gpt-4o-mini", "gpt-4o-mini", "3000", "unknown", "main", "openai", "unknown")


def lines(m: Metrics, prefix: str) -> list[str]:
    return [line for line in m.exposition().decode().splitlines() if line.startswith(prefix)]


def test_cost_guardrail_and_retry_counters() -> None:
    m = Metrics()
    m.record_cost(GENAI, 0.0015)
    m.record_cost(GENAI, 0.0005)
    m.record_cost(GENAI, 0.0)  # free requests add nothing
    cost = lines(m, "agentgateway_gen_ai_client_cost_usd_total")
    assert len(cost) == 1 and 'gen_ai_system="openai"' in cost[0] and float(cost[0].split()[-1]) == 0.002
    m.count_guardrail("Request", "Reject")
    assert lines(m, "agentgateway_guardrail_checks_total") == [
        'agentgateway_guardrail_checks_total{action="Reject",phase="Request"} 1.0']
    assert lines(m, "agentgateway_retries_total") == []  # no series until a retry happens
    m.count_retry(("openai", "llm", "POST", "503", "Upstream", "3000", "unknown", "main", "openai", "unknown"))
    assert len(lines(m, "agentgateway_retries_total")) == 1


def test_removed_families_are_never_created_and_recording_them_is_a_no_op() -> None:
    m = Metrics(MetricsConfig(remove=("gen_ai_client_cost_usd", "guardrail_checks", "build_info")))
    m.record_cost(GENAI, 1.0)
    m.count_guardrail("Response", "Mask")
    text = m.exposition().decode()
    assert "cost_usd" not in text and "guardrail_checks" not in text and "build_info" not in text
    assert "agentgateway_requests_total" in text
