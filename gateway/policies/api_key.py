"""`apiKey`: clients authenticate with a gateway API key (agentgateway's LocalAPIKeys).

Keys are held only as sha256 digests (inline `key`s are hashed at load); a presented key is hashed
and looked up by digest, then confirmed with a constant-time comparison. The matched key's
`metadata` becomes CEL `apiKey` and, without standardAttributes, the request's user and team.
"""

from __future__ import annotations

import hashlib
import hmac

from gateway.config.model import Route
from gateway.config.model_auth import ApiKeyAuth, ApiKeyEntry, AuthMode
from gateway.errors import ApiKeyAuthFailed, AuthorizationFailed
from gateway.policies import credentials
from gateway.policies.base import Exchange, Policy, Services


def model_allowed(patterns: tuple[str, ...], model: str) -> bool:
    """agentgateway model patterns: exact, `*`, `prefix*`, `*suffix` (and `a*b`)."""
    for pattern in patterns:
        head, star, tail = pattern.partition("*")
        if not star:
            if model == pattern:
                return True
        elif model.startswith(head) and model.endswith(tail) and len(model) >= len(head) + len(tail):
            return True
    return False


class ApiKeyPolicy(Policy):
    name = "apiKey"

    def __init__(self, cfg: ApiKeyAuth, services: Services) -> None:
        self.cfg = cfg
        self.services = services
        self._by_digest: dict[bytes, ApiKeyEntry] = {bytes.fromhex(k.digest.reveal()): k for k in cfg.keys}

    def lookup(self, key: str) -> ApiKeyEntry | None:
        digest = hashlib.sha256(key.encode()).digest()
        entry = self._by_digest.get(digest)
        if entry is None:
            return None
        return entry if hmac.compare_digest(bytes.fromhex(entry.digest.reveal()), digest) else None

    async def on_request(self, ex: Exchange) -> None:
        loc = self.cfg.location
        key = credentials.read(ex.req, loc)
        if key is None:
            if self.cfg.mode is AuthMode.STRICT:
                raise ApiKeyAuthFailed("api key authentication failure: no API Key found")
            return
        credentials.remove(ex.req, loc)
        entry = self.lookup(key)
        if entry is None:
            if self.cfg.mode is AuthMode.PERMISSIVE:
                return
            raise ApiKeyAuthFailed("api key authentication failure: no matching key")
        meta = entry.metadata
        ex.api_key = dict(meta) if isinstance(meta, dict) else {}
        credentials.attribute_identity(ex, self.services, meta)
        self._check_model(ex, entry)

    @staticmethod
    def _check_model(ex: Exchange, entry: ApiKeyEntry) -> None:
        if entry.allowed_models is None or ex.request_model is None:
            return
        if not model_allowed(entry.allowed_models, ex.request_model):
            raise AuthorizationFailed(f'model "{ex.request_model}" is not allowed for this API key',
                                      code="model_not_allowed")


def build(route: Route, services: Services) -> Policy | None:
    cfg = route.policies.api_key
    return ApiKeyPolicy(cfg, services) if cfg is not None else None
