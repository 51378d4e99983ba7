"""Runtime IR of the client authentication and authorization policies (apiKey, basicAuth, jwtAuth,
authorization). Re-exported by model.py; lowered by lower_auth.py; enforced by gateway/policies/auth_*.py.

No raw credential is kept: API keys are stored as their sha256 digest and htpasswd hashes as
`Secret`s, so neither appears in the admin config dump or in a repr.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .model import Secret


class AuthMode(enum.Enum):
    STRICT = "strict"  # a valid credential is required
    OPTIONAL = "optional"  # validated when present (agentgateway's default)
    PERMISSIVE = "permissive"  # never rejects; a valid credential is still recorded


@dataclass(frozen=True)
class CredentialLocation:
    kind: str  # "header" | "queryParameter" | "cookie"
    name: str  # header names lower-case
    prefix: str | None = None  # header only; stripped (case-insensitively) before validation


BEARER = CredentialLocation("header", "authorization", "Bearer ")
BASIC = CredentialLocation("header", "authorization", "Basic ")


@dataclass(frozen=True)
class ApiKeyEntry:
    digest: Secret  # hex sha256 of the key
    metadata: Any = None
    allowed_models: tuple[str, ...] | None = None  # None: no constraint; () denies every model


@dataclass(frozen=True)
class ApiKeyAuth:
    keys: tuple[ApiKeyEntry, ...]
    mode: AuthMode = AuthMode.OPTIONAL
    location: CredentialLocation = BEARER


@dataclass(frozen=True)
class HtpasswdUser:
    name: str
    hash: Secret  # "$2y$...", "$apr1$...", "{SHA}..."


@dataclass(frozen=True)
class BasicAuth:
    users: tuple[HtpasswdUser, ...]
    realm: str | None = None
    mode: AuthMode = AuthMode.OPTIONAL
    location: CredentialLocation = BASIC


@dataclass(frozen=True)
class JwksSource:
    # Inline and file JWKS are read and parsed at load (`keys` holds the JWK dicts); a URL is
    # fetched by the policy at runtime and refreshed periodically.
    url: str | None = None
    keys: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class JwtProvider:
    issuer: str
    jwks: JwksSource
    audiences: tuple[str, ...] = ()
    required_claims: tuple[str, ...] = ("exp",)


@dataclass(frozen=True)
class JwtAuth:
    providers: tuple[JwtProvider, ...]
    mode: AuthMode = AuthMode.OPTIONAL
    location: CredentialLocation = BEARER


@dataclass(frozen=True)
class AuthRule:
    kind: str  # "allow" | "deny" | "require"
    expression: str  # CEL source; compiled (and checked) at load, again when the policy is built


@dataclass(frozen=True)
class Authorization:
    rules: tuple[AuthRule, ...] = field(default_factory=tuple)
