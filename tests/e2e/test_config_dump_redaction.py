"""/config_dump of a real gateway holding every kind of secret: complete, and no secret in it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.e2e.harness import GatewayProc, free_port

BACKEND_KEY = "sk-dump-backend-key-1111"
ENV_BACKEND_KEY = "sk-dump-env-key-2222"
FILE_BACKEND_KEY = "sk-dump-file-key-3333"
CLIENT_KEY = "ck-dump-client-key-4444"
HASHED_CLIENT_KEY = "ck-dump-hashed-key-5555"
HTPASSWD_HASH = "{SHA}" + "W6ph5Mm5Pz8GgiULbPgzG37mj9g="  # sha1("password"), base64
OTLP_TOKEN = "otlp-dump-token-6666"
ENV_OTLP_TOKEN = "otlp-dump-env-token-7777"
WEBHOOK_URL = "https://hooks.example.com/services/T000/B000/dump-webhook-8888"

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  tracing:
    otlpEndpoint: http://127.0.0.1:@OTLP_PORT@
    headers: {authorization: "Bearer @OTLP_TOKEN@"}
  budgets:
    teams: {research: {limit: "5", period: monthly}}
    alerts: {webhook: "@WEBHOOK_URL@"}
binds:
- port: $GATEWAY_PORT
  listeners:
  - name: main
    routes:
    - name: openai
      matches:
      - path: {pathPrefix: /v1/chat/completions}
      policies:
        backendAuth: {key: "@BACKEND_KEY@"}
        apiKey:
          keys:
          - key: "@CLIENT_KEY@"
            metadata: {user: alice}
          - keyHash: "sha256:@HASHED@"
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "127.0.0.1:1"
    - name: anthropic
      matches:
      - path: {pathPrefix: /v1/messages}
      policies:
        backendAuth: {key: "$ENV_BACKEND_KEY"}
        basicAuth:
          htpasswd: "alice:@HTPASSWD_HASH@"
      backends:
      - ai:
          name: anthropic
          provider: {anthropic: {model: claude-haiku-4-5}}
          hostOverride: "127.0.0.1:1"
    - name: filekey
      matches:
      - path: {pathPrefix: /file}
      policies:
        backendAuth: {key: {file: "@KEY_FILE@"}}
      backends:
      - host: "127.0.0.1:1"
"""


def _config(otlp_port: int, key_file: Path) -> str:
    values = {"OTLP_TOKEN": OTLP_TOKEN, "WEBHOOK_URL": WEBHOOK_URL, "BACKEND_KEY": BACKEND_KEY,
              "CLIENT_KEY": CLIENT_KEY, "HTPASSWD_HASH": HTPASSWD_HASH, "OTLP_PORT": str(otlp_port),
              "HASHED": hashlib.sha256(HASHED_CLIENT_KEY.encode()).hexdigest(), "KEY_FILE": str(key_file)}
    text = CONFIG
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


SECRETS = (BACKEND_KEY, ENV_BACKEND_KEY, FILE_BACKEND_KEY, CLIENT_KEY, HASHED_CLIENT_KEY,
           HTPASSWD_HASH, OTLP_TOKEN, ENV_OTLP_TOKEN, WEBHOOK_URL, "dump-webhook-8888")


def test_config_dump_redacts_every_secret_kind_and_keeps_the_rest(tmp_path: Path) -> None:
    key_file = tmp_path / "backend.key"
    key_file.write_text(FILE_BACKEND_KEY + "\n")
    text = _config(free_port(), key_file)
    gw = GatewayProc(text, env={"ENV_BACKEND_KEY": ENV_BACKEND_KEY,
                                "OTLP_HEADERS": json.dumps({"x-env-token": ENV_OTLP_TOKEN})})
    try:
        status, body = gw.get(gw.admin_port, "/config_dump")
    finally:
        gw.stop()
    assert status == 200
    dump = body.decode()
    for secret in SECRETS:
        assert secret not in dump, secret
    assert hashlib.sha256(HASHED_CLIENT_KEY.encode()).hexdigest() not in dump
    # Complete: the non-secret parts of every section are there, secrets as placeholders.
    for visible in ("openai", "anthropic", "filekey", "gpt-4o-mini", "claude-haiku-4-5", "research",
                    "127.0.0.1", "alice"):
        assert visible in dump, visible
    compact = json.dumps(json.loads(dump))
    # OTLP_HEADERS replaces config.tracing.headers (agentgateway): the header name stays visible.
    assert '["x-env-token", "<redacted>"]' in compact
    assert '"webhook": "<redacted>"' in compact
    assert '"hash": "<redacted>"' in compact
    assert compact.count('"key": "<redacted>"') == 3  # the three backendAuth keys
    assert compact.count('"digest": "<redacted>"') == 2  # the two client API keys
