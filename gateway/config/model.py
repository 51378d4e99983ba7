"""The lowered, immutable runtime config (the IR).

The loader turns agentgateway's YAML (binds, gateways/routes or llm: dialects) into these
objects once at startup. Nothing on the request path reads YAML or dicts: it reads these.
Field names are snake_case versions of agentgateway's camelCase keys.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from .model_cost import CostConfig
from .model_state import StateBackend
from .model_telemetry import TelemetryConfig

if TYPE_CHECKING:  # model_auth imports Secret from here, so annotations only
    from .model_auth import ApiKeyAuth, Authorization, BasicAuth, JwtAuth
    from .model_guard import PromptGuard


class Secret:
    """A credential from config. Its repr never shows the value (logs, dumps, errors)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class RouteType(str, enum.Enum):
    """agentgateway's LLM route types (policies.ai.routes values)."""

    COMPLETIONS = "completions"
    MESSAGES = "messages"
    MODELS = "models"
    PASSTHROUGH = "passthrough"
    DETECT = "detect"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"
    REALTIME = "realtime"
    ANTHROPIC_TOKEN_COUNT = "anthropicTokenCount"
    GENERATE_CONTENT = "generateContent"
    GEMINI_COUNT_TOKENS = "geminiCountTokens"
    RERANK = "rerank"


# Path-suffix table used when no `ai.routes` map is configured (llm: mode's table; see README
# "differences": binds mode uses it too, falling back to completions).
DEFAULT_ROUTE_TABLE: tuple[tuple[str, RouteType], ...] = (
    ("/v1/messages/count_tokens", RouteType.ANTHROPIC_TOKEN_COUNT),
    ("/v1/chat/completions", RouteType.COMPLETIONS),
    ("/v1/messages", RouteType.MESSAGES),
    ("/v1/responses", RouteType.RESPONSES),
    ("/v1/embeddings", RouteType.EMBEDDINGS),
    ("/v1/models", RouteType.MODELS),
    ("/models", RouteType.MODELS),
)


# ---------------------------------------------------------------------------------------------
# Process-wide settings (`config:` and `frontendPolicies:`)


@dataclass(frozen=True)
class ProcessConfig:
    # None means "off" (agentgateway accepts `off` for adminAddr).
    admin_addr: HostPort | None = HostPort("127.0.0.1", 15000)
    stats_addr: HostPort | None = HostPort("0.0.0.0", 15020)
    readiness_addr: HostPort | None = HostPort("0.0.0.0", 15021)
    connection_termination_deadline: float = 5.0  # seconds
    connect_timeout: float = 10.0  # config.backend.connectTimeout
    pool_idle_timeout: float = 90.0  # config.backend.poolIdleTimeout
    pool_max_size: int | None = None  # config.backend.poolMaxSize
    # Accepted `config:` keys applied by later issues (tracing, logging, metrics, modelCatalog, ...):
    # (camelCase key, plain YAML data) in file order.
    extra: tuple[tuple[str, Any], ...] = ()
    # config.standardAttributes: how the request's user and group (team) are derived.
    standard_attributes: StandardAttributes | None = None
    # config.modelCatalog, config.pricing, config.budgets, config.ledger (model_cost.py).
    cost: CostConfig = field(default_factory=CostConfig)
    # config.tracing, config.logging, config.metrics (model_telemetry.py).
    telemetry: TelemetryConfig = field(default_factory=TelemetryConfig)
    # config.stateBackend (model_state.py); None = memory, one process.
    state_backend: StateBackend | None = None


@dataclass(frozen=True)
class StandardAttributes:
    """config.standardAttributes. Expressions are gateway.cel.Expression, compiled at load."""

    user: Any = None
    group: Any = None
    # Our extension: without an expression, take the user from `x-user-id` and the group from
    # `x-team-id`. Only safe behind an authenticating proxy that sets (and strips) these headers.
    trust_headers: bool = False


@dataclass(frozen=True)
class FrontendHTTP:
    """frontendPolicies.http."""

    max_buffer_size: int = 2 * 1024 * 1024
    http1_max_headers: int = 100
    http1_idle_timeout: float = 600.0  # 10m, agentgateway's default
    # Not an agentgateway key: bound on the time to receive a complete request head (slowloris).
    header_read_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024


@dataclass(frozen=True)
class FrontendPolicies:
    http: FrontendHTTP = field(default_factory=FrontendHTTP)


# ---------------------------------------------------------------------------------------------
# Policies


