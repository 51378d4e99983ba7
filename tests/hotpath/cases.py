"""One shared case table for the hot-path twins (SSE framing, usage, token bucket).

Every case runs against each implementation through the ``impl`` fixture. The inline SSE
streams below are shaped like real OpenAI / Anthropic output, so the suite never depends
only on the recorded vectors in ../shared (see ``recorded_streams``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

Event = tuple[bytes, bytes]

# /work/shared/agentgateway-examples/... relative to the repo's parent directory.
VECTORS = Path(__file__).parents[2].parent / "shared" / "agentgateway-examples" / "translation-vectors"
RESPONSE_VECTORS = VECTORS / "response"


class SseCase(NamedTuple):
    id: str
    chunks: list[bytes]
    events: list[Event]  # from feed() calls, in order
    flushed: list[Event] = []  # from the final flush()
    max_size: int | None = None
    raises: bool = False  # some feed()/flush() raises ValueError (oversized event)


SSE_CASES: list[SseCase] = [
    SseCase("single-lf", [b"data: hello\n\n"], [(b"", b"hello")]),
    SseCase("no-space-after-colon", [b"data:hello\n\n"], [(b"", b"hello")]),
    SseCase("only-one-space-dropped", [b"data:  two\n\n"], [(b"", b" two")]),
    SseCase("named-event", [b"event: ping\ndata: {}\n\n"], [(b"ping", b"{}")]),
    SseCase("name-without-space", [b"event:message_start\ndata:{}\n\n"], [(b"message_start", b"{}")]),
    SseCase("crlf", [b"event: a\r\ndata: 1\r\n\r\n"], [(b"a", b"1")]),
    SseCase("cr-only", [b"data: 1\r\rdata: 2\r\r"], [(b"", b"1"), (b"", b"2")]),
    SseCase("mixed-terminators", [b"data: a\r\ndata: b\rdata: c\n\r\n"], [(b"", b"a\nb\nc")]),
    SseCase("multi-data-lines-joined", [b"data: a\ndata: b\ndata:\n\n"], [(b"", b"a\nb\n")]),
    SseCase("empty-data-dispatches", [b"data:\n\n"], [(b"", b"")]),
    SseCase("data-without-colon", [b"data\n\n"], [(b"", b"")]),
    SseCase("event-without-data-not-dispatched", [b"event: x\n\ndata: y\n\n"], [(b"", b"y")]),
    SseCase("name-resets-after-dispatch", [b"event: x\ndata: 1\n\ndata: 2\n\n"], [(b"x", b"1"), (b"", b"2")]),
    SseCase("last-event-name-wins", [b"event: a\nevent: b\ndata: 1\n\n"], [(b"b", b"1")]),
    SseCase("comments-ignored", [b": keep-alive\n\n:another\ndata: x\n: mid\n\n"], [(b"", b"x")]),
    SseCase("openrouter-processing-comment", [b": OPENROUTER PROCESSING\n\ndata: {}\n\n"], [(b"", b"{}")]),
    SseCase("id-retry-unknown-ignored", [b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n"], [(b"", b"x")]),
    SseCase("colon-in-value-kept", [b'data: {"a":"b:c"}\n\n'], [(b"", b'{"a":"b:c"}')]),
    SseCase("leading-blank-lines", [b"\n\n\r\n\rdata: x\n\n"], [(b"", b"x")]),
    SseCase("done-is-just-data", [b"data: {}\n\ndata: [DONE]\n\n"], [(b"", b"{}"), (b"", b"[DONE]")]),
    SseCase("field-case-sensitive", [b"Data: x\nDATA: y\ndata: z\n\n"], [(b"", b"z")]),
    SseCase("space-before-colon-is-field-name", [b"data : x\ndata: y\n\n"], [(b"", b"y")]),
    # --- split across reads
    SseCase("split-mid-line", [b"da", b"ta: hel", b"lo\n", b"\n"], [(b"", b"hello")]),
    SseCase("split-between-lf-lf", [b"data: x\n", b"\n"], [(b"", b"x")]),
    SseCase("crlf-split-between-cr-lf", [b"data: x\r", b"\n\r", b"\n"], [(b"", b"x")]),
    SseCase("crlf-split-with-empty-chunks", [b"data: x\r", b"", b"", b"\n\r\n"], [(b"", b"x")]),
    SseCase("cr-cr-split", [b"data: x\r", b"\r"], [(b"", b"x")]),
    SseCase("lone-cr-at-end-then-data", [b"data: x\r", b"data: y\r\r"], [(b"", b"x\ny")]),
    SseCase("byte-by-byte", [bytes([b]) for b in b"event: e\r\ndata: 1\r\n\r\n"], [(b"e", b"1")]),
    SseCase(
        "utf8-split-mid-codepoint",
        # "héllo ✓" with the 2-byte é and the 3-byte ✓ split across reads: bytes pass through.
        [b"data: h\xc3", b"\xa9llo \xe2\x9c", b"\x93\n\n"],
        [(b"", "héllo ✓".encode())],
    ),
    SseCase("invalid-utf8-passes-through", [b"data: \xff\xfe\n\n"], [(b"", b"\xff\xfe")]),
    SseCase("empty-chunks", [b"", b"data: x\n\n", b""], [(b"", b"x")]),
    SseCase(
        "many-events-one-chunk",
        [b"data: 1\n\ndata: 2\n\ndata: 3\n\n"],
        [(b"", b"1"), (b"", b"2"), (b"", b"3")],
    ),
    # --- flush at end of stream
    SseCase("flush-trailing-event-no-blank-line", [b"data: a\n\ndata: b\n"], [(b"", b"a")], [(b"", b"b")]),
    SseCase("flush-partial-last-line", [b"event: z\ndata: tail"], [], [(b"z", b"tail")]),
    SseCase("flush-nothing-pending", [b"data: a\n\n"], [(b"", b"a")], []),
    SseCase("flush-comment-only", [b": bye"], [], []),
    SseCase("flush-after-cr", [b"data: a\r"], [], [(b"", b"a")]),
    # --- bounded memory (sizes count the event's data + name + the line being read)
    SseCase("at-limit-ok", [b"data: " + b"x" * 10 + b"\n\n"], [(b"", b"x" * 10)], max_size=16),
    SseCase("line-over-limit", [b"data: " + b"x" * 11 + b"\n\n"], [], max_size=16, raises=True),
    SseCase("partial-line-over-limit", [b"data: " + b"x" * 20], [], max_size=16, raises=True),
    SseCase(
        "accumulated-data-over-limit",
        [b"data: 12345\n", b"data: 12345\n", b"data: 1\n\n"],
        [],
        max_size=16,
        raises=True,
    ),
    SseCase("comment-line-over-limit", [b":" + b"c" * 40 + b"\n"], [], max_size=16, raises=True),
    SseCase("limit-is-per-event", [b"data: 1234567890\n\n" * 3], [(b"", b"1234567890")] * 3, max_size=16),
    SseCase("flush-partial-over-limit", [b"data: 1234567\n", b"data: 1234567"], [], max_size=16, raises=True),
]


# ------------------------------------------------------------------------------------------
# Realistic inline streams (trimmed from real provider output)

OPENAI_STREAM = (
    b'data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1772656915,'
    b'"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,'
    b'"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],'
    b'"usage":null}\n\n'
    b'data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1772656915,'
    b'"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,'
    b'"delta":{"content":"Bonjour \xe2\x80\x94 \xc3\xa7a va"},"logprobs":null,"finish_reason":null}],'
    b'"usage":null}\n\n'
    b'data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1772656915,'
    b'"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[{"index":0,'
    b'"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n'
    b'data: {"id":"chatcmpl-AbC","object":"chat.completion.chunk","created":1772656915,'
    b'"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_1","choices":[],'
    b'"usage":{"prompt_tokens":1200,"completion_tokens":86,"total_tokens":1286,'
    b'"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},'
    b'"completion_tokens_details":{"reasoning_tokens":64,"audio_tokens":0,'
    b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n'
    b"data: [DONE]\n\n"
)

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_01XFD","type":"message","role":"assistant",'
    b'"model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":25,"cache_creation_input_tokens":1100,"cache_read_input_tokens":3000,'
    b'"output_tokens":1}}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":"Hello \xe2\x9c\x93"}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}\n\n'
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":15}}\n\n'
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
    b'"usage":{"output_tokens":42}}\n\n'
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n\n'
)

OPENAI_BODY = (
    b'{"id":"chatcmpl-cache-write","object":"chat.completion","created":1784217600,"model":"gpt-5.6",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"cached response"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010,'
    b'"prompt_tokens_details":{"cached_tokens":300,"cache_write_tokens":200},'
    b'"completion_tokens_details":{"reasoning_tokens":0}},"service_tier":"default"}'
)

ANTHROPIC_BODY = (
    b'{\n  "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",\n'
    b'  "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",\n'
    b'  "usage": {"input_tokens": 12, "cache_creation_input_tokens": 5,\n'
    b'            "cache_read_input_tokens": 7, "output_tokens": 9}\n}'
)

FORMAT_OPENAI = 0
FORMAT_ANTHROPIC = 1


class UsageCase(NamedTuple):
    id: str
    fmt: int
    stream: bytes | None  # SSE bytes, framed with SseParser then fed event by event
    body: bytes | None  # non-streaming body for feed_body
    expected: dict[str, object]  # attribute / method name -> value


USAGE_CASES: list[UsageCase] = [
    UsageCase(
        "openai-stream",
        FORMAT_OPENAI,
        OPENAI_STREAM,
        None,
        {
            "input_tokens": 1200,
            "output_tokens": 86,
            "cache_read_tokens": 1024,
            "cache_write_tokens": 0,
            "reasoning_tokens": 64,
            "model": "gpt-4o-mini-2024-07-18",
            "malformed": 0,
            "events": 4,
            "first_token_seen": True,
            "total_input_tokens": 1200,  # OpenAI prompt_tokens already includes cached
            "total_tokens": 1286,
        },
    ),
    UsageCase(
        "anthropic-stream",
        FORMAT_ANTHROPIC,
        ANTHROPIC_STREAM,
        None,
        {
            "input_tokens": 25,
            "output_tokens": 42,  # cumulative: the latest message_delta wins
            "cache_read_tokens": 3000,
            "cache_write_tokens": 1100,
            "reasoning_tokens": 0,
            "model": "claude-sonnet-4-20250514",
            "malformed": 0,
            "events": 9,
            "first_token_seen": True,
            "total_input_tokens": 4125,  # Anthropic input excludes cache read/write
            "total_tokens": 4167,
        },
    ),
    UsageCase(
        "openai-body-cache-write",
        FORMAT_OPENAI,
        None,
        OPENAI_BODY,
        {
            "input_tokens": 1000,
            "output_tokens": 10,
            "cache_read_tokens": 300,
            "cache_write_tokens": 200,
            "model": "gpt-5.6",
            "malformed": 0,
            "events": 0,
            "total_input_tokens": 1000,
        },
    ),
    UsageCase(
        "anthropic-body",
        FORMAT_ANTHROPIC,
        None,
        ANTHROPIC_BODY,
        {
            "input_tokens": 12,
            "output_tokens": 9,
            "cache_read_tokens": 7,
            "cache_write_tokens": 5,
            "model": "claude-haiku-4-5",
            "total_input_tokens": 24,
            "total_tokens": 33,
        },
    ),
    UsageCase(
        "anthropic-delta-overrides-input",
        FORMAT_ANTHROPIC,
        b'event:message_start\ndata:{"type":"message_start","message":{"model":"glm-5.2",'
        b'"usage":{"input_tokens":34824,"output_tokens":0}}}\n\n'
        b'event:message_delta\ndata:{"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"input_tokens":3883,"output_tokens":49,"cache_creation_input_tokens":0,'
        b'"cache_read_input_tokens":30464}}\n\n'
        b'event:message_stop\ndata:{"type":"message_stop"}\n\n',
        None,
        {
            "input_tokens": 3883,
            "output_tokens": 49,
            "cache_read_tokens": 30464,
            "model": "glm-5.2",
            "first_token_seen": False,  # no content_block_delta in this stream
            "total_input_tokens": 34347,
        },
    ),
    UsageCase(
        "garbage-tolerated",
        FORMAT_OPENAI,
        b'data: {}\n\ndata: ha this isn\'t json!\n\ndata: {"usage": {broken\n\n'
        b'data: ["usage", {"model": 1}]\n\ndata:\n\ndata: [DONE]\n\n',
        None,
        # {} ok; plain text, empty and a top-level list are not objects; the broken
        # usage object fails to parse. [DONE] is neither an event nor malformed.
        {"input_tokens": 0, "output_tokens": 0, "model": None, "malformed": 4, "events": 5},
    ),
    UsageCase(
        "usage-null-not-parsed",
        FORMAT_OPENAI,
        # "usage":null must not trigger a parse; broken JSON proves it (no malformed count
        # once model is known).
        b'data: {"model":"m","choices":[]}\n\ndata: {"usage":null,"x":\n\n',
        None,
        {"model": "m", "malformed": 0, "events": 2, "first_token_seen": False},
    ),
    UsageCase(
        "bad-token-values-ignored",
        FORMAT_OPENAI,
        None,
        b'{"model":"m","usage":{"prompt_tokens":true,"completion_tokens":1.5,'
        b'"prompt_tokens_details":{"cached_tokens":-3},'
        b'"completion_tokens_details":{"reasoning_tokens":18446744073709551615}}}',
        {"input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "reasoning_tokens": 0, "model": "m"},
    ),
    UsageCase(
        "openai-tool-call-is-first-token",
        FORMAT_OPENAI,
        b'data: {"model":"m","choices":[{"delta":{"role":"assistant","content":null,'
        b'"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":""}}]}}]}\n\n',
        None,
        {"first_token_seen": True, "events": 1},
    ),
    UsageCase(
        "openai-spaced-json",
        FORMAT_OPENAI,
        b'data: {"model": "m", "choices": [{"delta": {"content": ""}}]}\n\n'
        b'data: {"choices": [{"delta": {"content": "x"}}], "usage" : { "prompt_tokens": 3,'
        b' "completion_tokens": 4}}\n\n',
        None,
        {"first_token_seen": True, "input_tokens": 3, "output_tokens": 4, "model": "m"},
    ),
    UsageCase("body-garbage", FORMAT_ANTHROPIC, None, b"<html>502 Bad Gateway</html>", {"malformed": 1}),
    UsageCase("body-broken-json", FORMAT_ANTHROPIC, None, b'{"usage": {"input_tokens": 3', {"malformed": 1}),
]


# Expected usage from the recorded agentgateway vectors (skipped when ../shared is absent).
RECORDED_USAGE: list[tuple[str, int, str, dict[str, object]]] = [
    (
        "recorded-openai-stream",
        FORMAT_OPENAI,
        "completions/stream.json",
        {
            "input_tokens": 18,
            "output_tokens": 286,
            "cache_read_tokens": 0,
            "reasoning_tokens": 192,
            "model": "gpt-5-nano-2025-08-07",
            "malformed": 0,
            "first_token_seen": True,
        },
    ),
    (
        "recorded-anthropic-stream",
        FORMAT_ANTHROPIC,
        "anthropic/stream_basic.json",
        {
            "input_tokens": 15,
            "output_tokens": 21,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "model": "claude-haiku-4-5-20251001",
            "malformed": 0,
            "first_token_seen": True,
            "total_input_tokens": 15,
        },
    ),
    (
        "recorded-anthropic-thinking",
        FORMAT_ANTHROPIC,
        "anthropic/stream_thinking.json",
        {"input_tokens": 47, "output_tokens": 264, "malformed": 0},
    ),
    (
        "recorded-broken-sse",
        FORMAT_OPENAI,
        "detect/broken-sse",
        {"input_tokens": 0, "output_tokens": 0},
    ),
]


def recorded_streams() -> list[Path]:
    """Every recorded SSE response vector (streams and deliberately broken inputs)."""
    if not RESPONSE_VECTORS.is_dir():
        return []
    names = ["detect/broken-sse", "detect/non-json", "detect/stream-image-generation"]
    paths = sorted(RESPONSE_VECTORS.glob("*/stream*.json")) + [RESPONSE_VECTORS / n for n in names]
    return [p for p in paths if p.is_file()]


# ------------------------------------------------------------------------------------------
# Token bucket: (id, (max_tokens, tokens_per_fill, fill_interval, start), [(op, args, expected)])
# ops: "acquire" -> try_acquire(n, now), "one" -> acquire_at_least_one(now),
# "debit" -> debit(n, now) (expected None), "remaining" -> remaining(now),
# "reset" -> reset_after(now)

BucketOp = tuple[str, tuple[float, ...], object]

BUCKET_CASES: list[tuple[str, tuple[int, int, float, float], list[BucketOp]]] = [
    (
        "starts-full-then-empty",
        (3, 1, 60.0, 100.0),
        [
            ("remaining", (100.0,), 3),
            ("acquire", (1, 100.0), True),
            ("acquire", (1, 100.0), True),
            ("acquire", (1, 100.0), True),
            ("acquire", (1, 100.0), False),
            ("remaining", (100.0,), 0),
        ],
    ),
    (
        "discrete-fill-not-continuous",
        (10, 2, 10.0, 0.0),
        [
            ("acquire", (10, 0.0), True),
            ("remaining", (9.999,), 0),  # no partial credit before the interval ends
            ("remaining", (10.0,), 2),  # the fill lands exactly at the boundary
            ("remaining", (19.9,), 2),
            ("remaining", (35.0,), 6),  # fills at 20 and 30
            ("reset", (35.0,), 5.0),
        ],
    ),
    (
        "fills-capped-at-max",
        (5, 3, 1.0, 0.0),
        [
            ("acquire", (4, 0.0), True),
            ("remaining", (1000.0,), 5),
            ("reset", (1000.0,), 1.0),
            ("reset", (1000.25,), 0.75),
        ],
    ),
    (
        "schedule-anchored-to-start",
        (1, 1, 10.0, 0.0),
        [
            ("acquire", (1, 0.0), True),
            ("reset", (3.0,), 7.0),
            ("acquire", (1, 13.0), True),  # fill was due at 10, next due at 20
            ("reset", (13.0,), 7.0),
            ("acquire", (1, 19.0), False),
        ],
    ),
    (
        "debit-saturates-at-zero",
        (100, 10, 60.0, 0.0),
        [
            ("one", (0.0,), True),
            ("debit", (250, 1.0), None),
            ("remaining", (1.0,), 0),
            ("one", (1.0,), False),
            ("one", (60.0,), True),  # the next fill admits one more request
            ("remaining", (60.0,), 10),
        ],
    ),
    (
        "negative-debit-refunds-capped",
        (10, 1, 1.0, 0.0),
        [
            ("debit", (6, 0.0), None),
            ("debit", (-2, 0.0), None),
            ("remaining", (0.5,), 6),
            ("debit", (-100, 0.5), None),
            ("remaining", (0.5,), 10),
        ],
    ),
    (
        "debit-does-not-refill-first",
        # upstream amend_tokens ignores pending fills: 2 - 5 -> 0, then the fill at 10 adds 5.
        (10, 5, 10.0, 0.0),
        [("acquire", (8, 0.0), True), ("debit", (5, 15.0), None), ("remaining", (15.0,), 5)],
    ),
    (
        "zero-and-over-capacity-refused",
        (5, 1, 1.0, 0.0),
        [("acquire", (0, 0.0), False), ("acquire", (6, 0.0), False), ("remaining", (0.0,), 5)],
    ),
    (
        "acquire-at-least-one-takes-nothing",
        (2, 1, 1.0, 0.0),
        [("one", (0.0,), True), ("one", (0.0,), True), ("remaining", (0.0,), 2)],
    ),
    (
        "zero-tokens-per-fill-never-refills",
        (2, 0, 1.0, 0.0),
        [("acquire", (2, 0.0), True), ("remaining", (100.0,), 0), ("reset", (100.5,), 0.5)],
    ),
    (
        "time-before-start-no-fill",
        (2, 1, 5.0, 50.0),
        [("acquire", (2, 50.0), True), ("remaining", (40.0,), 0), ("reset", (40.0,), 15.0)],
    ),
]
