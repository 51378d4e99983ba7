"""Preparing an LLM request: route type, provider choice, model rules and body edits.

Pure functions over the lowered config and the parsed body; the network part is in forward.py.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from gateway.config.model import (
    DEFAULT_ROUTE_TABLE,
    AIBackend,
    AIGroups,
    AIPolicy,
    BackendTarget,
    ModelRouter,
    Policies,
    RouteType,
)
from gateway.errors import ClientFormat, InvalidRequest, ModelNotFound, NotImplementedYet
from gateway.policies.ai_request import apply_ai_policy
from gateway.policies.base import Exchange
from gateway.providers.base import ProviderSpec
from gateway.providers.registry import spec_for_backend
from gateway.proxy.translation import translation_for
from gateway.routing.router import headers_match
from gateway.server.types import Request


def route_type_for(path: str, policies: tuple[AIPolicy | None, ...]) -> RouteType:
    """agentgateway's suffix table: the first configured `ai.routes` map wins, else the default."""
    for policy in policies:
        if policy is not None and policy.routes:
            for suffix, rtype in policy.routes:
                if suffix == "*" or path.endswith(suffix):
                    return rtype
            return RouteType.COMPLETIONS
    for suffix, rtype in DEFAULT_ROUTE_TABLE:
        if path.endswith(suffix):
            return rtype
    return RouteType.COMPLETIONS


def client_format(route_type: RouteType) -> ClientFormat:
    if route_type in (RouteType.MESSAGES, RouteType.ANTHROPIC_TOKEN_COUNT):
        return ClientFormat.ANTHROPIC
    return ClientFormat.OPENAI


def parse_body(req: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"failed to process LLM request: request body must be valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidRequest("failed to process LLM request: request body must be a JSON object")
    return body


def select_backend(target: BackendTarget, body: dict[str, Any] | None, req: Request) -> AIBackend:
    """The provider backend that serves this request."""
    if isinstance(target, AIBackend):
        return target
    if isinstance(target, AIGroups):
        # Priority tiers: the first non-empty group serves; failover between tiers comes with
        # the multi-provider routing work.
        for group in target.groups:
            if group:
                return group[0] if len(group) == 1 else random.choice(group)
        raise InvalidRequest("no providers configured")
    if isinstance(target, ModelRouter):
        model = body.get("model") if body is not None else None
        if not isinstance(model, str) or not model:
            raise InvalidRequest("model not specified", code="missing_model")
        for candidate in target.models:
            if candidate.matches(model) and headers_match(candidate.header_matches, req):
                return candidate.backend
        raise ModelNotFound(f"model {model!r} not found")
    raise InvalidRequest("backend is not an AI backend")


def spec_for(backend: AIBackend) -> ProviderSpec:
    spec = spec_for_backend(backend)
    if spec is None:  # the config loader rejects these; this guards programmatic configs
        raise NotImplementedYet(f"provider {backend.provider.kind!r} is not supported by this gateway yet")
    return spec


def prepare_body(ex: Exchange, route_policies: Policies) -> None:
    """Apply agentgateway's model rules and the ai policies to `ex.body` in place.

    Sets `ex.body_changed` when anything changed, so an untouched body goes upstream
    byte-for-byte; the caller serializes once, after the request policies ran.
    """
    body, backend, route_type = ex.body, ex.backend, ex.route_type
    assert body is not None and backend is not None and route_type is not None
    spec = spec_for(backend)
    translation = None
    if route_type in (RouteType.COMPLETIONS, RouteType.MESSAGES) and route_type is not spec.native_format:
        translation = translation_for(route_type, spec.native_format)
        if translation is None:
            raise NotImplementedYet(
                f"translating {route_type.value} requests to the {spec.name} provider is not supported "
                "by this gateway yet",
                status=400,
            )
    model = body.get("model")
    ex.request_model = model if isinstance(model, str) else None
    changed = False
    if backend.provider.model is not None and model != backend.provider.model:
        body["model"] = backend.provider.model
        changed = True
    for policy in (route_policies.ai, backend.policies.ai):
        if policy is not None:
            changed = apply_ai_policy(body, policy, route_type) or changed
    ex.stream = body.get("stream") is True
    if ex.stream and route_type is RouteType.COMPLETIONS and "stream_options" not in body and translation is None:
        # So the final chunk carries usage and every token is counted (agentgateway does this too).
        body["stream_options"] = {"include_usage": True}
        changed = True
    model = body.get("model")
    if route_type in (RouteType.COMPLETIONS, RouteType.MESSAGES) and not isinstance(model, str):
        raise InvalidRequest("model not specified", code="missing_model")
    ex.model = model if isinstance(model, str) else None
    if translation is not None:
        # Model rules and ai policies apply in the client's format; then the body crosses over.
        ex.body = translation.request(body)
        ex.translation = translation
        changed = True
    ex.body_changed = ex.body_changed or changed


def serialize_body(ex: Exchange) -> bytes:
    spec = spec_for(ex.backend) if ex.backend is not None else None
    if ex.body is not None and spec is not None and spec.rewrites_body:
        # The provider's wire shape (Converse, Vertex rawPredict) is made after every policy saw the body.
        return orjson.dumps(spec.encode_request(ex.body, ex.model, ex.stream))
    if ex.body is None or not ex.body_changed:
        return ex.req.body
    return orjson.dumps(ex.body)
