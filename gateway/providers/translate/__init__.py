"""Format translation between OpenAI chat completions and Anthropic messages (pure functions, no I/O).

Module names read client-format `_to_` upstream-format: `completions_to_messages` serves an OpenAI client
from an Anthropic upstream (request one way, response and errors back), `messages_to_completions` the
reverse. Streams are translated event by event by the `stream_*` state machines; `sse_filter` wraps them
as response BodyFilters.
"""

from gateway.providers.translate import completions_to_messages, messages_to_completions
from gateway.providers.translate.sse_filter import (
    SseTranslateFilter,
    anthropic_to_openai_filter,
    openai_to_anthropic_filter,
)
from gateway.providers.translate.stream_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.translate.stream_openai_to_anthropic import OpenAIToAnthropicStream

__all__ = [
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "SseTranslateFilter",
    "anthropic_to_openai_filter",
    "completions_to_messages",
    "messages_to_completions",
    "openai_to_anthropic_filter",
]
