"""The cloud providers' wire formats for the mock: Bedrock Converse, Vertex rawPredict, Azure OpenAI.

Routing (`classify`) decides which API a path belongs to and checks what that provider itself would
refuse (a missing SigV4 signature, a Vertex Claude body with `model` or without `anthropic_version`, an
Azure deployment URL without `api-version`), so a gateway that gets a provider's rules wrong fails here.
Bedrock answers in Converse JSON, or for `/converse-stream` in the AWS event-stream binary framing.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any
from urllib.parse import unquote

import orjson

from gateway.mock.formats import Completion, split_text

BEDROCK = "bedrock"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
EVENTSTREAM_HEADERS = (b"content-type: application/vnd.amazon.eventstream\r\n"
                       b"transfer-encoding: chunked\r\n")
_SIGV4 = re.compile(r"AWS4-HMAC-SHA256 Credential=[A-Z0-9]+/\d{8}/[a-z0-9-]+/bedrock/aws4_request, "
                    r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}")
_BEDROCK_PATH = re.compile(r"/model/([^/]+)/(converse-stream|converse)$")


class Route:
    """What a request path asks for: the API kind, whether it streams by path, and a refusal if any."""

    __slots__ = ("kind", "stream", "model", "refusal")

    def __init__(self, kind: str, stream: bool | None = None, model: str | None = None,
                 refusal: tuple[int, str] | None = None) -> None:
        self.kind = kind
        self.stream = stream
        self.model = model
        self.refusal = refusal


def classify(path: str, query: str, headers: dict[str, str], body: Any) -> Route | None:
    """The cloud route for `path`, or None for the plain OpenAI/Anthropic paths."""
    m = _BEDROCK_PATH.search(path)
    if m is not None:
        route = Route(BEDROCK, m.group(2) == "converse-stream", unquote(m.group(1)))
        if not _SIGV4.fullmatch(headers.get("authorization", "")) or "x-amz-date" not in headers:
            route.refusal = (403, "Missing or malformed SigV4 Authorization header")
        return route
    if path.endswith((":rawPredict", ":streamRawPredict")):
        route = Route("anthropic", path.endswith(":streamRawPredict"), path.rpartition("/models/")[2].partition(":")[0])
        if isinstance(body, dict) and ("model" in body or body.get("anthropic_version") != VERTEX_ANTHROPIC_VERSION):
            route.refusal = (400, "Vertex Claude bodies carry anthropic_version vertex-2023-10-16 and no model")
        return route
    if "/openai/deployments/" in path and "api-version=" not in query:
        return Route("openai", refusal=(404, "Azure deployment URLs need the api-version query parameter"))
    return None


def bedrock_text(body: dict[str, Any]) -> dict[str, Any]:
    """The Converse body reshaped so formats.complete reads it (system prompt and messages)."""
    return {"messages": body.get("messages") or [], "system": body.get("system")}


def converse_response(c: Completion) -> bytes:
    return orjson.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": c.text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": c.input_tokens, "outputTokens": c.output_tokens,
                  "totalTokens": c.input_tokens + c.output_tokens},
        "metrics": {"latencyMs": 1},
    })


def converse_error(status: int, message: str) -> bytes:
    return orjson.dumps({"message": message})


def converse_stream(c: Completion, chunks: int | None) -> list[bytes]:
    """ConverseStream events in Bedrock's order, each one event-stream frame."""
    events: list[bytes] = [_frame("messageStart", {"role": "assistant"})]
    for piece in split_text(c.text, chunks):
        events.append(_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
    events.append(_frame("contentBlockStop", {"contentBlockIndex": 0}))
    events.append(_frame("messageStop", {"stopReason": "end_turn"}))
    usage = {"inputTokens": c.input_tokens, "outputTokens": c.output_tokens,
             "totalTokens": c.input_tokens + c.output_tokens}
    events.append(_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 1}}))
    return events


def _frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    headers = b"".join(_header(k, v) for k, v in ((":event-type", event_type),
                                                   (":content-type", "application/json"),
                                                   (":message-type", "event")))
    body = orjson.dumps(payload)
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v  # 7: string value
