"""What the gateway needs to know about an LLM provider: where it lives and how it authenticates.

Provider modules are thin (host, paths, auth header, native format); translation between formats
lives elsewhere as pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.config.model import RouteType
from gateway.server.types import Headers

# Upstream path suffixes per route type, appended to a provider's (or pathPrefix's) base path.
PATH_SUFFIXES: dict[RouteType, str] = {
    RouteType.COMPLETIONS: "/chat/completions",
    RouteType.MESSAGES: "/messages",
    RouteType.ANTHROPIC_TOKEN_COUNT: "/messages/count_tokens",
    RouteType.RESPONSES: "/responses",
    RouteType.EMBEDDINGS: "/embeddings",
    RouteType.MODELS: "/models",
}


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # gen_ai.provider.name value ("openai", "anthropic", "gcp.gemini", ...)
    default_host: str
    base_path: str  # e.g. "/v1"; the route's suffix is appended
    native_format: RouteType  # the chat format this provider speaks
    auth_header: bytes  # where backendAuth.key goes
    auth_prefix: bytes  # e.g. b"Bearer "
    # Headers added when the client did not send them (e.g. anthropic-version).
    default_headers: tuple[tuple[bytes, bytes], ...] = field(default=())
    default_port: int = 443

    def auth_headers(self, key: str) -> Headers:
        return [(self.auth_header, self.auth_prefix + key.encode())]

    def upstream_path(self, route_type: RouteType, prefix: str | None) -> str:
        base = self.base_path if prefix is None else prefix.rstrip("/")
        return base + PATH_SUFFIXES.get(route_type, PATH_SUFFIXES[self.native_format])
