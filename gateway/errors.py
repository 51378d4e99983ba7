"""Runtime errors and the one place that renders them into responses.

Each error knows its status, its agentgateway reason and how to say itself to a client: plain text
for non-LLM routes (agentgateway's bodies), OpenAI's or Anthropic's error JSON on LLM routes.
Messages name the route/backend/model involved and never contain secrets.
"""

from __future__ import annotations

import enum

import orjson

from gateway.server.types import Headers


class ClientFormat(enum.IntEnum):
    """The API shape the client speaks, which decides how errors are rendered."""

    PLAIN = 0
    OPENAI = 1
    ANTHROPIC = 2


# OpenAI error `type` and Anthropic error `type` for a status.
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}

_PLAIN = [(b"content-type", b"text/plain")]
_JSON = [(b"content-type", b"application/json")]


class GatewayError(Exception):
    """An error answered by the gateway itself (not an upstream response passed through)."""

    status = 500
    reason = "Internal"  # agentgateway's ProxyResponseReason, for metrics and logs
    code = "internal_error"  # OpenAI-style machine code
    openai_type: str | None = None  # overrides the status's OpenAI error `type` (e.g. insufficient_quota)

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.headers: Headers = []


class RouteNotFound(GatewayError):
    status = 404
    reason = "NotFound"
    code = "route_not_found"


class InvalidRequest(GatewayError):
    status = 400
    reason = "InvalidRequest"
    code = "invalid_request_body"


class ModelNotFound(GatewayError):
    status = 404
    reason = "InvalidRequest"
    code = "model_not_found"


class BodyTooLarge(GatewayError):
    status = 413
    reason = "InvalidRequest"
    code = "request_body_too_large"


class UpstreamFailed(GatewayError):
    status = 503
    reason = "UpstreamFailure"
    code = "upstream_call_failed"


class UpstreamTimeout(GatewayError):
    status = 504
    reason = "Timeout"
    code = "upstream_call_timeout"


class RequestTimeout(GatewayError):
    status = 504
    reason = "Timeout"
    code = "request_timeout"


class BadUpstreamResponse(GatewayError):
    status = 502
    reason = "Upstream"
    code = "invalid_upstream_response"


class AuthenticationFailed(GatewayError):
    """401 from jwtAuth (agentgateway body `authentication failure: ...`)."""

    status = 401
    reason = "JwtAuth"
    code = "authentication_failed"


class ApiKeyAuthFailed(AuthenticationFailed):
    reason = "APIKeyAuth"


class BasicAuthFailed(AuthenticationFailed):
    reason = "BasicAuth"


class AuthorizationFailed(GatewayError):
    """403 from `authorization` rules or an API key's `allowedModels`."""

    status = 403
    reason = "Authorization"
    code = "authorization_failed"


class RateLimited(GatewayError):
    """429 from localRateLimit (agentgateway body `rate limit exceeded` + x-ratelimit-* headers)."""

    status = 429
    reason = "RateLimit"
    code = "rate_limit_exceeded"


class BudgetExhausted(GatewayError):
    """429 from the budget policy: the user's or team's spend limit for the period is used up."""

    status = 429
    reason = "Budget"
    code = "insufficient_quota"
    openai_type = "insufficient_quota"  # what OpenAI itself answers when an account is out of credit


class StateBackendUnavailable(GatewayError):
    """503: the shared state backend (Redis) did not answer and its failure mode is failClosed."""

    status = 503
    reason = "StateBackend"
    code = "state_backend_unavailable"


class UnpricedModel(GatewayError):
    """400: `pricing.unknownModel: reject` and the model has no price in the catalog."""

    status = 400
    reason = "InvalidRequest"
    code = "model_not_priced"


class GuardRejected(GatewayError):
    """A promptGuard `reject`: answered with the guard's own status, body and headers, verbatim in
    every client format (agentgateway sends the configured body as is; no content-type unless set)."""

    status = 403
    reason = "Guardrail"
    code = "guardrail_rejected"

    def __init__(self, status: int, body: bytes, headers: Headers) -> None:
        super().__init__("request rejected by a guardrail", status=status)
        self.body = body
        self.headers = list(headers)


class NotImplementedYet(GatewayError):
    status = 501
    reason = "Internal"
    code = "not_implemented"


def render(err: GatewayError, fmt: ClientFormat) -> tuple[int, Headers, bytes]:
    """Status, headers and body for `err` in the client's own API shape."""
    headers = list(err.headers)
    if isinstance(err, GuardRejected):
        return err.status, headers, err.body
    if fmt is ClientFormat.OPENAI:
        err_type = err.openai_type or _OPENAI_TYPES.get(
            err.status, "server_error" if err.status >= 500 else "invalid_request_error")
        body = orjson.dumps({"error": {"message": err.message, "type": err_type, "code": err.code}})
        return err.status, _JSON + headers, body
    if fmt is ClientFormat.ANTHROPIC:
        err_type = _ANTHROPIC_TYPES.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error")
        body = orjson.dumps({"type": "error", "error": {"type": err_type, "message": err.message}})
        return err.status, _JSON + headers, body
    return err.status, _PLAIN + headers, err.message.encode()
