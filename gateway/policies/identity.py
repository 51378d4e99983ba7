"""Request identity: who the user and team are, from `config.standardAttributes`.

agentgateway's `standardAttributes {user, group}` are CEL expressions (over `apiKey.*`, `jwt.*`,
`request.headers`); their values become `ex.user` and `ex.team` (team = group), which later
policies key on (per-user rate-limit buckets, budgets, spend records). It runs right after
authentication, so the expressions see the verified key metadata and claims.

`trustHeaders: true` is our extension: for an attribute without an expression, the value comes
from the `x-user-id` / `x-team-id` request headers. Any client can send those headers, so this is
only for deployments behind an authenticating proxy that sets them (and strips client copies).

A value that cannot be computed (missing claim or header) leaves what authentication set.
Without standardAttributes there is no identity policy at all: zero cost per request.
"""

from __future__ import annotations

from typing import Any

from gateway.config.model import Route, StandardAttributes
from gateway.policies.base import Exchange, Policy, Services

USER_HEADER = b"x-user-id"
TEAM_HEADER = b"x-team-id"
# Identity values land in logs, metrics labels and bucket keys; bound what a client can inject.
MAX_IDENTITY_LENGTH = 256


class IdentityPolicy(Policy):
    name = "identity"

    def __init__(self, attrs: StandardAttributes) -> None:
        self._user_expr = attrs.user
        self._group_expr = attrs.group
        self._user_header = USER_HEADER if attrs.trust_headers and attrs.user is None else None
        self._team_header = TEAM_HEADER if attrs.trust_headers and attrs.group is None else None

    async def on_request(self, ex: Exchange) -> None:
        user = self._resolve(ex, self._user_expr, self._user_header)
        if user is not None:
            ex.user = user
        team = self._resolve(ex, self._group_expr, self._team_header)
        if team is not None:
            ex.team = team

    @staticmethod
    def _resolve(ex: Exchange, expr: Any, header: bytes | None) -> str | None:
        if expr is not None:
            return as_identity(expr.evaluate(ex))
        if header is not None:
            raw = ex.req.header(header)
            return as_identity(raw.decode("latin-1")) if raw is not None else None
        return None


def as_identity(value: Any, max_length: int | None = MAX_IDENTITY_LENGTH) -> str | None:
    """A CEL result as an identity string; None for no value, empty strings, containers and
    (unless `max_length` is None) values longer than `max_length`."""
    if value is None or isinstance(value, (dict, list, tuple, bytes)):
        return None
    text = (str(value).lower() if isinstance(value, bool) else str(value)).strip()
    if not text or (max_length is not None and len(text) > max_length):
        return None
    return text


def build(route: Route, services: Services) -> Policy | None:
    attrs = services.config.process.standard_attributes
    return IdentityPolicy(attrs) if attrs is not None else None
