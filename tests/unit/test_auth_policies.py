"""Client auth policies as objects: credentials locations, hashes, modes, identity, authorization
rules, JWKS fetching/rotation against a real aiohttp server, and CORS origin semantics."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from gateway.config import load_config_text
from gateway.config.model import Cors, GatewayConfig, Route
from gateway.config.model_auth import CredentialLocation
from gateway.errors import ApiKeyAuthFailed, AuthenticationFailed, AuthorizationFailed
from gateway.policies import cors, credentials, htpasswd
from gateway.policies.api_key import ApiKeyPolicy, model_allowed
from gateway.policies.authorization import AuthorizationPolicy
from gateway.policies.base import Exchange, Services
from gateway.policies.chain import build_chain
from gateway.policies.jwt_auth import JwtAuthPolicy, TokenRejected
from gateway.server.types import Request
from gateway.telemetry.metrics import Metrics
from tests.e2e.auth_helpers import SigningKey


def config(policies: str, top: str = "") -> GatewayConfig:
    return load_config_text(f"""
{top}
binds:
- port: 1
  listeners:
  - routes:
    - policies:
{policies}
      backends:
      - host: 127.0.0.1:1
""", env={})


def route_of(cfg: GatewayConfig) -> Route:
    return cfg.binds[0].listeners[0].routes[0]


def exchange(headers: list[tuple[bytes, bytes]] | None = None, target: bytes = b"/x") -> Exchange:
    return Exchange(Request("POST", target, list(headers or []), b""), 0.0)


def bearer(key: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {key}".encode())]


# -- credentials -----------------------------------------------------------------------------------


def test_credentials_from_header_query_and_cookie_are_removed() -> None:
    req = Request("GET", b"/p?a=1&key=s3cret&b=2", [(b"cookie", b"x=1; session=tok; y=2"),
                                                   (b"x-key", b"hk"), (b"authorization", b"bearer bt")], b"")
    bt = CredentialLocation("header", "authorization", "Bearer ")
    assert credentials.read(req, bt) == "bt"  # scheme is case-insensitive
    assert credentials.read(req, CredentialLocation("header", "authorization", "Basic ")) is None
    q, c = CredentialLocation("queryParameter", "key"), CredentialLocation("cookie", "session")
    assert (credentials.read(req, q), credentials.read(req, c)) == ("s3cret", "tok")
    for loc in (bt, q, c, CredentialLocation("header", "x-key")):
        credentials.remove(req, loc)
    assert req.target == b"/p?a=1&b=2" and req.query == "a=1&b=2"
    assert req.headers == [(b"cookie", b"x=1; y=2")]


# -- htpasswd --------------------------------------------------------------------------------------


def test_htpasswd_formats() -> None:
    # `openssl passwd -apr1 -salt xyzsalt1 secret`
    assert htpasswd.verify("secret", "$apr1$xyzsalt1$mdDPSoZhouTDI1GHRla8E1")
    assert not htpasswd.verify("Secret", "$apr1$xyzsalt1$mdDPSoZhouTDI1GHRla8E1")
    sha = "{SHA}" + base64.b64encode(hashlib.sha1(b"pw").digest()).decode()
    assert htpasswd.verify("pw", sha) and not htpasswd.verify("pw2", sha)
    import bcrypt

    h = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    assert htpasswd.verify("pw", h.replace("$2b$", "$2y$")) and not htpasswd.verify("px", h)
    assert not htpasswd.verify("pw", "$2y$garbage")


# -- apiKey ----------------------------------------------------------------------------------------

KEYS = """\
        apiKey:
          mode: {mode}
          keys:
          - key: gw-alice
            metadata: {{user: alice, team: research, level: 3}}
            allowedModels: ["gpt-4o*", "*-mini"]
          - keyHash: sha256:{bob}
            metadata: {{user: bob, group: sales}}