@dataclass(frozen=True)
class HeaderModifier:
    """requestHeaderModifier / responseHeaderModifier. Names are lower-case."""

    add: tuple[tuple[str, str], ...] = ()
    set: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cors:
    allow_credentials: bool = False
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()  # "*" allowed; wildcard subdomains "https://*.x.com"
    expose_headers: tuple[str, ...] = ()
    max_age: float | None = None  # seconds


@dataclass(frozen=True)
class Retry:
    """Route `retry` (LLM routes): total attempts, which statuses retry, the delay between tries."""

    attempts: int = 1  # total, the first included
    codes: frozenset[int] = frozenset()
    backoff: float | None = None  # seconds


@dataclass(frozen=True)
class Health:
    """Backend `health`: what counts as unhealthy and how long an unhealthy backend is ejected."""

    unhealthy: Any = None  # compiled CEL over `response.code`; None = 5xx, 429 or no response
    eviction_duration: float | None = None  # first cool-down (doubles per consecutive failure)
    consecutive_failures: int = 1


@dataclass(frozen=True)
class Timeout:
    request_timeout: float | None = None  # seconds, whole downstream request+response
    backend_request_timeout: float | None = None  # seconds, one upstream call


@dataclass(frozen=True)
class AwsAuth:
    """backendAuth.aws: SigV4 signing for Bedrock backends; no keys = the AWS_* environment variables."""

    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    region: str | None = None


@dataclass(frozen=True)
class BackendAuth:
    """backendAuth.key. `header`/`prefix` None means "the provider's way" for AI backends
    (Anthropic x-api-key, OpenAI Authorization: Bearer) and Authorization: Bearer otherwise.
    With `aws` (and no key) `key` is empty and requests are SigV4-signed instead."""

    key: Secret
    header: str | None = None
    prefix: str | None = None
    aws: AwsAuth | None = None


@dataclass(frozen=True)
class BackendTLS:
    insecure: bool = False  # skip verification (backendTLS.insecure)
    root: str | None = None  # CA bundle path
    sni: str | None = None


@dataclass(frozen=True)
class PromptMessage:
    role: str
    content: str


