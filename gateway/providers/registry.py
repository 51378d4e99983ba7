"""Provider kind (as lowered from config) -> ProviderSpec."""

from __future__ import annotations

from gateway.providers.anthropic import ANTHROPIC
from gateway.providers.base import ProviderSpec
from gateway.providers.gemini import GEMINI
from gateway.providers.openai import OPENAI

PROVIDERS: dict[str, ProviderSpec] = {
    "openai": OPENAI,
    "anthropic": ANTHROPIC,
    "gemini": GEMINI,
}


def provider_spec(kind: str) -> ProviderSpec | None:
    return PROVIDERS.get(kind)
