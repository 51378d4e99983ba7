"""A response `BodyFilter` (feed(bytes)->bytes, flush()->bytes) that translates an SSE body as it streams.

It frames the upstream bytes with `gateway.fastpath.SseParser` (so events split across reads are
handled, and one oversized event fails the stream instead of growing memory) and hands each complete
event to a stream translator. Only the event being framed is buffered, never the stream.

Data that is not JSON is skipped: a provider's keep-alive or debug line must not break the client's
stream, and both SDKs would reject it anyway. The count is kept in `malformed` for the caller.
"""

from __future__ import annotations

from typing import Protocol

import orjson

from gateway.fastpath import SseParser
from gateway.providers.translate._common import JsonDict
from gateway.providers.translate.stream_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.translate.stream_openai_to_anthropic import OpenAIToAnthropicStream


class StreamTranslator(Protocol):
    def event(self, name: str, data: JsonDict) -> bytes: ...
    def openai_done(self) -> bytes: ...
    def finish(self) -> bytes: ...


class SseTranslateFilter:
    """Translate an upstream SSE body into the client's SSE dialect, event by event."""

    __slots__ = ("_parser", "_translator", "malformed")

    def __init__(self, translator: StreamTranslator, parser: SseParser | None = None) -> None:
        self._parser = parser or SseParser()
        self._translator = translator
        self.malformed = 0

    def feed(self, chunk: bytes) -> bytes:
        return self._translate(self._parser.feed(chunk))

    def flush(self) -> bytes:
        return self._translate(self._parser.flush()) + self._translator.finish()

    def _translate(self, events: list[tuple[bytes, bytes]]) -> bytes:
        out = []
        for name, data in events:
            if data == b"[DONE]":
                out.append(self._translator.openai_done())
                continue
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                self.malformed += 1
                continue
            if isinstance(parsed, dict):
                out.append(self._translator.event(name.decode("utf-8", "replace"), parsed))
            else:
                self.malformed += 1
        return b"".join(out)


def anthropic_to_openai_filter(include_usage: bool = False, created: int | None = None) -> SseTranslateFilter:
    """For an OpenAI client served by an Anthropic upstream (pass the request's stream_options.include_usage)."""
    return SseTranslateFilter(AnthropicToOpenAIStream(include_usage=include_usage, created=created))


def openai_to_anthropic_filter() -> SseTranslateFilter:
    """For an Anthropic client served by an OpenAI-format upstream."""
    return SseTranslateFilter(OpenAIToAnthropicStream())