@dataclass(frozen=True)
class AIPolicy:
    """policies.ai (route or backend level)."""

    # (path suffix, type) longest suffix first; ("*", type) last if present. Empty = default table.
    routes: tuple[tuple[str, RouteType], ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()  # body fields set when absent
    overrides: tuple[tuple[str, Any], ...] = ()  # body fields always set
    # (pattern, target): exact names first, then wildcards, longer patterns first.
    model_aliases: tuple[tuple[str, str], ...] = ()
    prompts_prepend: tuple[PromptMessage, ...] = ()
    prompts_append: tuple[PromptMessage, ...] = ()
    prompt_guard: PromptGuard | None = None  # promptGuard (model_guard.py, lower_guard.py)


class RateLimitType(str, enum.Enum):
    REQUESTS = "requests"
    TOKENS = "tokens"


@dataclass(frozen=True)
class RateLimit:
    """One localRateLimit entry (a token bucket; agentgateway RateLimitSpec)."""

    max_tokens: int
    tokens_per_fill: int
    fill_interval: float  # seconds
    type: RateLimitType = RateLimitType.REQUESTS
    # Our extension (agentgateway issue #1909): a gateway.cel.Expression; one bucket per value.
    key: Any = None
    max_keys: int = 10000  # bound on distinct key buckets (least recently used evicted first)


@dataclass(frozen=True)
class Policies:
    """Route-level (and llm.policies) policies this gateway implements.

    Later issues add fields here (local_rate_limit, prompt_guard, ...); a key agentgateway defines
    that has no field here is rejected at load with "not supported by this gateway yet".
    """

    request_header_modifier: HeaderModifier | None = None
    response_header_modifier: HeaderModifier | None = None
    cors: Cors | None = None
    timeout: Timeout | None = None
    retry: Retry | None = None  # route `retry` (proxy/failover.py)
    health: Health | None = None  # backend `health` (proxy/failover.py)
    backend_auth: BackendAuth | None = None
    backend_tls: BackendTLS | None = None
    ai: AIPolicy | None = None
    local_rate_limit: tuple[RateLimit, ...] = ()
    # Client authentication / authorization (model_auth.py, lower_auth.py).
    jwt_auth: JwtAuth | None = None
    basic_auth: BasicAuth | None = None
    api_key: ApiKeyAuth | None = None
    authorization: Authorization | None = None


# ---------------------------------------------------------------------------------------------
# Backends


@dataclass(frozen=True)
class AIProvider:
    # Lower-case provider id: "openai" | "anthropic" | "gemini" | "vertex" | "bedrock" | "azure" | ...
    kind: str
    model: str | None = None  # replaces the client's model when set
    extra: tuple[tuple[str, Any], ...] = ()  # provider-specific keys (region, resourceName, ...)


@dataclass(frozen=True)
class AIBackend:
    name: str
    provider: AIProvider
    host_override: HostPort | None = None
    path_override: str | None = None
    path_prefix: str | None = None
    # None: TLS to the provider's default host, plaintext to a hostOverride (agentgateway rule);
    # backendTLS or an https baseUrl turn it on.
    tls: BackendTLS | None = None
    policies: Policies = field(default_factory=Policies)


@dataclass(frozen=True)
class AIGroups:
    """ai.groups: priority tiers of providers (failover comes with the routing issue)."""

    groups: tuple[tuple[AIBackend, ...], ...]


@dataclass(frozen=True)
class HostBackend:
    """`host: "addr:port"` plain HTTP backend."""

    target: HostPort
    tls: BackendTLS | None = None
    policies: Policies = field(default_factory=Policies)


@dataclass(frozen=True)
class LLMModel:
    """One entry of llm.models: a client-model pattern and the backend that serves it."""

    pattern: str  # exact, "*", "prefix*" or "*suffix"
    backend: AIBackend
    header_matches: tuple[HeaderMatch, ...] = ()
    internal: bool = False  # visibility: internal -- reachable only through virtualModels
    # transformation: body field -> compiled CEL over llmRequest, set when this model serves a request
    transformation: tuple[tuple[str, Any], ...] = ()

    def matches(self, model: str) -> bool:
        p = self.pattern
        if "*" not in p:
            return p == model
        head, _, tail = p.partition("*")
        return len(model) >= len(head) + len(tail) and model.startswith(head) and model.endswith(tail)


@dataclass(frozen=True)
class ModelRouter:
    """The llm: dialect: choose the backend by the client's model name."""

    models: tuple[LLMModel, ...]  # most specific first (non-* char count, then file order)
    virtual: tuple[VirtualModel, ...] = ()  # llm.virtualModels, checked first by exact name


@dataclass(frozen=True)
class VirtualTarget:
    """One target of a virtual model: an llm.models name (wildcards resolve as for clients)."""

    model: str
    weight: int = 1  # weighted
    priority: int = 0  # failover: lower first, equal = one tier
    when: Any = None  # conditional: a compiled gateway.cel.Expression; None = the fallback


@dataclass(frozen=True)
class VirtualModel:
    name: str
    kind: str  # "weighted" | "failover" | "conditional"
    targets: tuple[VirtualTarget, ...]


BackendTarget = Union[AIBackend, AIGroups, HostBackend, ModelRouter]  # noqa: UP007


@dataclass(frozen=True)
class RouteBackend:
    target: BackendTarget
    weight: int = 1
    weight_set: bool = False  # an explicit `weight:` (none on any backend = list order is priority)


# ---------------------------------------------------------------------------------------------
# Routes, listeners, binds


class PathMatchKind(str, enum.Enum):
    EXACT = "exact"
    PREFIX = "pathPrefix"
    REGEX = "regex"


@dataclass(frozen=True)
class PathMatch:
    kind: PathMatchKind
    value: str
    regex: re.Pattern[str] | None = None  # compiled at load for REGEX


@dataclass(frozen=True)
class HeaderMatch:
    name: str  # lower-case
    exact: str | None = None
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class QueryMatch:
    name: str
    exact: str | None = None
    regex: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RouteMatch:
    path: PathMatch = PathMatch(PathMatchKind.PREFIX, "/")
    method: str | None = None
    headers: tuple[HeaderMatch, ...] = ()
    query: tuple[QueryMatch, ...] = ()


@dataclass(frozen=True)
class Route:
    name: str | None
    hostnames: tuple[str, ...] = ()
    matches: tuple[RouteMatch, ...] = (RouteMatch(),)
    policies: Policies = field(default_factory=Policies)
    backends: tuple[RouteBackend, ...] = ()


@dataclass(frozen=True)
class Listener:
    name: str | None
    hostname: str | None = None
    protocol: str = "HTTP"
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class Bind:
    port: int
    listeners: tuple[Listener, ...]
    address: str = "0.0.0.0"
    gateway: str | None = None  # the `gateways:` entry it came from: the `gateway` metric label


@dataclass(frozen=True)
class GatewayConfig:
    process: ProcessConfig
    frontend: FrontendPolicies
    binds: tuple[Bind, ...]
    source_name: str = "config.yaml"
