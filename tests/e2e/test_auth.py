"""Client authentication through a real gateway process: apiKey, jwtAuth (JWKS over HTTP, rotation),
basicAuth, authorization and CORS on refusals, with the official SDKs as clients.

The mock provider reports the sha256 prefix of the credential it received: it must always be the
gateway's server-side key (or none on plain routes), never the client's gateway credential.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import bcrypt
import openai
import pytest

from tests.e2e.auth_helpers import JwksServer, SigningKey
from tests.e2e.harness import GatewayProc, MockProc, http

SERVER_KEY_OPENAI = "sk-server-openai-auth-tests-000"
SERVER_KEY_ANTHROPIC = "sk-ant-server-auth-tests-111"
ALICE_KEY = "gw-alice-4c1a2b3d"
BOB_KEY = "gw-bob-9e8f7a6b"  # configured only as its sha256 (keyHash)
CAROL_KEY = "gw-carol-5d6e7f80"  # plain-route keys
ORIGIN = "https://app.example.com"

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: openai-keys
      matches:
      - path: {pathPrefix: /v1/chat/completions}
      policies:
        cors:
          allowOrigins: ["https://app.example.com"]
          allowMethods: [POST]
          allowHeaders: [authorization, content-type]
        backendAuth: {key: "$OPENAI_KEY"}
        apiKey:
          mode: strict
          keys:
          - key: "$ALICE_KEY"
            metadata: {user: alice, team: research}
            allowedModels: ["gpt-4o*"]
          - keyHash: "sha256:$BOB_HASH"
            metadata: {user: bob, team: sales}
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "$MOCK_ADDR"
    - name: anthropic-jwt
      matches:
      - path: {pathPrefix: /v1/messages}
      policies:
        backendAuth: {key: "$ANTHROPIC_KEY"}
        jwtAuth:
          mode: strict
          issuer: https://idp.test
          audiences: [agentgateway-py]
          jwks: {url: "$JWKS_URL"}
        authorization:
          rules:
          - 'jwt.email.endsWith("@example.com")'
          - deny: 'jwt.sub == "mallory"'
      backends:
      - ai:
          name: anthropic
          provider: {anthropic: {model: claude-haiku-4-5-20251001}}
          hostOverride: "$MOCK_ADDR"
    - name: basic
      matches:
      - path: {exact: /healthz}
        headers: [{name: x-case, value: {exact: basic}}]
      policies:
        basicAuth:
          mode: strict
          realm: gateway
          htpasswd: {file: "$HTPASSWD"}
      backends:
      - host: "$MOCK_ADDR"
    - name: optional
      matches:
      - path: {exact: /healthz}
        headers: [{name: x-case, value: {exact: optional}}]
      policies:
        apiKey:
          keys: [{key: "$CAROL_KEY"}]
      backends:
      - host: "$MOCK_ADDR"
    - name: permissive
      matches:
      - path: {exact: /healthz}
        headers: [{name: x-case, value: {exact: permissive}}]
      policies:
        apiKey:
          mode: permissive
          keys: [{key: "$CAROL_KEY"}]
      backends:
      - host: "$MOCK_ADDR"
"""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[JwksServer, SigningKey]]:
    key = SigningKey("key-1", "RS256")
    server = JwksServer([key])
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def gw(mock: MockProc, jwks: tuple[JwksServer, SigningKey], tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[GatewayProc]:
    htpasswd = Path(tmp_path_factory.mktemp("auth")) / "htpasswd"
    sha = base64.b64encode(hashlib.sha1(b"sha-pass").digest()).decode()
    bc = bcrypt.hashpw(b"bcrypt-pass", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    # apr1 vector from `openssl passwd -apr1 -salt xyzsalt1 secret`
    htpasswd.write_text(f"shauser:{{SHA}}{sha}\nbcuser:{bc}\naprUser:$apr1$xyzsalt1$mdDPSoZhouTDI1GHRla8E1\n")
    g = GatewayProc(CONFIG, env={
        "MOCK_ADDR": mock.addr, "OPENAI_KEY": SERVER_KEY_OPENAI, "ANTHROPIC_KEY": SERVER_KEY_ANTHROPIC,
        "ALICE_KEY": ALICE_KEY, "BOB_HASH": hashlib.sha256(BOB_KEY.encode()).hexdigest(),
        "CAROL_KEY": CAROL_KEY, "JWKS_URL": jwks[0].url, "HTPASSWD": str(htpasswd),
    })
    yield g
    g.stop()


def chat(gw: GatewayProc, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0)


# -- apiKey on an LLM route ------------------------------------------------------------------------


def test_alice_key_works_and_never_reaches_the_provider(gw: GatewayProc) -> None:
    raw = chat(gw, ALICE_KEY).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-mock-auth-key-sha256"] == digest(SERVER_KEY_OPENAI)
    assert raw.headers["x-mock-auth-key-sha256"] != digest(ALICE_KEY)


def test_key_configured_only_as_hash_works(gw: GatewayProc) -> None:
    raw = chat(gw, BOB_KEY).chat.completions.with_raw_response.create(
        model="o1-anything", messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-mock-auth-key-sha256"] == digest(SERVER_KEY_OPENAI)


def test_wrong_key_is_openai_authentication_error(gw: GatewayProc) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        chat(gw, "gw-not-a-key").chat.completions.create(model="gpt-4o-mini",
                                                        messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert info.value.body["type"] == "authentication_error"  # type: ignore[index]
    assert "api key authentication failure" in info.value.body["message"]  # type: ignore[index]
    assert "gw-not-a-key" not in str(info.value.body)


def test_missing_key_is_401_in_openai_shape(gw: GatewayProc) -> None:
    r = http("POST", f"{gw.url}/v1/chat/completions",
             json_body={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"
    assert r.json()["error"]["message"] == "api key authentication failure: no API Key found"


def test_disallowed_model_is_permission_denied(gw: GatewayProc) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        chat(gw, ALICE_KEY).chat.completions.create(model="o1-preview",
                                                   messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 403
    assert info.value.body["code"] == "model_not_allowed"  # type: ignore[index]


# -- CORS around refusals --------------------------------------------------------------------------


def test_401_carries_cors_headers(gw: GatewayProc) -> None:
    r = http("POST", f"{gw.url}/v1/chat/completions", headers={"origin": ORIGIN},
             json_body={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 401
    assert r.headers["access-control-allow-origin"] == ORIGIN


def test_preflight_needs_no_key(gw: GatewayProc) -> None:
    r = http("OPTIONS", f"{gw.url}/v1/chat/completions", headers={
        "origin": ORIGIN, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-methods"] == "POST"
    assert r.headers["access-control-allow-headers"] == "authorization,content-type"
    other = http("OPTIONS", f"{gw.url}/v1/chat/completions", headers={
        "origin": "https://evil.test", "access-control-request-method": "POST"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


# -- jwtAuth + authorization on an Anthropic route -------------------------------------------------


def claude(gw: GatewayProc, token: str | None) -> anthropic.Anthropic:
    if token is None:  # the SDK insists on a credential; send none at all
        return anthropic.Anthropic(base_url=gw.url, api_key=None, max_retries=0,
                                   default_headers={"Authorization": anthropic.Omit()})
    return anthropic.Anthropic(base_url=gw.url, api_key=None, auth_token=token, max_retries=0)


def ask(gw: GatewayProc, token: str | None) -> anthropic.types.Message:
    return claude(gw, token).messages.create(model="m", max_tokens=16,
                                            messages=[{"role": "user", "content": "hi"}])


def test_valid_jwt_passes_and_provider_sees_server_key(gw: GatewayProc, jwks: tuple[JwksServer, SigningKey]) -> None:
    token = jwks[1].token(sub="alice", email="alice@example.com")
    raw = claude(gw, token).messages.with_raw_response.create(
        model="m", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert raw.parse().type == "message"
    assert raw.headers["x-mock-auth-header"] == "x-api-key"
    assert raw.headers["x-mock-auth-key-sha256"] == digest(SERVER_KEY_ANTHROPIC)


def test_missing_expired_and_wrong_audience_jwt_are_401(gw: GatewayProc,
                                                        jwks: tuple[JwksServer, SigningKey]) -> None:
    key = jwks[1]
    cases = {
        None: "no bearer token found",
        key.token(exp_in=-3600, email="a@example.com"): "token expired",
        key.token(aud="someone-else", email="a@example.com"): "invalid audience",
        key.token(iss="https://evil.test", email="a@example.com"): "invalid issuer",
        "not.a.jwt": "the token is malformed",
    }
    for token, reason in cases.items():
        with pytest.raises(anthropic.AuthenticationError) as info:
            ask(gw, token)
        assert info.value.status_code == 401
        assert info.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        assert info.value.body["error"]["message"] == f"authentication failure: {reason}"  # type: ignore[index]


def test_token_signed_by_unknown_key_is_401(gw: GatewayProc) -> None:
    forged = SigningKey("key-1", "RS256").token(email="a@example.com")  # same kid, other key
    with pytest.raises(anthropic.AuthenticationError) as info:
        ask(gw, forged)
    assert info.value.body["error"]["message"] == "authentication failure: invalid signature"  # type: ignore[index]


def test_authorization_rules_are_403(gw: GatewayProc, jwks: tuple[JwksServer, SigningKey]) -> None:
    key = jwks[1]
    for token in (key.token(sub="eve", email="eve@evil.test"), key.token(sub="mallory", email="m@example.com"),
                  key.token(sub="noemail")):
        with pytest.raises(anthropic.PermissionDeniedError) as info:
            ask(gw, token)
        assert info.value.body["error"] == {"type": "permission_error",  # type: ignore[index]
                                            "message": "authorization failed"}


def test_jwks_rotation(gw: GatewayProc, jwks: tuple[JwksServer, SigningKey]) -> None:
    server, old = jwks
    assert ask(gw, old.token(email="a@example.com")).type == "message"
    new = SigningKey("key-2", "ES256")
    server.keys = [new]
    time.sleep(1.2)  # the gateway refetches on an unknown kid at most once a second
    assert ask(gw, new.token(email="a@example.com")).type == "message"
    with pytest.raises(anthropic.AuthenticationError):
        ask(gw, old.token(email="a@example.com"))  # its key left the set
    server.keys = [old]  # restore for other tests
    time.sleep(1.2)
    assert ask(gw, old.token(email="a@example.com")).type == "message"


# -- basicAuth and modes on plain routes -----------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_each_hash_format(gw: GatewayProc) -> None:
    for user, password in (("shauser", "sha-pass"), ("bcuser", "bcrypt-pass"), ("aprUser", "secret")):
        for _ in range(2):  # the second time is answered from the verified-credentials memo
            r = http("GET", f"{gw.url}/healthz", headers={"x-case": "basic", "authorization": basic(user, password)})
            assert r.status_code == 200, (user, r.text)
            assert r.headers["x-mock-auth-header"] == "none"  # the gateway credential was removed


def test_basic_auth_refusals_carry_the_challenge(gw: GatewayProc) -> None:
    for headers in ({}, {"authorization": basic("bcuser", "wrong")}, {"authorization": basic("nobody", "x")},
                    {"authorization": "Basic !!!notbase64"}):
        r = http("GET", f"{gw.url}/healthz", headers={"x-case": "basic", **headers})
        assert r.status_code == 401
        assert r.headers["content-type"] == "text/plain"
        assert r.text.startswith("basic authentication failure: ")
        assert r.headers["www-authenticate"] == 'Basic realm="gateway"'


def test_optional_mode(gw: GatewayProc) -> None:
    assert http("GET", f"{gw.url}/healthz", headers={"x-case": "optional"}).status_code == 200
    bad = http("GET", f"{gw.url}/healthz", headers={"x-case": "optional", "authorization": "Bearer nope"})
    assert (bad.status_code, bad.text) == (401, "api key authentication failure: no matching key")
    good = http("GET", f"{gw.url}/healthz", headers={"x-case": "optional", "authorization": f"Bearer {CAROL_KEY}"})
    assert good.status_code == 200 and good.headers["x-mock-auth-header"] == "none"


def test_permissive_mode_never_rejects_and_never_forwards_the_key(gw: GatewayProc) -> None:
    for auth in (None, "Bearer nope", f"Bearer {CAROL_KEY}"):
        headers = {"x-case": "permissive", **({"authorization": auth} if auth else {})}
        r = http("GET", f"{gw.url}/healthz", headers=headers)
        assert r.status_code == 200
        assert r.headers["x-mock-auth-header"] == "none"


# -- spend attributed to the key's user and team ----------------------------------------------------

LEDGER_CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
  ledger: {path: "$LEDGER", flushInterval: 100ms}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - policies:
        apiKey:
          mode: strict
          keys:
          - {key: "$ALICE_KEY", metadata: {user: alice, team: research}}
      backends:
      - ai:
          name: openai
          provider: {openAI: {model: gpt-4o-mini}}
          hostOverride: "$MOCK_ADDR"
"""


def test_spend_is_attributed_to_the_keys_user_and_team(mock: MockProc, tmp_path: Path) -> None:
    g = GatewayProc(LEDGER_CONFIG, env={"MOCK_ADDR": mock.addr, "ALICE_KEY": ALICE_KEY,
                                        "LEDGER": str(tmp_path / "spend.db")})
    try:
        # A client claiming to be someone else in headers changes nothing: identity comes from the key.
        reply = chat(g, ALICE_KEY).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "bill me"}],
            extra_headers={"x-user-id": "mallory", "x-team-id": "other"})
        assert reply.choices[0].message.content
        deadline = time.monotonic() + 10
        rows: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            status, body = g.get(g.admin_port, "/api/spend?group_by=user,team")
            if status == 200:
                groups = json.loads(body)["groups"]
                rows = {g: [r["key"] for r in groups[g]["rows"]] for g in ("user", "team")}
                if rows["user"]:
                    break
            time.sleep(0.1)
        assert rows == {"user": ["alice"], "team": ["research"]}
    finally:
        g.stop()
