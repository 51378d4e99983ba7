"""OpenAI chat completions <-> AWS Bedrock Converse (pure functions, no I/O).

Composed from the two translations the gateway already has: OpenAI -> Anthropic Messages
(completions_to_messages) and Messages -> Converse (messages_to_converse); responses go back the same
way. Converse's content model is Anthropic's (blocks, toolUse/toolResult, reasoning with signatures),
so the Messages form loses nothing on the way, and the gateway has one Converse codec to keep right.
"""

from __future__ import annotations

from gateway.providers.translate import completions_to_messages, messages_to_converse
from gateway.providers.translate._common import JsonDict


def translate_request(body: JsonDict) -> JsonDict:
    messages = completions_to_messages.translate_request(body)
    # OpenAI's `user` becomes Anthropic metadata.user_id; Converse would pass it to the model as an extra
    # field, which non-Anthropic Bedrock models reject (agentgateway drops it too).
    messages.pop("metadata", None)
    return messages_to_converse.translate_request(messages)


def translate_response(body: JsonDict, model: str | None) -> JsonDict:
    message = messages_to_converse.translate_response(body, model)
    response: JsonDict = completions_to_messages.translate_response(message)
    return response


def translate_error(body: bytes | str | JsonDict, status: int) -> JsonDict:
    anthropic = messages_to_converse.translate_error(body, status)
    error: JsonDict = completions_to_messages.translate_error(anthropic, status)
    return error
