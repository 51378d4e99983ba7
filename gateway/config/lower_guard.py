"""Lowering of `policies.ai.promptGuard` and the llm dialect's `guardrails` (same shape).

Regex guards only; custom patterns are compiled here so a bad one fails at load with its YAML
path and line. `labels: agentgateway | seed` on a regex guard is our extension (README).
"""

from __future__ import annotations

import re

from gateway.cel import CelError, compile_expression
from gateway.fastpath import PII_CA_SIN, PII_CREDIT_CARD, PII_EMAIL, PII_PHONE, PII_SSN

from . import model_guard as mg
from .reader import Section, type_name
from .values import parse_host_port
from .yamlnodes import YScalar

_BUILTINS = {
    "ssn": PII_SSN, "creditCard": PII_CREDIT_CARD, "phoneNumber": PII_PHONE, "email": PII_EMAIL,
    "caSin": PII_CA_SIN,
}  # fmt: skip
_ACTIONS = ("mask", "reject")
_SCOPES = ("systemPrompt", "messages", "toolOutput", "toolInput")
_RESPONSE_SCOPES = ("messages", "toolInput")  # answer text, tool-call arguments
_LABELS = {
    "agentgateway": (mg.AGENTGATEWAY_LABELS, mg.AGENTGATEWAY_CUSTOM_LABEL),
    "seed": (mg.SEED_LABELS, mg.SEED_CUSTOM_LABEL),
}
# Guard kinds agentgateway has that this gateway does not implement (yet).
_OTHER_GUARDS = ("webhook", "openAIModeration", "bedrockGuardrails", "googleModelArmor", "azureContentSafety")


def prompt_guard(sec: Section | None) -> mg.PromptGuard | None:
    """promptGuard / guardrails: {streaming?, request: [...], response: [...]}."""
    if sec is None:
        return None
    # Streamed responses are always masked on the fly here, so `streaming` changes nothing;
    # it is accepted (and checked) so agentgateway configs load unchanged.
    streaming = sec.string("streaming")
    if streaming is not None and streaming not in ("Enabled", "Disabled"):
        sec.error("streaming", f'expected one of Enabled, Disabled; got "{streaming}"')
    request = _guards(sec, "request", "promptGuardRequest", True)
    response = _guards(sec, "response", "promptGuardResponse", False)
    if streaming == "Enabled" and any(isinstance(g, mg.WebhookGuard) for g in response):
        # agentgateway would call the webhook on windows of the stream; this gateway does not
        # (README "Response webhook guards"), so say so rather than silently not checking.
        sec.error("streaming", "response webhook guards cannot check streamed responses here; "
                               "remove `streaming: Enabled` (streamed requests are then refused, or with failureMode: "
                               "failOpen get only the regex guards)")
    if not request and not response:
        return None
    return mg.PromptGuard(request=request, response=response)


def _guards(sec: Section, key: str, name: str, request_side: bool) -> tuple[mg.Guard, ...]:
    out = []
    for path, node, schema in sec.items(key):
        gsec = Section.open(sec.ctx, node, path, schema, name)
        if gsec is None:
            continue
        guard = _guard(gsec, request_side)
        if guard is not None:
            out.append(guard)
    return tuple(out)


def _guard(sec: Section, request_side: bool) -> mg.Guard | None:
    present = [k for k in ("regex", *_OTHER_GUARDS) if sec.has(k)]
    if len(present) != 1:
        if sec.pristine:
            sec.error(None, "expected exactly one guard kind, e.g. regex")
        return None
    if present[0] == "webhook":
        return _webhook(sec, sec.section("webhook", "webhookGuard"), request_side)
    rsec = sec.section("regex", "regexGuard")
    if rsec is None:
        return None
    action = rsec.string("action") or "mask"
    if action not in _ACTIONS:
        rsec.error("action", f'expected one of mask, reject; got "{action}"')
    style = rsec.string("labels") or "agentgateway"
    if style not in _LABELS:
        rsec.error("labels", f'expected one of agentgateway, seed; got "{style}"')
        style = "agentgateway"
    kinds, patterns = _rules(rsec)
    labels, custom = _LABELS[style]
    return mg.RegexGuard(
        action=action, kinds=kinds, patterns=patterns, labels=labels, custom_label=custom,
        scope=_scope(sec, _SCOPES if request_side else _RESPONSE_SCOPES), rejection=_rejection(sec),
    )  # fmt: skip


