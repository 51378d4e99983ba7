"""A gateway pays only for the features its config uses: PyJWT + cryptography (~12 MB of RSS),
the `cel` package with its command line (~17 MB), botocore's signer (~8 MB), redis-py and asyncpg
are loaded by the first route, expression, Bedrock request or state/ledger setting that needs them,
not by every process (and every `--workers` worker). Measured on the benchmark's bare config:
78 -> 51 MB RSS at startup."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Builds the gateway (every route's policy chain) as `agentgateway -f` does, then lists what is loaded.
DRIVER = textwrap.dedent("""
    import asyncio, json, sys
    from gateway.config import load_config_text
    from gateway.proxy.gateway import Gateway

    async def main():
        Gateway(load_config_text(sys.stdin.read(), env={}))

    asyncio.run(main())
    optional = ("jwt", "cryptography", "cel", "botocore.auth", "redis", "asyncpg")
    print(json.dumps(sorted(m for m in optional if m in sys.modules)))
""")

PLAIN = """
binds:
- port: 3000
  listeners:
  - routes:
    - name: openai
      policies:
        backendAuth: {key: sk-test}
        localRateLimit: [{maxTokens: 10, tokensPerFill: 1, fillInterval: 1s}]
        ai:
          promptGuard:
            request: [{regex: {action: mask, rules: [{builtin: email}]}}]
      backends:
      - ai: {name: openai, provider: {openAI: {model: gpt-4o-mini}}}
    - name: bedrock
      matches: [{path: {pathPrefix: /bedrock}}]
      backends:
      - ai: {name: claude, provider: {bedrock: {region: us-east-1, model: anthropic.claude-3-haiku}}}
"""

WITH_JWT_AND_CEL = PLAIN + """
    - name: private
      matches: [{path: {pathPrefix: /private}}]
      policies:
        jwtAuth:
          issuer: https://idp.test
          audiences: [agentgateway-py]
          jwks: {url: "http://127.0.0.1:9/jwks.json"}
        authorization:
          rules: ['jwt.email.endsWith("@example.com")']
      backends:
      - ai: {name: openai, provider: {openAI: {model: gpt-4o-mini}}}
"""


def _loaded(config: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", DRIVER], input=config, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_a_config_without_jwt_cel_or_aws_signing_does_not_load_them() -> None:
    assert _loaded(PLAIN) == []


def test_jwt_auth_and_cel_rules_load_their_libraries() -> None:
    loaded = _loaded(WITH_JWT_AND_CEL)
    assert {"jwt", "cryptography", "cel"} <= set(loaded)
    assert "botocore.auth" not in loaded  # only a Bedrock request's signature needs it