"""


def api_key_policy(mode: str, top: str = "") -> ApiKeyPolicy:
    cfg = config(KEYS.format(mode=mode, bob=hashlib.sha256(b"gw-bob").hexdigest()), top)
    (policy,) = build_chain(route_of(cfg), Services(cfg, Metrics()))
    assert isinstance(policy, ApiKeyPolicy)
    return policy


def test_keys_are_held_only_as_digests() -> None:
    policy = api_key_policy("strict")
    assert "gw-alice" not in repr(policy.cfg) and "gw-alice" not in repr(vars(policy))
    assert policy.lookup("gw-alice") is not None and policy.lookup("gw-bob") is not None
    assert policy.lookup("gw-alic") is None and policy.lookup("") is None


async def test_modes() -> None:
    outcomes: dict[str, list[str]] = {}
    for mode in ("strict", "optional", "permissive"):
        policy = api_key_policy(mode)
        row = []
        for headers in ([], bearer("wrong"), bearer("gw-bob")):
            ex = exchange(headers)
            try:
                await policy.on_request(ex)
                row.append(ex.user or "anonymous")
            except ApiKeyAuthFailed as e:
                row.append(f"{e.status}:{e.message}")
            assert ex.req.header(b"authorization") is None  # never forwarded
        outcomes[mode] = row
    missing, wrong = "401:api key authentication failure: no API Key found", \
        "401:api key authentication failure: no matching key"
    assert outcomes == {"strict": [missing, wrong, "bob"], "optional": ["anonymous", wrong, "bob"],
                        "permissive": ["anonymous", "anonymous", "bob"]}


async def test_key_metadata_is_the_identity_and_cel_api_key() -> None:
    ex = exchange(bearer("gw-alice"))
    await api_key_policy("strict").on_request(ex)
    assert (ex.user, ex.team) == ("alice", "research")
    assert ex.api_key == {"user": "alice", "team": "research", "level": 3}
    ex = exchange(bearer("gw-bob"))
    await api_key_policy("strict").on_request(ex)
    assert (ex.user, ex.team) == ("bob", "sales")  # `group` counts as team


async def test_standard_attributes_take_precedence_over_metadata() -> None:
    top = "config:\n  standardAttributes:\n    user: 'apiKey.level'"
    cfg = config(KEYS.format(mode="strict", bob="0" * 64), top)
    chain = build_chain(route_of(cfg), Services(cfg, Metrics()))
    ex = exchange(bearer("gw-alice"))
    for policy in chain:
        await policy.on_request(ex)
    assert ex.user == "3" and ex.team is None


async def test_allowed_models() -> None:
    assert model_allowed(("gpt-4o*", "*-mini"), "gpt-4o-2024") and model_allowed(("*-mini",), "o4-mini")
    assert not model_allowed(("gpt-4o*",), "gpt-4") and not model_allowed((), "gpt-4o")
    policy = api_key_policy("strict")
    ex = exchange(bearer("gw-alice"))
    ex.request_model = "claude-3"
    with pytest.raises(AuthorizationFailed) as info:
        await policy.on_request(ex)
    assert (info.value.status, info.value.code) == (403, "model_not_allowed")
    ex = exchange(bearer("gw-bob"))  # no allowedModels: anything
    ex.request_model = "claude-3"
    await policy.on_request(ex)


# -- authorization ---------------------------------------------------------------------------------


async def test_authorization_rule_semantics() -> None:
    def policy(rules: str) -> AuthorizationPolicy:
        cfg = config(f"        authorization:\n          rules: {rules}")
        (p,) = build_chain(route_of(cfg), Services(cfg, Metrics()))
        assert isinstance(p, AuthorizationPolicy)
        return p

    def ex_with(claims: dict[str, Any] | None, path: bytes = b"/x") -> Exchange:
        ex = exchange(target=path)
        ex.jwt = claims
        return ex

    allow = policy("""['jwt.role == "admin"', {allow: 'jwt.role == "dev"'}]""")
    assert allow.allowed(ex_with({"role": "dev"})) and not allow.allowed(ex_with({"role": "guest"}))
    assert not allow.allowed(ex_with(None))  # evaluation error: not allowed
    deny_only = policy("""[{deny: 'request.path.startsWith("/admin")'}, {deny: 'jwt.missing.x == 1'}]""")
    assert deny_only.allowed(ex_with(None)) and not deny_only.allowed(ex_with(None, b"/admin/x"))
    require = policy("""[{require: 'jwt.tier == "gold"'}, {allow: 'true'}]""")
    assert require.allowed(ex_with({"tier": "gold"})) and not require.allowed(ex_with({}))
    with pytest.raises(AuthorizationFailed, match="authorization failed"):
        await require.on_request(ex_with({}))


# -- jwtAuth with a real JWKS server ---------------------------------------------------------------


class Idp:
    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.hits = 0
        self.fail = False

    async def handle(self, _req: web.Request) -> web.Response:
        self.hits += 1
        if self.fail:
            return web.Response(status=503)
        return web.json_response({"keys": [k.jwk for k in self.keys]})


@pytest.fixture
async def idp() -> AsyncIterator[tuple[Idp, str]]:
    state = Idp()
    app = web.Application()
    app.router.add_get("/jwks", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state, f"http://127.0.0.1:{port}/jwks"
    await runner.cleanup()


def jwt_policy(url: str, refresh_after: float = 300.0, min_refetch: float = 0.2) -> JwtAuthPolicy:
    cfg = config(f"""\
        jwtAuth:
          mode: strict
          issuer: https://idp.test
          audiences: [agentgateway-py]
          jwks: {{url: "{url}"}}""")
    route = route_of(cfg)
    assert route.policies.jwt_auth is not None
    return JwtAuthPolicy(route.policies.jwt_auth, Services(cfg, Metrics()), refresh_after, min_refetch)


async def test_jwks_fetch_rotation_and_refetch_limit(idp: tuple[Idp, str]) -> None:
    state, url = idp
    a, b = SigningKey("a", "RS256"), SigningKey("b", "ES256")
    state.keys = [a]
    policy = jwt_policy(url, min_refetch=0.5)
    token_a = a.token(sub="u")
    assert (await policy.verify(token_a))["sub"] == "u"
    assert state.hits == 1
    state.keys = [b]  # rotation
    stranger = SigningKey("zzz", "ES256").token()
    for _ in range(5):  # unknown kids within min_refetch of the last fetch: no more fetches
        with pytest.raises(TokenRejected, match="unknown key id"):
            await policy.verify(stranger)
    assert state.hits == 1
    await asyncio.sleep(0.5)
    assert (await policy.verify(b.token(sub="v")))["sub"] == "v"
    assert state.hits == 2
    ex = exchange(bearer(token_a))  # verified (and remembered) before the rotation: no longer valid
    with pytest.raises(AuthenticationFailed, match="unknown key id 'a'"):
        await policy.on_request(ex)


async def test_jwks_background_refresh_keeps_keys_when_idp_fails(idp: tuple[Idp, str]) -> None:
    state, url = idp
    a = SigningKey("a", "ES256")
    state.keys = [a]
    policy = jwt_policy(url, refresh_after=0.1, min_refetch=0.05)
    await policy.verify(a.token())
    state.fail = True
    await asyncio.sleep(0.15)
    await policy.verify(a.token(n=2))  # stale keys: answered from them, refresh starts in the background
    for _ in range(50):
        if state.hits >= 2:
            break
        await asyncio.sleep(0.02)
    assert state.hits == 2
    await asyncio.sleep(0.05)
    ex = exchange(bearer(a.token(email="x@example.com")))
    await policy.on_request(ex)  # the failed refresh kept the known key
    assert ex.jwt is not None and ex.jwt["email"] == "x@example.com"


async def test_inline_jwks_and_alg_comes_from_the_key() -> None:
    k = SigningKey("k", "ES256")
    cfg = config(f"""\
        jwtAuth:
          issuer: https://idp.test
          jwks: '{json.dumps({"keys": [k.jwk]})}'
          jwtValidationOptions: {{requiredClaims: [exp, sub]}}""")
    policy = JwtAuthPolicy(route_of(cfg).policies.jwt_auth, Services(cfg, Metrics()))  # type: ignore[arg-type]
    assert (await policy.verify(k.token(sub="s", aud="any")))["sub"] == "s"  # no audiences: aud not checked
    with pytest.raises(TokenRejected, match="missing required claim 'sub'"):
        await policy.verify(k.token())
    import jwt as pyjwt

    hs = pyjwt.encode({"iss": "https://idp.test", "sub": "s", "exp": 2**40}, "s" * 32, algorithm="HS256",
                      headers={"kid": "k"})
    with pytest.raises(TokenRejected, match="unknown key id"):
        await policy.verify(hs)


# -- CORS ------------------------------------------------------------------------------------------


def test_cors_origin_matching_follows_agentgateway() -> None:
    policy = Cors(allow_origins=("https://app.example.com", "http://*.dev.test:8080"))
    assert cors.origin_allowed(policy, "https://app.example.com:443")
    assert cors.origin_allowed(policy, "HTTPS://APP.example.com")
    assert not cors.origin_allowed(policy, "http://app.example.com")
    assert cors.origin_allowed(policy, "http://a.b.dev.test:8080")
    assert not cors.origin_allowed(policy, "http://a.dev.test")
    assert not cors.origin_allowed(policy, "null")


def test_cors_wildcard_lists_echo_the_preflight_request() -> None:
    policy = Cors(allow_origins=("*",), allow_methods=("*",), allow_headers=("*",), expose_headers=("x-a",))
    req = Request("OPTIONS", b"/", [(b"origin", b"https://a.test"), (b"access-control-request-method", b"PUT"),
                                   (b"access-control-request-headers", b"x-one,  x-two")], b"")
    answered = cors.preflight_response(policy, req)
    assert answered is not None
    headers = dict(answered[1])
    assert headers[b"access-control-allow-origin"] == b"https://a.test"
    assert headers[b"access-control-allow-methods"] == b"PUT"
    assert headers[b"access-control-allow-headers"] == b"x-one, x-two"
    assert headers[b"access-control-expose-headers"] == b"x-a"
    assert headers[b"vary"] == b"origin"
    # An OPTIONS without a preflight method from a disallowed origin is not answered locally.
    strict = Cors(allow_origins=("https://b.test",))
    plain_options = Request("OPTIONS", b"/", [(b"origin", b"https://a.test")], b"")
    assert cors.preflight_response(strict, plain_options) is None


def test_llm_policies_carry_the_auth_policies() -> None:
    cfg = load_config_text("""
llm:
  port: 1
  policies:
    apiKey: {mode: strict, keys: [{key: k1, allowedModels: [gpt-4o]}]}
    jwtAuth: {issuer: me, jwks: '{"keys": []}'}
    authorization: {rules: ['jwt.sub == "x"']}
  models:
  - name: gpt-4o
    provider: openAI
""", env={})
    route = route_of(cfg)
    names = [p.name for p in build_chain(route, Services(cfg, Metrics()))]
    assert names[:3] == ["jwtAuth", "apiKey", "authorization"]
