"""The one interface every request policy implements, and the per-request context it sees.

A policy is built once per route at startup (it may hold state, e.g. token buckets) and is
called at three points of every request on that route:

- `on_request(ex)`: before the upstream call. Raise a `GatewayError` to refuse the request (its
  `headers` go on the error response); edit `ex.body` and set `ex.body_changed` to rewrite an
  LLM request; append to `ex.response_headers` to add headers to the eventual response.
- `response_filter(ex)`: after the upstream answered (2xx only), optionally return a
  `BodyFilter` that rewrites the response body as it streams (e.g. masking).
- `on_complete(ex)`: exactly once at the end, whatever happened (success, upstream error,
  client disconnect, rejection by a later policy). Settle reservations and counters here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gateway.config.model import AIBackend, GatewayConfig, Listener, Route, RouteType
from gateway.errors import ClientFormat
from gateway.server.types import Headers, Request

# Exchange.policy_state key: the policies whose on_request started (they get on_complete).
REACHED = "chain.reached"


class BodyFilter(Protocol):
    def feed(self, chunk: bytes) -> bytes:
        """Bytes to send now for this upstream chunk (may hold back a bounded tail)."""
        ...

    def flush(self) -> bytes:
        """Whatever was held back, at the end of the body."""
        ...


class Exchange:
    """Everything known about one request as it moves through the pipeline."""

    __slots__ = (
        "req", "started_at", "listener", "route", "backend_name", "protocol", "status", "reason", "fmt",
        "route_type", "body", "body_changed", "backend", "provider", "request_model", "model",
        "response_model", "stream", "usage", "user", "team", "response_headers", "disconnected",
        "policy_state", "api_key", "jwt", "translation",
        "error", "endpoint", "first_chunk_at", "span", "client_span",
    )

    def __init__(self, req: Request, started_at: float) -> None:
        self.req = req
        self.started_at = started_at  # loop.time()
        self.listener: Listener | None = None
        self.route: Route | None = None
        self.backend_name = "unknown"
        self.protocol = "http"  # "llm" on AI backends
        self.status = 0
        self.reason = "Upstream"
        self.fmt = ClientFormat.PLAIN
        # LLM requests only:
        self.route_type: RouteType | None = None
        self.body: dict[str, Any] | None = None  # parsed request JSON
        self.body_changed = False
        self.backend: AIBackend | None = None
        self.provider = "unknown"  # gen_ai.provider.name
        self.request_model: str | None = None  # what the client asked for
        self.model: str | None = None  # what is sent upstream
        self.response_model: str | None = None
        self.stream = False
        self.usage: Any = None  # fastpath.UsageAccumulator once the upstream answered
        # Identity, set by authentication policies (or trusted headers when configured).
        self.user: str | None = None
        self.team: str | None = None
        self.api_key: dict[str, Any] | None = None  # metadata of the client's gateway API key (CEL `apiKey`)
        self.jwt: dict[str, Any] | None = None  # verified JWT claims (CEL `jwt`)
        self.translation: Any = None  # proxy.translation.Translation when client and provider formats differ
        self.response_headers: Headers = []  # added to the response (success or error)
        self.disconnected = False  # the client went away before the response finished
        self.policy_state: dict[str, Any] = {}  # per-policy scratch (reservations, ...)
        # Telemetry (gateway/telemetry): the refusal message, the upstream peer (PeerKey) of the
        # last attempt, loop.time() of the first streamed chunk (TTFT), and the OpenTelemetry spans
        # (None unless this request is traced).
        self.error: str | None = None
        self.endpoint: Any = None
        self.first_chunk_at = 0.0
        self.span: Any = None
        self.client_span: Any = None


class Services:
    """Process-wide things policies may need, created once at startup (and closed on exit)."""

    def __init__(self, config: GatewayConfig, metrics: Any) -> None:
        self.config = config
        self.metrics = metrics  # telemetry.metrics.Metrics
        self._shared: dict[str, Any] = {}

    def shared(self, key: str, factory: Callable[[], Any]) -> Any:
        """One process-wide object per key, created on first use (e.g. the spend ledger, shared by
        every route's policy); if it has async start()/close(), they run with ours."""
        obj = self._shared.get(key)
        if obj is None:
            obj = self._shared[key] = factory()
        return obj

    async def start(self) -> None:
        """Open what needs the running loop (stores, background writers)."""
        for obj in self._shared.values():
            if hasattr(obj, "start"):
                await obj.start()

    async def close(self) -> None:
        """Flush and close; called once during drain, after in-flight requests finished."""
        for obj in reversed(list(self._shared.values())):
            if hasattr(obj, "close"):
                await obj.close()


class Policy:
    """Base class with no-op hooks; subclasses override what they need."""

    name = "policy"
    # False: runs on LLM routes before the backend is chosen (auth, identity, authorization, rate
    # limits), so an unauthenticated client learns nothing about models. True: needs the final
    # model and body after agentgateway's model rules (guardrails, budgets).
    after_model_rules = False
    # True: on_request only rewrites the body (no reservations, no counters), so a failover to
    # another provider runs it again on that provider's freshly prepared body (proxy/failover.py).
    per_attempt = False

    async def on_request(self, ex: Exchange) -> None:
        return None

    def response_filter(self, ex: Exchange) -> BodyFilter | None:
        return None

    async def on_response_body(self, ex: Exchange, body: bytes) -> bytes:
        """A complete non-streamed 2xx LLM response body (client format, after every BodyFilter),
        for checks that must await (webhook guards); return it rewritten, or raise a GatewayError
        to answer with that error instead."""
        return body

    def on_complete(self, ex: Exchange) -> None:
        return None
