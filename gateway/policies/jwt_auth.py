"""`jwtAuth`: bearer JWTs verified against each provider's JWKS (RS*, PS*, ES*, EdDSA keys).

The provider is chosen by the token's `iss`; the key by its `kid` (or every key of the set when the
token has none). The algorithm comes from the key, never from the token alone, so an attacker cannot
pick `none` or HMAC-with-the-public-key. Verified claims become `ex.jwt` (CEL `jwt`).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from typing import Any

import jwt

from gateway.config.model import Route
from gateway.config.model_auth import AuthMode, JwtAuth, JwtProvider
from gateway.errors import AuthenticationFailed
from gateway.policies import credentials
from gateway.policies.base import Exchange, Policy, Services
from gateway.policies.jwks import KeySet, RemoteKeySet, to_keys

# Clock skew tolerated on exp/nbf: the 60 s default of agentgateway's jsonwebtoken crate.
LEEWAY = 60.0
CACHE_TTL = 60.0  # a verified token is re-verified at least this often
CACHE_SIZE = 10_000


class TokenRejected(Exception):
    """Why a token is not accepted; the text goes after "authentication failure: "."""


class _Provider:
    def __init__(self, cfg: JwtProvider, refresh_after: float, min_refetch: float) -> None:
        self.cfg = cfg
        url = cfg.jwks.url
        self.keys = RemoteKeySet(url, refresh_after, min_refetch) if url else KeySet(to_keys(cfg.jwks.keys))

    async def verify(self, token: str, header: dict[str, Any]) -> dict[str, Any]:
        alg, kid = header.get("alg"), header.get("kid")
        keys = [k for k in await self.keys.candidates(kid if isinstance(kid, str) else None)
                if k.algorithm_name == alg]
        if not keys:
            # The kid comes from the client: bound what is echoed back.
            raise TokenRejected("no matching signing key" if kid is None else f"unknown key id {str(kid)[:64]!r}")
        last: TokenRejected | None = None
        for key in keys:
            try:
                return self._decode(token, key)
            except TokenRejected as e:
                last = e
        raise last or TokenRejected("invalid token")

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        cfg = self.cfg
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[key.algorithm_name],
                audience=list(cfg.audiences) or None, issuer=cfg.issuer, leeway=LEEWAY,
                options={"require": ["iss", *cfg.required_claims], "verify_aud": bool(cfg.audiences)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("token expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("invalid audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("invalid issuer") from None
        except jwt.MissingRequiredClaimError as e:
            raise TokenRejected(f"missing required claim {e.claim!r}") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("invalid signature") from None
        except jwt.InvalidTokenError:
            raise TokenRejected("invalid token") from None
        return claims


class JwtAuthPolicy(Policy):
    """Verified tokens are remembered (by sha256 of the token, bounded LRU) until they expire, for at
    most CACHE_TTL, and forgotten when the issuer's key set changes: clients send the same token on
    every request, and a signature check costs 0.2-0.3 ms of event-loop time."""

    name = "jwtAuth"

    def __init__(self, cfg: JwtAuth, services: Services, refresh_after: float = 300.0,
                 min_refetch: float = 1.0) -> None:
        self.cfg = cfg
        self.services = services
        self._providers = {p.issuer: _Provider(p, refresh_after, min_refetch) for p in cfg.providers}
        self._verified: OrderedDict[bytes, tuple[dict[str, Any], float, _Provider, int]] = OrderedDict()

    async def on_request(self, ex: Exchange) -> None:
        loc = self.cfg.location
        token = credentials.read(ex.req, loc)
        if token is None:
            if self.cfg.mode is AuthMode.STRICT:
                raise AuthenticationFailed("authentication failure: no bearer token found")
            return
        credentials.remove(ex.req, loc)
        try:
            ex.jwt = dict(await self.verify(token))  # a copy: the verified claims are cached
        except TokenRejected as e:
            if self.cfg.mode is not AuthMode.PERMISSIVE:
                raise AuthenticationFailed(f"authentication failure: {e}") from None

    async def verify(self, token: str) -> dict[str, Any]:
        memo = hashlib.sha256(token.encode()).digest()
        hit = self._verified.get(memo)
        now = time.time()
        if hit is not None:
            claims, until, provider, version = hit
            if now < until and provider.keys.version == version:
                self._verified.move_to_end(memo)
                return claims
            del self._verified[memo]
        claims, provider, version = await self._verify(token)
        exp = claims.get("exp")
        until = min(now + CACHE_TTL, float(exp) if isinstance(exp, (int, float)) else now + CACHE_TTL)
        self._verified[memo] = (claims, until, provider, version)
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> tuple[dict[str, Any], _Provider, int]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            raise TokenRejected("the token is malformed") from None
        issuer = unverified.get("iss")
        provider = self._providers.get(issuer) if isinstance(issuer, str) else None
        if provider is None:
            raise TokenRejected("invalid issuer")
        version = provider.keys.version  # before verifying: a rotation meanwhile invalidates the entry
        return await provider.verify(token, header), provider, version


def build(route: Route, services: Services) -> Policy | None:
    cfg = route.policies.jwt_auth
    return JwtAuthPolicy(cfg, services) if cfg is not None else None
