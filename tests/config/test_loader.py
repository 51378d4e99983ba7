from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigErrors, dump_config, load_config_file, load_config_text, schema
from gateway.config import model as m

SECRET = "sk-VERY-SECRET-abc123"
ROUTE_POLICY = "binds:\n- port: 1\n  listeners:\n  - routes:\n    - policies:\n"


def _route(cfg: m.GatewayConfig, bind: int = 0) -> m.Route:
    return cfg.binds[bind].listeners[0].routes[0]


def test_backend_auth_key_never_in_dump_or_errors() -> None:
    text = f"""
binds:
- port: 3000
  listeners:
  - routes:
    - policies:
        backendAuth: {{key: "{SECRET}"}}
      backends:
      - ai:
          name: a
          provider: {{openAI: {{}}}}
          policies:
            backendAuth:
              key: {{value: $KEY, location: {{header: {{name: x-api-key}}}}}}
"""
    cfg = load_config_text(text, env={"KEY": SECRET})
    assert _route(cfg).policies.backend_auth == m.BackendAuth(m.Secret(SECRET))
    dumped = json.dumps(dump_config(cfg))
    assert SECRET not in dumped and "<redacted>" in dumped
    assert SECRET not in repr(cfg)
    bad = text.replace("routes:\n    - policies", "routes:\n    - port: 1\n      policies")
    bad = bad.replace("provider: {openAI: {}}", "provider: {openAI: {}}\n          hostOverride: nope")
    with pytest.raises(ConfigErrors) as info:
        load_config_text(bad, env={"KEY": SECRET})
    assert len(info.value.errors) == 2
    assert SECRET not in str(info.value)


def test_numeric_secret_is_not_echoed() -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config_text(
            "llm:\n  models:\n  - name: a\n    provider: openai\n    params: {apiKey: 987654321}\n"
        )
    assert "987654321" not in str(info.value)


def test_key_from_file(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text(SECRET + "\n")
    text = ROUTE_POLICY + f"        backendAuth:\n          key: {{file: {key}}}\n"
    auth = _route(load_config_text(text)).policies.backend_auth
    assert auth is not None and auth.key.reveal() == SECRET
    with pytest.raises(ConfigErrors, match="cannot read secret file"):
        load_config_text(text.replace("key.txt", "missing.txt"))


def test_env_overrides_addresses() -> None:
    text = "config:\n  adminAddr: 127.0.0.1:1\n  statsAddr: 127.0.0.1:2\n"
    cfg = load_config_text(text, env={"ADMIN_ADDR": "off", "READINESS_ADDR": "[::1]:9"})
    assert cfg.process.admin_addr is None
    assert cfg.process.stats_addr == m.HostPort("127.0.0.1", 2)
    assert cfg.process.readiness_addr == m.HostPort("::1", 9)
    with pytest.raises(ConfigErrors, match=r"config.statsAddr: .*\(from env STATS_ADDR\)"):
        load_config_text(text, env={"STATS_ADDR": "nope"})


def test_process_defaults_and_extra() -> None:
    cfg = load_config_text("config:\n  logging: {level: debug}\n  histograms: native\n")
    assert cfg.process.extra == (("histograms", "native"),)
    assert cfg.process.telemetry.logging.level == "debug"
    assert cfg.process.admin_addr == m.HostPort("127.0.0.1", 15000)
    with pytest.raises(ConfigErrors, match=r'config.logging.levl: unknown field; did you mean "level"\?'):
        load_config_text("config:\n  logging: {levl: debug}\n")


def test_yaml_1_2_scalars() -> None:
    # `off` must stay a string (PyYAML's YAML 1.1 would make it False); `yes` is not a bool either.
    cfg = load_config_text("config:\n  adminAddr: off\n")
    assert cfg.process.admin_addr is None
    with pytest.raises(ConfigErrors, match="expected boolean, got string"):
        load_config_text(ROUTE_POLICY + "        cors: {allowCredentials: yes}\n")


def test_empty_file_is_default_config() -> None:
    cfg = load_config_text("")
    assert cfg.binds == () and cfg.process == m.ProcessConfig()


def test_trivially_empty_unsupported_keys_are_accepted() -> None:
    load_config_text("workloads: []\npolicies: []\nmcp: null\n")


def test_duplicate_port_and_duplicate_key() -> None:
    text = "binds:\n- port: 4000\n  listeners: []\nllm:\n  models: []\n"
    with pytest.raises(ConfigErrors, match="config.yaml:4: port 4000 is already used by the bind at line 2"):
        load_config_text(text)
    with pytest.raises(ConfigErrors, match='config.yaml:2: duplicate key "binds"'):
        load_config_text("binds: []\nbinds: []\n")


def test_model_router_order_and_default_port() -> None:
    text = "llm:\n  models:\n" + "".join(
        f"  - name: '{n}'\n    provider: openai\n" for n in ("*", "gpt-*", "gpt-4o", "*-mini", "gpt-4o-*")
    )
    cfg = load_config_text(text)
    assert cfg.binds[0].port == 4000
    router = _route(cfg).backends[0].target
    assert isinstance(router, m.ModelRouter)
    assert [x.pattern for x in router.models] == ["gpt-4o-*", "gpt-4o", "*-mini", "gpt-*", "*"]


def test_ai_route_and_alias_order() -> None:
    text = """
binds:
- port: 1
  listeners:
  - routes:
    - policies:
        ai:
          routes: {"*": passthrough, /messages: messages, /v1/messages: messages, /v1/models: models}
          modelAliases: {"a*": x, "abc*": y, exact: z, "*": w}
"""
    ai = _route(load_config_text(text)).policies.ai
    assert ai is not None
    assert [s for s, _ in ai.routes] == ["/v1/messages", "/v1/models", "/messages", "*"]
    assert [p for p, _ in ai.model_aliases] == ["exact", "abc*", "a*", "*"]


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("binds:\n- port: 7\n  listeners: []\n"))
    assert load_config_file("-").binds[0].port == 7


def test_missing_file() -> None:
    with pytest.raises(ConfigErrors, match="cannot read config"):
        load_config_file("/nonexistent/config.yaml")


def test_schema_parsed_once() -> None:
    load_config_text("binds: []\n")
    before = schema._root.cache_info().misses
    load_config_text("binds: []\n")
    assert schema._root.cache_info().misses == before <= 1
