"""Crossing formats for one request: OpenAI chat client <-> Anthropic messages upstream.

The pure translators live in providers/translate; this is the per-request glue the pipeline
holds in `Exchange.translation`: the request body out, and the response body, error body or SSE
stream back, so the client always sees its own API's shapes.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.model import RouteType
from gateway.policies.base import BodyFilter
from gateway.providers.translate import (
    anthropic_to_openai_filter,
    completions_to_messages,
    messages_to_completions,
    openai_to_anthropic_filter,
)


class Translation:
    __slots__ = ("client", "upstream", "_module", "_include_usage")

    def __init__(self, client: RouteType, upstream: RouteType) -> None:
        self.client = client
        self.upstream = upstream
        self._module: Any = completions_to_messages if client is RouteType.COMPLETIONS else messages_to_completions
        self._include_usage = False

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        options = body.get("stream_options")
        self._include_usage = isinstance(options, dict) and options.get("include_usage") is True
        translated: dict[str, Any] = self._module.translate_request(body)
        return translated

    def response_body(self, body: bytes) -> bytes:
        """A 2xx body in the client's format; an unparseable one is passed as is (502 is worse)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(parsed, dict):
            return body
        return orjson.dumps(self._module.translate_response(parsed))

    def error_body(self, body: bytes, status: int) -> bytes:
        return orjson.dumps(self._module.translate_error(body, status))

    def stream_filter(self) -> BodyFilter:
        if self.client is RouteType.COMPLETIONS:
            return anthropic_to_openai_filter(include_usage=self._include_usage)
        return openai_to_anthropic_filter()


def translation_for(client: RouteType, upstream: RouteType) -> Translation | None:
    """None when no translation is needed (or none exists: the caller refuses the request)."""
    if client is upstream or client not in (RouteType.COMPLETIONS, RouteType.MESSAGES):
        return None
    if upstream not in (RouteType.COMPLETIONS, RouteType.MESSAGES):
        return None
    return Translation(client, upstream)
