"""Provider kind (as lowered from config) -> ProviderSpec, resolved per configured backend."""

from __future__ import annotations

from gateway.config.model import AIBackend
from gateway.providers.anthropic import ANTHROPIC
from gateway.providers.azure import AZURE
from gateway.providers.base import ProviderSpec
from gateway.providers.bedrock import BEDROCK
from gateway.providers.gemini import GEMINI
from gateway.providers.openai import OPENAI
from gateway.providers.vertex import VERTEX

PROVIDERS: dict[str, ProviderSpec] = {
    "openai": OPENAI,
    "anthropic": ANTHROPIC,
    "gemini": GEMINI,
    "azure": AZURE,
    "vertex": VERTEX,
    "bedrock": BEDROCK,
}
# Backends are immutable and few (one config's worth), so their resolved specs are cached by identity;
# the backend is kept in the value so a reused id() after a reload cannot return a stale spec.
_RESOLVED: dict[int, tuple[AIBackend, ProviderSpec]] = {}
_MAX_RESOLVED = 4096


def provider_spec(kind: str) -> ProviderSpec | None:
    return PROVIDERS.get(kind)


def spec_for_backend(backend: AIBackend) -> ProviderSpec | None:
    hit = _RESOLVED.get(id(backend))
    if hit is not None and hit[0] is backend:
        return hit[1]
    spec = PROVIDERS.get(backend.provider.kind)
    if spec is None:
        return None
    resolved = spec.for_backend(backend)
    if len(_RESOLVED) >= _MAX_RESOLVED:
        _RESOLVED.clear()
    _RESOLVED[id(backend)] = (backend, resolved)
    return resolved
