"""THE table of what this gateway implements, per config section.

Keys agentgateway's schema defines at a position but that are missing here are rejected at load
with "<path>: not supported by this gateway yet" (unless trivially empty: null, [] or false), so a
config never silently loses behaviour. A later issue that implements a key adds it here and lowers
it in lower*.py. Section names are ours; the schema position comes from the caller.
"""

from __future__ import annotations

_HEADER_MODIFIERS = {"requestHeaderModifier", "responseHeaderModifier"}
_ROUTE_FIELDS = {"name", "hostnames", "matches", "policies", "backends"}
_CLIENT_AUTH = {"jwtAuth", "basicAuth", "apiKey", "authorization"}

# fmt: off
SUPPORTED: dict[str, frozenset[str]] = {
    name: frozenset(keys)
    for name, keys in {
        # Top level. `backends` = named backends referenced as `backend: /name`.
        "root": {"config", "frontendPolicies", "binds", "gateways", "routes", "llm", "backends"},
        # config: (RawConfig). Second group is accepted and kept in ProcessConfig.extra for later
        # issues (telemetry, cost, runtime tuning) to apply.
        "config": {
            "adminAddr", "statsAddr", "readinessAddr", "connectionTerminationDeadline", "backend",
            "tracing", "logging", "metrics", "modelCatalog", "standardAttributes", "histograms",
            "sensitiveHeaders", "workerThreads", "connectionMinTerminationDeadline",
            # Our extensions (cost controls, see README "Budgets and spend ledger").
            "pricing", "budgets", "ledger",
            # Our extension: shared rate-limit/budget state (README "Shared state in Redis").
            "stateBackend",
        },
        "stateBackend": {"type", "url", "keyPrefix", "timeout", "rateLimitFailureMode", "budgetFailureMode",
                         "reservationTtl"},
        "pricing": {"builtinCatalog", "unknownModel"},
        "budgets": {"users", "teams", "defaultUser", "defaultTeam", "timezone", "defaultMaxOutputTokens", "alerts",
                    "metrics"},
        "budgetMetrics": {"teams", "users", "maxSeries"},
        "budgetLimit": {"limit", "period"},
        "budgetAlerts": {"thresholds", "webhook"},
        "ledger": {"path", "url", "flushInterval", "poolSize", "maxQueue"},
        "config.backend": {"connectTimeout", "poolIdleTimeout", "poolMaxSize"},
        # trustHeaders is our extension (README "Identity").
        "standardAttributes": {"user", "group", "trustHeaders"},
        # key and maxKeys are our extension (per-key buckets, agentgateway issue #1909).
        "rateLimitSpec": {"maxTokens", "tokensPerFill", "fillInterval", "type", "key", "maxKeys"},
        # Observability (lower_telemetry.py). logging.database is not supported.
        "config.tracing": {
            "otlpEndpoint", "headers", "otlpProtocol", "fields", "randomSampling", "clientSampling", "path",
        },
        "config.logging": {"filter", "fields", "level", "format"},
        "config.metrics": {"remove", "fields"},
        "telemetryFields": {"add", "remove"},
        "metricFields": {"add"},
        "frontendPolicies": {"http", "accessLog", "tracing"},
        # lower_tracing_policy.py; `service` is reported there, `policies` is not supported.
        "frontendPolicies.tracing": {
            "host", "backend", "service", "attributes", "resources", "remove", "randomSampling",
            "clientSampling", "filter", "path", "protocol",
        },
        "frontendPolicies.accessLog": {"filter", "add", "remove"},
        "frontendPolicies.http": {"maxBufferSize", "http1MaxHeaders", "http1IdleTimeout"},
        # binds dialect
        "bind": {"port", "listeners"},
        "listener": {"name", "hostname", "protocol", "routes"},
        "route": _ROUTE_FIELDS,
        # gateways + routes dialect
        "gateway": {"port", "protocol", "listeners"},
        "gatewayListener": {"name", "hostname", "protocol"},
        "attachedRoute": _ROUTE_FIELDS | {"gateways"},
        # matches
        "match": {"path", "headers", "method", "query"},
        "pathMatch": {"exact", "pathPrefix", "regex"},
        "nameValueMatch": {"name", "value"},
        "valueMatch": {"exact", "regex"},
        # policies
        "routePolicies": _HEADER_MODIFIERS | {"cors", "timeout", "backendAuth", "backendTLS", "ai"}
        | {"localRateLimit", "retry"}
        | _CLIENT_AUTH,
        "backendPolicies": _HEADER_MODIFIERS | {"backendAuth", "backendTLS", "ai", "http", "health"},
        "backendHTTP": {"requestTimeout"},  # one attempt's limit (failover: README "Failover")
        # Failover tuning (lower_failover.py); restoreHealth/healthThreshold (health scores) are not supported.
        "retry": {"attempts", "codes", "backoff"},
        "health": {"unhealthyExpression", "eviction"},
        "healthEviction": {"duration", "consecutiveFailures"},
        "headerModifier": {"add", "set", "remove"},
        "cors": {
            "allowCredentials", "allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders", "maxAge",
        },
        "timeout": {"requestTimeout", "backendRequestTimeout"},
        "backendAuth": {"key", "aws"},
        "backendAuthAws": {"accessKeyId", "secretAccessKey", "sessionToken", "region"},
        "backendAuthKey": {"file", "value", "location"},
        "secretFile": {"file"},
        "authLocation": {"header"},
        "authHeader": {"name", "prefix"},
        "backendTLS": {"insecure", "root", "hostname"},
        "ai": {"routes", "defaults", "overrides", "modelAliases", "prompts", "promptGuard"},
        # promptGuard / llm guardrails (lower_guard.py): regex guards; `labels` is our extension.
        "promptGuard": {"streaming", "request", "response"},
        "promptGuardRequest": {"regex", "scope", "rejection", "webhook"},
        "webhookGuard": {"target", "headers", "forwardHeaderMatches", "failureMode"},
        "webhookTarget": {"host"},
        # Response `scope` (toolInput: tool-call arguments in answers) is our extension.
        "promptGuardResponse": {"regex", "rejection", "webhook", "scope"},
        "regexGuard": {"action", "rules", "labels"},
        "regexRule": {"builtin", "pattern"},
        "guardRejection": {"status", "body", "headers"},
        "guardRejectionHeaders": {"set", "add"},
        "prompts": {"prepend", "append"},
        "promptMessage": {"role", "content"},
        # backends
        "routeBackend": {"weight", "policies", "ai", "host", "backend"},
        "namedBackend": {"name", "policies", "ai", "host"},
        "aiBackend": {"name", "provider", "hostOverride", "pathOverride", "pathPrefix", "policies", "groups"},
        "aiGroup": {"providers"},
        "aiProvider": {"openAI", "anthropic", "gemini", "vertex", "bedrock", "azure"},
        "provider.openAI": {"model"},
        "provider.anthropic": {"model"},
        "provider.gemini": {"model"},
        "provider.vertex": {"model", "region", "projectId"},
        "provider.bedrock": {"model", "region", "guardrailIdentifier", "guardrailVersion"},
        "provider.azure": {"model", "resourceName", "resourceType", "apiVersion", "projectName"},
        # llm dialect
        "llm": {"port", "models", "providers", "policies", "virtualModels"},
        # llm.virtualModels (lower_virtual.py)
        "llmVirtualModel": {"name", "routing"},
        "llmVirtualRouting": {"weighted", "failover", "conditional"},
        "llmVirtualTargets": {"targets"},
        "llmVirtualTarget.weighted": {"model", "weight"},
        "llmVirtualTarget.failover": {"model", "priority"},
        "llmVirtualTarget.conditional": {"model", "when"},
        "llmPolicies": {"cors"} | {"localRateLimit"} | _CLIENT_AUTH | {"guardrails"},
        # client auth (lower_auth.py); CEL `expression` credential locations are not supported yet
        "jwtAuth": {"mode", "location", "providers", "issuer", "audiences", "jwks", "jwtValidationOptions"},
        "jwtProvider": {"issuer", "audiences", "jwks", "jwtValidationOptions"},
        "jwtValidationOptions": {"requiredClaims"},
        "fileOrUrl": {"file", "url"},
        "basicAuth": {"htpasswd", "realm", "mode", "authorizationLocation"},
        "apiKey": {"keys", "mode", "location"},
        "apiKeyEntry": {"key", "keyHash", "metadata", "allowedModels"},
        "credentialLocation": {"header", "queryParameter", "cookie"},
        "credentialHeader": {"name", "prefix"},
        "credentialName": {"name"},
        "authorization": {"rules"},
        "authRule": {"allow", "deny", "require"},
        "llmModel": {
            "name", "provider", "params", "matches", "visibility", "defaults", "overrides",
            "requestHeaders", "responseHeaders", "backendTLS", "tls", "auth", "guardrails", "health",
            "transformation",
        },
        "llmProvider": {"name", "provider", "params", "defaults"},
        "llmProviderDefaults": {
            "defaults", "overrides", "requestHeaders", "responseHeaders", "backendTLS", "tls", "auth", "health",
        },
        "llmProviderRef": {"reference"},
        "llmParams": {
            "model", "apiKey", "baseUrl", "hostOverride", "pathOverride", "pathPrefix",
            "awsRegion", "vertexRegion", "vertexProject",
            "azureResourceName", "azureResourceType", "azureApiVersion", "azureProjectName",
        },
        "llmMatch": {"headers"},
    }.items()
}
# fmt: on
