"""promptGuard policy: regex guards on LLM requests (mask in place or reject) and responses.

The guard in force is the selected backend's (`ai.promptGuard` on a backend, `guardrails` on an
llm model) when it has one, else the route's (`policies.ai.promptGuard`, `llm.policies.guardrails`).
Request guards run after prompt enrichment, before budgets; response guards rewrite the body
through a BodyFilter (streams included). Detections are counted per entity type and action;
the matched values are never logged, counted or stored.
"""

from __future__ import annotations

from typing import Any

from gateway.config.model import AIBackend, AIGroups, ModelRouter, Route
from gateway.config.model_guard import PromptGuard, RegexGuard, WebhookGuard
from gateway.policies.base import BodyFilter, Exchange, Policy, Services
from gateway.policies.guard_body import rewrite_request
from gateway.policies.guard_engine import Detections, apply_guards
from gateway.policies.guard_sse import GuardFilter
from gateway.policies.guard_webhook import run_webhook

_STATE = "promptGuard"


def _backends(route: Route) -> list[AIBackend]:
    out: list[AIBackend] = []
    for rb in route.backends:
        target = rb.target
        if isinstance(target, AIBackend):
            out.append(target)
        elif isinstance(target, AIGroups):
            out.extend(b for group in target.groups for b in group)
        elif isinstance(target, ModelRouter):
            out.extend(m.backend for m in target.models)
    return out


def _guard_of(backend: AIBackend | None) -> PromptGuard | None:
    ai = backend.policies.ai if backend is not None else None
    return ai.prompt_guard if ai is not None else None


class PromptGuardPolicy(Policy):

    after_model_rules = True
    name = "promptGuard"

    def __init__(self, route_guard: PromptGuard | None, metrics: Any) -> None:
        self.route_guard = route_guard
        self.metrics = metrics

    def _guard(self, ex: Exchange) -> PromptGuard | None:
        return _guard_of(ex.backend) or self.route_guard

    async def on_request(self, ex: Exchange) -> None:
        guard = self._guard(ex)
        if guard is None or ex.body is None:
            return
        state: dict[str, Detections] = {}
        ex.policy_state[_STATE] = state
        if not guard.request:
            return
        found = state["Request"] = Detections()
        for g in guard.request:
            # Guards run one after the other, each on the previous one's output (agentgateway order).
            if isinstance(g, WebhookGuard):
                changed = await run_webhook(g, ex, ex.body, found)
            else:
                def rewrite(text: str, scope: str, g: RegexGuard = g) -> str:
                    return apply_guards(text, (g,), found) if scope in g.scope else text

                changed = rewrite_request(ex.body, rewrite)
            if changed:
                ex.body_changed = True

    def response_filter(self, ex: Exchange) -> BodyFilter | None:
        guard = self._guard(ex)
        state = ex.policy_state.get(_STATE)
        if guard is None or not guard.response or state is None:
            return None
        found = state["Response"] = Detections()
        return GuardFilter(guard.response, found)

    def on_complete(self, ex: Exchange) -> None:
        state = ex.policy_state.get(_STATE)
        if not state or self.metrics is None:
            return
        for phase, found in state.items():
            self.metrics.count_guardrail(phase, found.action())
            for (entity, action), n in found.counts.items():
                self.metrics.count_detections(phase, entity, action, n)


def build(route: Route, services: Services) -> Policy | None:
    route_guard = route.policies.ai.prompt_guard if route.policies.ai is not None else None
    if route_guard is None and not any(_guard_of(b) for b in _backends(route)):
        return None
    return PromptGuardPolicy(route_guard, services.metrics)
