"""The ordered policy chain of a route, built once at startup.

The order is fixed here and nowhere else; each position has its reason:
1. authentication (apiKey/jwtAuth/basicAuth), so everything after knows the user and team;
   then identity (config.standardAttributes), which derives user/team from what auth verified;
2. authorization rules, which need the identity;
3. localRateLimit, after auth so per-user buckets key on a trusted identity, and before any
   work that costs money;
4. request guardrails (promptGuard), before budgets so a rejected prompt reserves nothing;
5. budget reservation, last before the upstream call, on the final model and body.
Response filters run in the same order on the response; `on_complete` runs for every policy
whose `on_request` was reached.

CORS is not in the chain: the pipeline answers preflights before it, so that refusals from
these policies still carry CORS headers.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.config.model import Route
from gateway.policies import (
    api_key,
    authorization,
    basic_auth,
    budget,
    identity,
    local_rate_limit,
    prompt_guard,
)
from gateway.policies.base import Policy, Services


def _jwt_auth(route: Route, services: Services) -> Policy | None:
    # Imported for the first route with jwtAuth: PyJWT and cryptography cost ~12 MB of RSS.
    if route.policies.jwt_auth is None:
        return None
    from gateway.policies import jwt_auth

    return jwt_auth.build(route, services)


# A builder looks at a route's lowered policies and returns its policy object, or None.
PolicyBuilder = Callable[[Route, Services], "Policy | None"]

# In the order above. Each policy module exposes one `build(route, services)`.
BUILDERS: tuple[PolicyBuilder, ...] = (
    _jwt_auth,
    basic_auth.build,
    api_key.build,
    identity.build,
    authorization.build,
    local_rate_limit.build,
    prompt_guard.build,  # before budgets: a rejected prompt reserves nothing
    budget.build,  # last: prices and reserves on the final model and body
)


def build_chain(route: Route, services: Services) -> tuple[Policy, ...]:
    chain = (builder(route, services) for builder in BUILDERS)
    return tuple(p for p in chain if p is not None)