def _rules(sec: Section) -> tuple[int, tuple[re.Pattern[str], ...]]:
    kinds = 0
    patterns: list[re.Pattern[str]] = []
    sec.require("rules")
    for path, node, schema in sec.items("rules"):
        rule = Section.open(sec.ctx, node, path, schema, "regexRule")
        if rule is None:
            continue
        if rule.has("builtin") == rule.has("pattern"):
            if rule.pristine:
                rule.error(None, "expected exactly one of: builtin, pattern")
            continue
        builtin = rule.string("builtin")
        if builtin is not None:
            if builtin not in _BUILTINS:
                rule.error("builtin", f'unknown builtin "{builtin}"; expected one of: {", ".join(_BUILTINS)}')
            else:
                kinds |= _BUILTINS[builtin]
        pattern = rule.string("pattern")
        if pattern is not None:
            try:
                patterns.append(re.compile(pattern))
            except re.error as e:
                rule.error("pattern", f"invalid regex: {e}")
    return kinds, tuple(patterns)


def _scope(sec: Section, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not sec.has("scope"):
        return mg.RegexGuard.scope
    out = set()
    for path, node, _ in sec.items("scope"):
        value = node.value if isinstance(node, YScalar) else None
        if value not in allowed:
            got = f'"{value}"' if isinstance(value, str) else type_name(node)
            sec.ctx.error(node.line, path, f"expected one of {', '.join(allowed)}; got {got}")
            continue
        out.add(str(value))
    return tuple(sorted(out))


def _rejection(sec: Section) -> mg.Rejection:
    rsec = sec.section("rejection", "guardRejection")
    if rsec is None:
        return mg.Rejection()
    status = rsec.integer("status", 100, 599)
    body = rsec.string("body")
    headers: list[tuple[str, str]] = []
    hsec = rsec.section("headers", "guardRejectionHeaders")
    if hsec is not None:
        headers += [(k.lower(), v) for k, v in hsec.str_map("set")]
        headers += [(k.lower(), v) for k, v in hsec.str_map("add")]
    return mg.Rejection(
        status=mg.Rejection.status if status is None else status,
        body=mg.DEFAULT_REJECTION_BODY if body is None else body,
        headers=tuple(headers),
    )



def _webhook(parent: Section, sec: Section | None, request_side: bool) -> mg.WebhookGuard | None:
    """webhook: {target: {host}, headers: {name: CEL}, forwardHeaderMatches, failureMode}."""
    if sec is None:
        return None
    target = sec.section("target", "webhookTarget")
    host = target.string("host") if target else None
    if target is not None:
        target.require("host")
    elif sec.pristine:
        sec.require("target")
    if host is not None and target is not None:
        try:
            parse_host_port(host)
        except ValueError as e:
            target.error("host", str(e))
            host = None
    headers = []
    for name, path, line, node in sec.entries("headers"):
        src = node.value if isinstance(node, YScalar) and isinstance(node.value, str) else None
        if src is None:
            sec.ctx.error(line, path, f"expected CEL expression string, got {type_name(node)}")
            continue
        try:
            headers.append((name.lower(), compile_expression(src)))
        except CelError as e:
            sec.ctx.error(line, path, f"invalid CEL expression: {e}")
    mode = sec.string("failureMode") or "failClosed"
    if mode not in ("failClosed", "failOpen"):
        sec.error("failureMode", f'expected one of failClosed, failOpen; got "{mode}"')
    # Imported here: lower_routes imports lower_backends, which imports this module via lower_policies.
    from .lower_routes import header_matches

    forward = header_matches(sec, "forwardHeaderMatches")
    if host is None:
        return None
    return mg.WebhookGuard(host=host, headers=tuple(headers), forward=forward, fail_open=mode == "failOpen",
                           path="/request" if request_side else "/response", rejection=_rejection(parent))
