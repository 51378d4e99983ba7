"""config.tracing / logging / metrics lowering: env overrides, spellings, defaults, redaction."""

from __future__ import annotations

from gateway.config import dump_config, load_config_text
from gateway.config.model_telemetry import canonical_metric

BASE = "binds: []\n"


def telemetry(text: str, env: dict[str, str] | None = None) -> object:
    return load_config_text(text, "config.yaml", env or {}).process.telemetry


def test_env_endpoint_turns_tracing_on_and_overrides_the_file() -> None:
    assert telemetry(BASE).tracing is None  # type: ignore[attr-defined]
    t = telemetry(BASE, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"}).tracing  # type: ignore[attr-defined]
    assert t.endpoint == "http://collector:4317" and t.protocol == "grpc" and t.random_sampling == 0.0
    text = "config:\n  tracing:\n    otlpEndpoint: http://file:4317\n    randomSampling: '0.25'\n" + BASE
    env = {"OTLP_ENDPOINT": "http://env:4318", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:1",
           "OTLP_PROTOCOL": "HTTP", "OTLP_HEADERS": "authorization=Bearer abc, x-tenant=t1"}
    t = telemetry(text, env).tracing  # type: ignore[attr-defined]
    assert (t.endpoint, t.protocol, t.random_sampling, t.client_sampling) == ("http://env:4318", "http", 0.25, 1.0)
    assert [(k, v.reveal()) for k, v in t.headers] == [("authorization", "Bearer abc"), ("x-tenant", "t1")]


def test_collector_headers_are_redacted_in_the_config_dump() -> None:
    text = "config:\n  tracing:\n    otlpEndpoint: http://c:4317\n    headers: {authorization: TESTSECRET}\n" + BASE
    dumped = str(dump_config(load_config_text(text, "config.yaml", {})))
    assert "TESTSECRET" not in dumped and "<redacted>" in dumped


def test_metric_name_spellings_name_one_family() -> None:
    for name in ("agentgateway_requests_total", "requests_total", "requests", "agentgateway_requests"):
        assert canonical_metric(name) == "requests"
    assert canonical_metric("agentgateway_request_duration_seconds") == canonical_metric("request_duration")
    assert canonical_metric("gen_ai_client_token_usage") == "gen_ai_client_token_usage"


def test_logging_level_forms() -> None:
    for level, want in (("debug", "debug"), ("'info,agent_core=trace'", "info"), ("[warn, x=debug]", "warn")):
        cfg = telemetry(f"config:\n  logging:\n    level: {level}\n" + BASE)
        assert cfg.logging.level == want  # type: ignore[attr-defined]
