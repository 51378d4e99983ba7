"""THE table of what this gateway implements, per config section.

Keys agentgateway's schema defines at a position but that are missing here are rejected at load
with "<path>: not supported by this gateway yet" (unless trivially empty: null, [] or false), so a
config never silently loses behaviour. A later issue that implements a key adds it here and lowers
it in lower*.py. Section names are ours; the schema position comes from the caller.
"""

from __future__ import annotations

_HEADER_MODIFIERS = {"requestHeaderModifier", "responseHeaderModifier"}
_ROUTE_FIELDS = {"name", "hostnames", "matches", "policies", "backends"}

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
        },
        "config.backend": {"connectTimeout", "poolIdleTimeout", "poolMaxSize"},
        "frontendPolicies": {"http"},
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
        "routePolicies": _HEADER_MODIFIERS | {"cors", "timeout", "backendAuth", "backendTLS", "ai"},
        "backendPolicies": _HEADER_MODIFIERS | {"backendAuth", "backendTLS", "ai"},
        "headerModifier": {"add", "set", "remove"},
        "cors": {
            "allowCredentials", "allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders", "maxAge",
        },
        "timeout": {"requestTimeout", "backendRequestTimeout"},
        "backendAuth": {"key"},
        "backendAuthKey": {"file", "value", "location"},
        "secretFile": {"file"},
        "authLocation": {"header"},
        "authHeader": {"name", "prefix"},
        "backendTLS": {"insecure", "root", "hostname"},
        "ai": {"routes", "defaults", "overrides", "modelAliases", "prompts"},
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
        "llm": {"port", "models", "providers", "policies"},
        "llmPolicies": {"cors"},
        "llmModel": {
            "name", "provider", "params", "matches", "visibility", "defaults", "overrides",
            "requestHeaders", "responseHeaders", "backendTLS", "tls", "auth",
        },
        "llmProvider": {"name", "provider", "params", "defaults"},
        "llmProviderDefaults": {
            "defaults", "overrides", "requestHeaders", "responseHeaders", "backendTLS", "tls", "auth",
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
