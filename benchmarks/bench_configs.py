"""The gateway configurations the benchmark measures (agentgateway config, emitted as JSON = YAML).

Each gateway process has two binds: one in front of the upstream's JSON port, one in front of its
SSE port (nginx cannot choose a static body by the request's "stream" field, so the two kinds of
answer live on two ports). Each bind has an OpenAI route (/v1/chat/completions) and an Anthropic
route (/v1/messages), each injecting the provider key (backendAuth).
"""

from __future__ import annotations

import json
from typing import Any

BENCH_KEY = "bench-key"
VARIANTS = ("bare", "cost", "full", "trace")
# Run only when asked for (`--variants cost,cost-redis`): needs redis-server, started by bench.py.
OPTIONAL_VARIANTS = ("cost-redis",)
# Cost + the spend ledger, in a SQLite file or in Postgres (bench.py starts a temporary server and sets
# $BENCH_LEDGER_DIR / $BENCH_LEDGER_URL, which the gateway expands in its config).
OPTIONAL_VARIANTS += ("ledger", "ledger-pg")
DESCRIPTIONS = {
    "bare": "gateway: proxy + key injection",
    "cost": "gateway: + rate limit, budget (cost controls)",
    "cost-redis": "gateway: cost, limits and budget in Redis",
    "ledger": "gateway: cost + spend ledger in SQLite",
    "ledger-pg": "gateway: cost + spend ledger in Postgres",
    "full": "gateway: + rate limit, budget, PII mask, metrics",
    "trace": "gateway: full + tracing 100%",
}
# High enough never to refuse during a benchmark: we measure the cost of checking, not of refusing.
RATE_LIMIT = [{"maxTokens": 1_000_000_000, "tokensPerFill": 1_000_000_000, "fillInterval": "1s"}]
BUDGET = {"limit": "1000000", "period": "monthly"}
PROMPT_GUARD = {"request": [{"regex": {"action": "mask", "rules": [
    {"builtin": "ssn"}, {"builtin": "creditCard"}, {"builtin": "email"}, {"builtin": "phoneNumber"}]}}]}


def _route(name: str, path: str, backend: dict[str, Any], variant: str) -> dict[str, Any]:
    policies: dict[str, Any] = {"backendAuth": {"key": BENCH_KEY}}
    if variant != "bare":
        policies["localRateLimit"] = RATE_LIMIT
    if variant in ("full", "trace"):
        policies["ai"] = {"promptGuard": PROMPT_GUARD}
    return {"name": name, "matches": [{"path": {"pathPrefix": path}}], "backends": [{"ai": backend}],
            "policies": policies}


def _bind(port: int, upstream_port: int, variant: str) -> dict[str, Any]:
    up = f"127.0.0.1:{upstream_port}"
    return {"port": port, "listeners": [{"routes": [
        _route("openai", "/v1/chat/completions",
               {"name": "openai", "provider": {"openAI": {}}, "hostOverride": up}, variant),
        _route("anthropic", "/v1/messages",
               {"name": "anthropic", "provider": {"anthropic": {}}, "hostOverride": up}, variant),
    ]}]}


def gateway_config(variant: str, ports: dict[str, int], access_log: bool) -> str:
    """ports: json, sse (gateway binds), up_json, up_sse, admin, stats, ready, sink (trace only),
    redis (cost-redis only)."""
    if variant not in VARIANTS + OPTIONAL_VARIANTS:
        raise ValueError(f"unknown gateway variant {variant!r}; expected one of {VARIANTS + OPTIONAL_VARIANTS}")
    config: dict[str, Any] = {
        "adminAddr": f"127.0.0.1:{ports['admin']}", "statsAddr": f"127.0.0.1:{ports['stats']}",
        "readinessAddr": f"127.0.0.1:{ports['ready']}",
        # nginx runs with access_log off; the gateway's access log is opt-in here for the same reason.
        "logging": {"level": "info" if access_log else "warn"},
    }
    if variant != "bare":
        config["standardAttributes"] = {"trustHeaders": True}  # user/team from x-user-id / x-team-id
        config["budgets"] = {"defaultUser": BUDGET, "defaultTeam": BUDGET}
    if variant == "cost-redis":  # ports["redis"]: the redis-server bench.py started
        config["stateBackend"] = {"type": "redis", "url": f"redis://127.0.0.1:{ports['redis']}/0",
                                  "keyPrefix": "bench:"}
    if variant == "ledger":
        config["ledger"] = {"path": "$BENCH_LEDGER_DIR/spend.db"}
    if variant == "ledger-pg":
        config["ledger"] = {"url": "$BENCH_LEDGER_URL"}
    if variant == "trace":
        config["tracing"] = {"otlpEndpoint": f"http://127.0.0.1:{ports['sink']}", "otlpProtocol": "http",
                             "randomSampling": True}
    cfg = {"config": config, "binds": [_bind(ports["json"], ports["up_json"], variant),
                                       _bind(ports["sse"], ports["up_sse"], variant)]}
    return json.dumps(cfg, indent=2) + "\n"
