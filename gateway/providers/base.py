"""What the gateway needs to know about an LLM provider: where it lives and how it authenticates.

Provider modules are thin (host, paths, auth header, native format); translation between formats
lives elsewhere as pure functions. Providers whose URL depends on the configured backend (Azure
resource, Vertex project/region, Bedrock region) subclass ProviderSpec and resolve themselves per
backend in `for_backend`; the per-request hooks below default to "nothing to do".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.config.model import AIBackend, BackendAuth, RouteType
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
    # agentgateway keeps the client's path when only hostOverride is set. Providers whose URL carries
    # the deployment, model or region (Azure, Vertex, Bedrock) have no client path worth keeping.
    keeps_client_path: bool = True
    # True when `encode_request` changes the body, so it is always re-serialized.
    rewrites_body: bool = False

    def auth_headers(self, key: str) -> Headers:
        return [(self.auth_header, self.auth_prefix + key.encode())]

    def upstream_path(self, route_type: RouteType, prefix: str | None) -> str:
        base = self.base_path if prefix is None else prefix.rstrip("/")
        return base + PATH_SUFFIXES.get(route_type, PATH_SUFFIXES[self.native_format])

    # -- per-backend and per-request hooks -------------------------------------------------------

    def for_backend(self, backend: AIBackend) -> ProviderSpec:
        """This provider resolved for one configured backend (region, resource, model)."""
        return self

    def request_path(self, route_type: RouteType, prefix: str | None, model: str | None, stream: bool) -> str:
        """The upstream path (and query) for a request already in `route_type`'s format."""
        return self.upstream_path(route_type, prefix)

    def encode_request(self, body: dict[str, Any], model: str | None, stream: bool) -> dict[str, Any]:
        """The provider's wire body, after the gateway's policies saw the body in `native_format`."""
        return body

    def sign(self, headers: Headers, method: str, url: str, payload: bytes, auth: BackendAuth | None) -> Headers:
        """Request signing that must see the final URL and body (SigV4); runs after every header edit."""
        return headers

    def wrap_response(self, up: Any, stream: bool, model: str | None) -> Any:
        """The upstream response as the gateway reads it, in `native_format` (Bedrock decodes here)."""
        return up


def extra(backend: AIBackend, key: str) -> str | None:
    """A provider-specific config value (region, resourceName, ...) as the loader lowered it."""
    for k, v in backend.provider.extra:
        if k == key:
            return v if isinstance(v, str) else str(v)
    return None
