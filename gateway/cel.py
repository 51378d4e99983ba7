"""CEL expressions (agentgateway's expression language), via the compiled `cel` library.

Expressions are compiled once at config load (`compile_expression`); evaluation on the request
path only builds the activation, lazily, from what the request already has. The variables follow
agentgateway's names: `request` (method, path, host, headers), `apiKey` (the matched key's
metadata), `jwt` (verified claims), `llmRequest` (the parsed LLM request body).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.cel_macros import expand_macros, functions_used

if TYPE_CHECKING:  # the config loader imports this module; a runtime import would be circular
    from gateway.policies.base import Exchange


class CelError(ValueError):
    """A CEL expression failed to compile; the message says where."""


class Expression:
    __slots__ = ("source", "_program", "_variables", "_functions", "_context")

    def __init__(self, source: str) -> None:
        # Imported by the first expression: the `cel` package's __init__ also loads its command line
        # (prompt_toolkit, rich, typer: ~17 MB of RSS), which configs without expressions should not pay.
        import cel

        self.source = source
        self._context = cel.Context
        try:
            # agentgateway's default()/stripPrefix() etc. (cel_macros.py); the source is kept as written.
            self._program = cel.compile(expand_macros(source))
        except ValueError as exc:
            raise CelError(str(exc).splitlines()[0]) from None
        self._functions = functions_used(source)
        # The library converts every activation value on each call (a 200 KB `llmRequest` costs
        # ~130 us even when unused), so only the variables the expression references are built.
        self._variables: frozenset[str] = frozenset(self._program.variables())

    def evaluate(self, ex: Exchange) -> Any:
        """The value, or None when it cannot be computed (a missing header or claim, a type error).

        agentgateway treats an expression that fails as having no value; callers decide what no
        value means (no key, condition false, ...).
        """
        try:
            return self._execute(activation(ex, self._variables))
        except Exception:  # noqa: BLE001 - the library raises KeyError/TypeError/ValueError/RuntimeError
            return None

    def evaluate_with(self, variables: dict[str, Any]) -> Any:
        """The value over explicit variables (e.g. `response` for health checks), or None."""
        try:
            return self._execute(variables)
        except Exception:  # noqa: BLE001 - as in evaluate()
            return None

    def _execute(self, variables: dict[str, Any]) -> Any:
        if not self._functions:  # the common case: no Context object per call
            return self._program.execute(variables)
        return self._program.execute(self._context(variables=variables, functions=self._functions))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


ALL_VARIABLES = frozenset({"request", "apiKey", "jwt", "llmRequest"})


def compile_expression(source: str) -> Expression:
    return Expression(source)


def activation(ex: Exchange, variables: frozenset[str] = ALL_VARIABLES) -> dict[str, Any]:
    """The CEL variables of `ex`; only those in `variables` (the rest cost time, not meaning)."""
    out: dict[str, Any] = {}
    if "request" in variables:
        out["request"] = _request(ex)
    if "apiKey" in variables:
        out["apiKey"] = ex.api_key or {}
    if "jwt" in variables:
        out["jwt"] = ex.jwt or {}
    if "llmRequest" in variables:
        out["llmRequest"] = ex.body or {}
    return out


def _request(ex: Exchange) -> dict[str, Any]:
    req = ex.req
    headers: dict[str, str] = {}
    for k, v in req.headers:
        name = k.decode("latin-1")
        if name not in headers:
            headers[name] = v.decode("latin-1")
    return {
        "method": req.method,
        "path": req.path,
        "host": headers.get("host", ""),
        "headers": headers,
    }
