"""CEL expressions (agentgateway's expression language), via the compiled `cel` library.

Expressions are compiled once at config load (`compile_expression`); evaluation on the request
path only builds the activation, lazily, from what the request already has. The variables follow
agentgateway's names: `request` (method, path, host, headers), `apiKey` (the matched key's
metadata), `jwt` (verified claims), `llmRequest` (the parsed LLM request body).
"""

from __future__ import annotations

from typing import Any

import cel

from gateway.policies.base import Exchange


class CelError(ValueError):
    """A CEL expression failed to compile; the message says where."""


class Expression:
    __slots__ = ("source", "_program")

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self._program = cel.compile(source)
        except ValueError as exc:
            raise CelError(str(exc).splitlines()[0]) from None

    def evaluate(self, ex: Exchange) -> Any:
        """The value, or None when it cannot be computed (a missing header or claim, a type error).

        agentgateway treats an expression that fails as having no value; callers decide what no
        value means (no key, condition false, ...).
        """
        try:
            return self._program.execute(activation(ex))
        except Exception:  # noqa: BLE001 - the library raises KeyError/TypeError/ValueError/RuntimeError
            return None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(source: str) -> Expression:
    return Expression(source)


def activation(ex: Exchange) -> dict[str, Any]:
    req = ex.req
    headers: dict[str, str] = {}
    for k, v in req.headers:
        name = k.decode("latin-1")
        if name not in headers:
            headers[name] = v.decode("latin-1")
    return {
        "request": {
            "method": req.method,
            "path": req.path,
            "host": headers.get("host", ""),
            "headers": headers,
        },
        "apiKey": ex.api_key or {},
        "jwt": ex.jwt or {},
        "llmRequest": ex.body or {},
    }
