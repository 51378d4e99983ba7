"""The `ai` policy's request-body edits: model aliases, defaults, overrides, prompt enrichment.

These work on the parsed JSON body of an LLM request and report whether they changed it, so an
unchanged body can be forwarded byte-for-byte.
"""

from __future__ import annotations

from typing import Any

from gateway.config.model import AIPolicy, PromptMessage, RouteType


def resolve_alias(policy: AIPolicy, model: str) -> str | None:
    """The aliased model, or None. Aliases are pre-sorted: exact names, then longer wildcards."""
    for pattern, target in policy.model_aliases:
        if "*" not in pattern:
            if pattern == model:
                return target
            continue
        head, _, tail = pattern.partition("*")
        if model.startswith(head) and model.endswith(tail) and len(model) >= len(head) + len(tail):
            return target
    return None


def _prompt_dicts(msgs: tuple[PromptMessage, ...]) -> list[dict[str, Any]]:
    return [{"role": m.role, "content": m.content} for m in msgs]


def _enrich_messages(body: dict[str, Any], policy: AIPolicy, route_type: RouteType) -> bool:
    if not (policy.prompts_prepend or policy.prompts_append):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    if route_type is RouteType.MESSAGES:
        # Anthropic has no system role inside messages: system prompts join the `system` field.
        return _enrich_anthropic(body, messages, policy)
    body["messages"] = _prompt_dicts(policy.prompts_prepend) + messages + _prompt_dicts(policy.prompts_append)
    return True


def _enrich_anthropic(body: dict[str, Any], messages: list[Any], policy: AIPolicy) -> bool:
    def split(msgs: tuple[PromptMessage, ...]) -> tuple[list[str], list[dict[str, Any]]]:
        system = [m.content for m in msgs if m.role == "system"]
        rest = [{"role": m.role, "content": m.content} for m in msgs if m.role != "system"]
        return system, rest

    pre_sys, pre = split(policy.prompts_prepend)
    post_sys, post = split(policy.prompts_append)
    if pre_sys or post_sys:
        existing = body.get("system")
        parts: list[Any] = []
        if isinstance(existing, str) and existing:
            parts = [existing]
        elif isinstance(existing, list):
            parts = [b.get("text", "") for b in existing if isinstance(b, dict)]
        body["system"] = "\n".join(pre_sys + parts + post_sys)
    body["messages"] = pre + messages + post
    return True


def apply_ai_policy(body: dict[str, Any], policy: AIPolicy, route_type: RouteType) -> bool:
    """Edit `body` in place; True when anything changed."""
    changed = False
    for key, value in policy.defaults:
        if key not in body:
            body[key] = value
            changed = True
    for key, value in policy.overrides:
        if body.get(key, object()) != value:
            body[key] = value
            changed = True
    model = body.get("model")
    if isinstance(model, str) and policy.model_aliases:
        target = resolve_alias(policy, model)
        if target is not None and target != model:
            body["model"] = target
            changed = True
    return _enrich_messages(body, policy, route_type) or changed
