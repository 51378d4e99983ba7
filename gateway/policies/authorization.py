"""`authorization`: CEL rules over the request and the authenticated identity (agentgateway RuleSet).

A request is refused (403 `authorization failed`) when any `deny` rule is true, when any `require`
rule is not true, or when there are `allow` rules and none is true. An expression that cannot be
evaluated (missing claim, type error) is "not true": it never allows and never satisfies a
`require`, and it does not deny, which is why agentgateway recommends allow/require over deny.
"""

from __future__ import annotations

from gateway.cel import Expression, compile_expression
from gateway.config.model import Route
from gateway.config.model_auth import Authorization
from gateway.errors import AuthorizationFailed
from gateway.policies.base import Exchange, Policy, Services


class AuthorizationPolicy(Policy):
    name = "authorization"

    def __init__(self, cfg: Authorization) -> None:
        self._allow: list[Expression] = []
        self._deny: list[Expression] = []
        self._require: list[Expression] = []
        lists = {"allow": self._allow, "deny": self._deny, "require": self._require}
        for rule in cfg.rules:
            lists[rule.kind].append(compile_expression(rule.expression))

    def allowed(self, ex: Exchange) -> bool:
        if any(e.evaluate(ex) is True for e in self._deny):
            return False
        if not all(e.evaluate(ex) is True for e in self._require):
            return False
        return not self._allow or any(e.evaluate(ex) is True for e in self._allow)

    async def on_request(self, ex: Exchange) -> None:
        if not self.allowed(ex):
            raise AuthorizationFailed("authorization failed")


def build(route: Route, services: Services) -> Policy | None:
    cfg = route.policies.authorization
    return AuthorizationPolicy(cfg) if cfg is not None else None
