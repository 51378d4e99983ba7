"""IR of `policies.ai.promptGuard` (and the llm dialect's `guardrails`): regex guards."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from .model import HeaderMatch

if TYPE_CHECKING:
    from gateway.cel import Expression

DEFAULT_REJECTION_BODY = "The request was rejected due to inappropriate content"

# Mask labels per builtin, indexed like fastpath's kind bits (SSN, CREDIT_CARD, PHONE, EMAIL, CA_SIN).
AGENTGATEWAY_LABELS = ("<SSN>", "<CREDIT_CARD>", "<PHONE_NUMBER>", "<EMAIL_ADDRESS>", "<CA_SIN>")
AGENTGATEWAY_CUSTOM_LABEL = "<masked>"
# `labels: seed` (our extension): the labels of the application this gateway replaces.
SEED_LABELS = ("[SSN-REDACTED]", "[CARD-REDACTED]", "[PHONE-REDACTED]", "[EMAIL-REDACTED]", "[SIN-REDACTED]")
SEED_CUSTOM_LABEL = "[REDACTED]"
# Entity names for metrics (never the values).
ENTITY_NAMES = ("SSN", "CREDIT_CARD", "PHONE_NUMBER", "EMAIL_ADDRESS", "CA_SIN")


@dataclass(frozen=True)
class Rejection:
    status: int = 403
    body: str = DEFAULT_REJECTION_BODY
    # Lower-cased (name, value) pairs; `set` replaces, `add` appends (nothing is there to replace).
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RegexGuard:
    action: str = "mask"  # "mask" | "reject"
    kinds: int = 0  # fastpath PII_* bitmask of the builtin rules
    patterns: tuple[re.Pattern[str], ...] = ()  # custom `pattern` rules, in order
    labels: tuple[str, ...] = AGENTGATEWAY_LABELS
    custom_label: str = AGENTGATEWAY_CUSTOM_LABEL
    # Which texts are checked (agentgateway default: systemPrompt, messages). Response side (our
    # extension): messages = answer text, toolInput = tool-call arguments.
    scope: tuple[str, ...] = ("messages", "systemPrompt")
    rejection: Rejection = Rejection()


@dataclass(frozen=True)
class WebhookGuard:
    """agentgateway's webhook guard: POST http://<host>/request (or /response on the response side)."""

    host: str  # "host:port"
    headers: tuple[tuple[str, Expression], ...] = ()  # extra headers, values from CEL
    forward: tuple[HeaderMatch, ...] = ()  # client request headers copied to the webhook
    fail_open: bool = False  # failureMode: failOpen (default failClosed: 503)
    path: str = "/request"  # "/response" for response guards
    scope: tuple[str, ...] = ("messages", "systemPrompt")  # unused by webhooks; keeps guards uniform
    rejection: Rejection = Rejection()


Guard = Union[RegexGuard, WebhookGuard]  # noqa: UP007


@dataclass(frozen=True)
class PromptGuard:
    request: tuple[Guard, ...] = ()
    response: tuple[Guard, ...] = ()
