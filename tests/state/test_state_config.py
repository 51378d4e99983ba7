"""`config.stateBackend`: validation, the lowered value other parts read, and password redaction."""

from __future__ import annotations

import json

import pytest

from gateway.config import ConfigErrors, dump_config, load_config_text
from gateway.config.model_state import FailureMode
from tests.e2e.harness import GatewayProc, MockProc, http
from tests.state.redis_server import RedisServer, available

ROUTE = """
binds:
- port: 3000
  listeners:
  - routes:
    - backends: [{host: "127.0.0.1:9"}]
"""


def load(state: str) -> object:
    return load_config_text(f"config:\n  stateBackend:\n{state}{ROUTE}", source_name="c.yaml", env={})


def test_absent_is_memory_and_redis_is_lowered_with_defaults() -> None:
    assert load_config_text(ROUTE, env={}).process.state_backend is None
    cfg = load("    type: memory\n").process.state_backend  # type: ignore[attr-defined]
    assert cfg.type == "memory"
    cfg = load('    type: redis\n    url: "redis://127.0.0.1:6379/0"\n').process.state_backend  # type: ignore[attr-defined]
    assert (cfg.type, cfg.key_prefix, cfg.timeout, cfg.reservation_ttl) == ("redis", "agentgateway:", 0.25, 60.0)
    assert cfg.rate_limit_failure_mode is FailureMode.FAIL_OPEN
    assert cfg.budget_failure_mode is FailureMode.FAIL_CLOSED
    cfg = load('    type: redis\n    url: "rediss://h:6380/1"\n    keyPrefix: "x:"\n    timeout: 1s\n'
               '    rateLimitFailureMode: failClosed\n    budgetFailureMode: failOpen\n    reservationTtl: 30s\n'
               ).process.state_backend  # type: ignore[attr-defined]
    assert (cfg.key_prefix, cfg.timeout, cfg.reservation_ttl) == ("x:", 1.0, 30.0)
    assert (cfg.rate_limit_failure_mode, cfg.budget_failure_mode) == (FailureMode.FAIL_CLOSED, FailureMode.FAIL_OPEN)


@pytest.mark.parametrize(("state", "expected"), [
    ("    type: redis\n", 'c.yaml:3: config.stateBackend: missing field "url"'),
    ("    type: etcd\n", 'c.yaml:3: config.stateBackend.type: invalid value "etcd"; expected one of: memory, redis'),
    ('    type: redis\n    url: "http://u:hunter2@h"\n',
     "c.yaml:4: config.stateBackend.url: invalid Redis URL (expected redis://, rediss:// (TLS) or unix://)"),
    ('    type: redis\n    url: "redis://h"\n    timeout: 2m\n',
     "c.yaml:5: config.stateBackend.timeout: expected a duration between 1ms and 1m"),
    ('    type: redis\n    url: "redis://h"\n    budgetFailureMode: open\n',
     'c.yaml:5: config.stateBackend.budgetFailureMode: invalid value "open"; expected one of: failOpen, failClosed'),
    ('    type: redis\n    url: "redis://h"\n    keyprefix: x\n',
     'c.yaml:5: config.stateBackend.keyprefix: unknown field; did you mean "keyPrefix"?'),
    ('    type: memory\n    url: "redis://h"\n', "c.yaml:4: config.stateBackend.url: only used with type: redis"),
])
def test_errors_name_file_line_and_path(state: str, expected: str) -> None:
    with pytest.raises(ConfigErrors) as info:
        load(state)
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_password_is_redacted_in_the_config_dump() -> None:
    cfg = load('    type: redis\n    url: "redis://app:s3cr3t@redis.internal:6379/0"\n')
    dumped = json.dumps(dump_config(cfg))  # type: ignore[arg-type]
    assert "s3cr3t" not in dumped
    assert '"url": "redis://app:<redacted>@redis.internal:6379/0"' in dumped
    assert cfg.process.state_backend.url.reveal() == "redis://app:s3cr3t@redis.internal:6379/0"  # type: ignore[attr-defined]


def test_password_in_the_url_authenticates_and_never_shows(mock: MockProc) -> None:
    if not available():
        pytest.skip("redis-server not installed (.ci/run installs it with apt-get)")
    server = RedisServer(password="pw-Zx81Lq")
    config = f"""
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  stateBackend: {{type: redis, url: "{server.url}", timeout: 1s}}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - policies:
        localRateLimit: [{{maxTokens: 1, tokensPerFill: 1, fillInterval: 1h}}]
      backends: [{{host: "$MOCK_ADDR"}}]
"""
    g = GatewayProc(config, env={"MOCK_ADDR": mock.addr})
    try:
        assert http("GET", f"{g.url}/x").status_code != 429
        assert http("GET", f"{g.url}/x").status_code == 429  # counted in the password-protected Redis
        _, dump = g.get(g.admin_port, "/config_dump")
        assert b"pw-Zx81Lq" not in dump and b"<redacted>@127.0.0.1" in dump
        server.stop()
        assert http("GET", f"{g.url}/x").status_code != 503  # rate limits failOpen by default
    finally:
        _, err = g.stop()
        server.close()
    assert "pw-Zx81Lq" not in err and "unavailable during rateLimit" in err
