"""promptGuard policy: regex guards on LLM requests (mask in place or reject) and responses.

The guard in force is the selected backend's (`ai.promptGuard` on a backend, `guardrails` on an
llm model) when it has one, else the route's (`policies.ai.promptGuard`, `llm.policies.guardrails`).
Request guards run after prompt enrichment, before budgets; regex response guards rewrite the
body through a BodyFilter (streams included). With a webhook among the response guards, a
non-streamed answer goes through every response guard in order in `on_response_body`; a
streamed request is refused up front (400) since the webhook cannot see the stream before the
client does, unless every response webhook is `failOpen` (then the regex guards alone apply).
Detections are counted per entity type and action; the matched values are never logged,
counted or stored.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.model import AIBackend, AIGroups, ModelRouter, Route
from gateway.config.model_guard import Guard, PromptGuard, RegexGuard, WebhookGuard
from gateway.errors import GatewayError
from gateway.policies.base import BodyFilter, Exchange, Policy, Services
from gateway.policies.guard_body import rewrite_request
from gateway.policies.guard_engine import Detections, apply_guards
from gateway.policies.guard_sse import GuardFilter, guard_answer
from gateway.policies.guard_webhook import run_response_webhook, run_webhook

_STATE = "promptGuard"


class StreamNotGuardable(GatewayError):
    status = 400
    reason = "Guardrail"
    code = "guardrail_streaming_unsupported"


def _regex(guards: tuple[Guard, ...]) -> tuple[RegexGuard, ...]:
    return tuple(g for g in guards if isinstance(g, RegexGuard))


def _has_webhook(guards: tuple[Guard, ...]) -> bool:
    return any(isinstance(g, WebhookGuard) for g in guards)


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
    per_attempt = True  # a failover target gets the same masking as the first provider
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
        if ex.stream and _has_webhook(guard.response):
            self._stream_with_webhook(guard, state)
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

    @staticmethod
    def _stream_with_webhook(guard: PromptGuard, state: dict[str, Detections]) -> None:
        if not all(g.fail_open for g in guard.response if isinstance(g, WebhookGuard)):
            raise StreamNotGuardable("this route's response guardrail webhook cannot check streamed responses; "
                                     "send the request with stream: false")
        state["Response"] = Detections()
        state["Response"].failed_open = True  # the webhook is skipped: counted as FailOpen

    def response_filter(self, ex: Exchange) -> BodyFilter | None:
        guard = self._guard(ex)
        state = ex.policy_state.get(_STATE)
        if guard is None or not guard.response or state is None:
            return None
        if _has_webhook(guard.response) and not ex.stream:
            return None  # on_response_body runs every guard in order
        regex = _regex(guard.response)
        if not regex:
            return None
        found = state.setdefault("Response", Detections())
        return GuardFilter(regex, found)

    async def on_response_body(self, ex: Exchange, body: bytes) -> bytes:
        guard = self._guard(ex)
        state = ex.policy_state.get(_STATE)
        if guard is None or ex.stream or state is None or not _has_webhook(guard.response):
            return body
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            return body  # not an answer the guards understand: as the regex filter does
        found = state["Response"] = Detections()
        changed = False
        for g in guard.response:
            if isinstance(g, WebhookGuard):
                changed |= await run_response_webhook(g, ex, obj, found)
            else:
                changed |= guard_answer(obj, (g,), found)
        return orjson.dumps(obj) if changed else body

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
