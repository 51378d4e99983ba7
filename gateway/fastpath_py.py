"""Pure-Python twin of ``gateway._fastpath`` (same names, same signatures, same results).

This module is the reference implementation: ``tests/hotpath`` runs every case against it
and against the compiled module, and differential Hypothesis tests treat it as the oracle.
Keep the two in lock step; any behavioural change lands here and in ``_fastpath.pyx``
together. Import the selected implementation from ``gateway.fastpath``, not from here.

Three hot-path pieces:

* ``SseParser``: incremental Server-Sent-Events framing (WHATWG rules, on bytes) used only
  to *observe* a streamed LLM response; the gateway forwards the raw chunks untouched.
* ``UsageAccumulator``: token usage from OpenAI / Anthropic stream events or bodies.
* ``TokenBucket``: agentgateway ``localRateLimit`` bucket with discrete refills.
* ``scan_pii`` / ``mask_pii``: the PII scanner, kept in ``gateway/pii_py.py`` and re-exported here.
* ``response_headers`` / ``latin1_headers``: header lists on their way through the proxy (the
  upstream's response headers to the client's; the gateway's bytes to aiohttp's str).
"""

from __future__ import annotations

import math

import orjson

from gateway.pii_py import (
    PII_ALL,
    PII_CA_SIN,
    PII_CREDIT_CARD,
    PII_EMAIL,
    PII_KIND_COUNT,
    PII_PHONE,
    PII_SSN,
    mask_pii,
    scan_pii,
)

__all__ = (
    "DEFAULT_MAX_EVENT_SIZE",
    "FORMAT_ANTHROPIC",
    "FORMAT_OPENAI",
    "PII_ALL",
    "PII_CA_SIN",
    "PII_CREDIT_CARD",
    "PII_EMAIL",
    "PII_KIND_COUNT",
    "PII_PHONE",
    "PII_SSN",
    "mask_pii",
    "scan_pii",
    "SseParser",
    "TokenBucket",
    "UsageAccumulator",
    "latin1_headers",
    "response_headers",
)

FORMAT_OPENAI = 0
FORMAT_ANTHROPIC = 1

# One event (data + event name + the line being read) may hold at most this many bytes.
# Generous for LLM chunks (a few hundred bytes each) while bounding a hostile upstream.
DEFAULT_MAX_EVENT_SIZE = 1 << 20

_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)

_OVERSIZE = "SSE event exceeds max_event_size ({} bytes)"
_BROKEN = "SSE parser failed earlier on an oversized event"


class SseParser:
    """Incremental SSE framing: ``feed(chunk)`` returns the events completed by the chunk.

    Follows the WHATWG event-stream rules on raw bytes, so a UTF-8 codepoint split across
    reads is harmless: only ASCII delimiters are inspected.

    * Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (also when the ``\\r\\n`` pair is split
      across two reads). A blank line dispatches the pending event.
    * ``data:`` lines append (joined with ``\\n``); one space after the colon is dropped.
      ``event:`` sets the name (``b""`` when absent). ``id:``, ``retry:`` and unknown
      fields are ignored; lines starting with ``:`` are comments.
    * An event with no ``data`` line is not dispatched (WHATWG); ``data:`` with an empty
      value dispatches ``b""``.
    * A leading UTF-8 BOM is not stripped (LLM providers do not send one).

    Memory is bounded: if the event being built (data so far + event name + the current
    line) would exceed ``max_event_size`` bytes, ``ValueError`` is raised and the parser
    stays failed (every later call raises), because resynchronising mid-stream would
    silently undercount usage. The check depends only on the bytes, not on how they
    were split into chunks.
    """

    __slots__ = ("_max", "_line", "_data", "_data_len", "_has_data", "_event", "_skip_lf", "_broken")

    def __init__(self, max_event_size: int = DEFAULT_MAX_EVENT_SIZE) -> None:
        if max_event_size < 1:
            raise ValueError("max_event_size must be >= 1")
        self._max = max_event_size
        self._line = b""  # incomplete trailing line from the previous chunk (never holds \r or \n)
        self._data: list[bytes] = []
        self._data_len = 0  # len(b"\n".join(self._data)), tracked for the size bound
        self._has_data = False
        self._event = b""
        self._skip_lf = False  # previous chunk ended on \r: a leading \n completes that CRLF
        self._broken = False

    @property
    def max_event_size(self) -> int:
        return self._max

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        """Consume one read; return the ``(event_name, data)`` pairs it completed."""
        if self._broken:
            raise ValueError(_BROKEN)
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        out: list[tuple[bytes, bytes]] = []
        if not chunk:
            return out
        buf = self._line + chunk if self._line else chunk
        # The pending line never contains \r, so a lone trailing \r is always this chunk's.
        if b"\r" in buf:
            if buf[-1] == 0x0D:
                self._skip_lf = True
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        pending = lines.pop()
        for line in lines:
            self._process(line, out)
        if self._data_len + len(self._event) + len(pending) > self._max:
            self._fail()
        self._line = pending
        return out

    def flush(self) -> list[tuple[bytes, bytes]]:
        """End of stream: dispatch a trailing event that lacks its final blank line.

        Resets the parser, so it can be reused for another stream.
        """
        if self._broken:
            raise ValueError(_BROKEN)
        out: list[tuple[bytes, bytes]] = []
        if self._line:
            line = self._line
            self._line = b""
            self._process(line, out)
        self._dispatch(out)
        self._skip_lf = False
        return out

    def _process(self, line: bytes, out: list[tuple[bytes, bytes]]) -> None:
        if self._data_len + len(self._event) + len(line) > self._max:
            self._fail()
        if not line:
            self._dispatch(out)
            return
        if line[0] == 0x3A:  # ":" comment (keep-alives such as ": OPENROUTER PROCESSING")
            return
        colon = line.find(b":")
        if colon < 0:
            field = line
            value = b""
        else:
            field = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if field == b"data":
            if self._has_data:
                self._data_len += 1
            self._data_len += len(value)
            self._data.append(value)
            self._has_data = True
        elif field == b"event":
            self._event = value

    def _dispatch(self, out: list[tuple[bytes, bytes]]) -> None:
        if self._has_data:
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            out.append((self._event, data))
        self._data = []
        self._data_len = 0
        self._has_data = False
        self._event = b""

    def _fail(self) -> None:
        self._broken = True
        self._line = b""
        self._data = []
        self._data_len = 0
        self._has_data = False
        self._event = b""
        raise ValueError(_OVERSIZE.format(self._max))


# --------------------------------------------------------------------------------------
# Usage accounting


def _skip_ws(data: bytes, i: int, n: int) -> int:
    while i < n and data[i] in b" \t\r\n":
        i += 1
    return i


def _key_value_starts(data: bytes, key: bytes, first: int, not_next: int) -> bool:
    """True if some ``key`` (a quoted JSON key) is followed by ``: <first>``.

    With ``not_next`` != 0 the byte after ``first`` must differ from it (``"content":"x``
    but not ``"content":""``). A quoted key cannot match inside a JSON string value,
    because quotes in there are escaped. Cheap enough to run on every event, unlike a parse.
    """
    n = len(data)
    klen = len(key)
    i = data.find(key)
    while i >= 0:
        j = _skip_ws(data, i + klen, n)
        if j < n and data[j] == 0x3A:
            j = _skip_ws(data, j + 1, n)
            if j < n and data[j] == first and (not_next == 0 or (j + 1 < n and data[j + 1] != not_next)):
                return True
        i = data.find(key, i + klen)
    return False


def _has_openai_output(data: bytes) -> bool:
    # The first chunk carries role + an empty content string: that is not a token yet.
    return (
        _key_value_starts(data, b'"content"', 0x22, 0x22)
        or _key_value_starts(data, b'"tool_calls"', 0x5B, 0x5D)
        or _key_value_starts(data, b'"reasoning_content"', 0x22, 0x22)
        or _key_value_starts(data, b'"reasoning"', 0x22, 0x22)
        or _key_value_starts(data, b'"refusal"', 0x22, 0x22)
    )


def _tok(v: object) -> bool:
    # bool is an int subclass; reject it along with floats, negatives and > int64.
    return type(v) is int and 0 <= v <= _INT64_MAX


class UsageAccumulator:
    """Token usage for one response, fed SSE data payloads or a whole JSON body.

    Counts are *provider-reported* and the latest report wins (Anthropic's
    ``message_delta.usage.output_tokens`` is cumulative; OpenAI reports once at the end).

    * OpenAI (``FORMAT_OPENAI``): ``usage.prompt_tokens`` -> ``input_tokens``,
      ``completion_tokens`` -> ``output_tokens``, ``prompt_tokens_details.cached_tokens`` ->
      ``cache_read_tokens``, ``prompt_tokens_details.cache_write_tokens`` ->
      ``cache_write_tokens``, ``completion_tokens_details.reasoning_tokens`` ->
      ``reasoning_tokens``. ``model`` from the top level.
    * Anthropic (``FORMAT_ANTHROPIC``): ``message_start.message.usage`` and
      ``message_delta.usage`` (or a body's top-level ``usage``): ``input_tokens``,
      ``output_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens``.

    Normalisation (agentgateway ``llm.inputTokens``): the total prompt *including* cache
    reads and writes. OpenAI's ``prompt_tokens`` already includes them; Anthropic's
    ``input_tokens`` excludes them. ``input_tokens`` stays provider-reported
    (agentgateway's ``providerInputTokens``); ``total_input_tokens()`` applies the rule.

    JSON is parsed (orjson) only when a payload holds a ``"usage": {`` object, or while
    ``model`` is still unknown and the payload names a ``"model"`` (once per stream in
    practice). Everything else is a substring scan. Garbage never raises: a payload that
    is not a JSON object, or that fails to parse, increments ``malformed``.
    """

    __slots__ = (
        "fmt",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "model",
        "malformed",
        "events",
        "first_token_seen",
    )

    def __init__(self, fmt: int) -> None:
        if fmt != FORMAT_OPENAI and fmt != FORMAT_ANTHROPIC:
            raise ValueError(f"unknown usage format {fmt!r}")
        self.fmt = fmt
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.reasoning_tokens = 0
        self.model: str | None = None
        self.malformed = 0
        self.events = 0
        self.first_token_seen = False

    def total_input_tokens(self) -> int:
        """Prompt tokens including cache read/write, comparable across providers."""
        if self.fmt == FORMAT_ANTHROPIC:
            return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return self.input_tokens

    def total_tokens(self) -> int:
        return self.total_input_tokens() + self.output_tokens

    def feed_event(self, data: bytes) -> None:
        """Account one SSE ``data`` payload; ``[DONE]`` is skipped and not counted."""
        n = len(data)
        i = _skip_ws(data, 0, n)
        if i == n or data[i] != 0x7B:
            if data.strip() != b"[DONE]":
                self.events += 1
                self.malformed += 1
            return
        self.events += 1
        if not self.first_token_seen:
            if self.fmt == FORMAT_ANTHROPIC:
                self.first_token_seen = b'"content_block_delta"' in data
            else:
                self.first_token_seen = _has_openai_output(data)
        self._scan(data)

    def feed_body(self, body: bytes) -> None:
        """Account a non-streaming response body (one JSON object)."""
        n = len(body)
        i = _skip_ws(body, 0, n)
        if i == n or body[i] != 0x7B:
            self.malformed += 1
            return
        self._scan(body)

    def _scan(self, data: bytes) -> None:
        if not (_key_value_starts(data, b'"usage"', 0x7B, 0) or (self.model is None and b'"model"' in data)):
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.malformed += 1
            return
        if type(obj) is not dict:
            self.malformed += 1
            return
        if self.fmt == FORMAT_ANTHROPIC:
            self._apply_anthropic(obj)
        else:
            self._apply_openai(obj)

    def _apply_openai(self, obj: dict[str, object]) -> None:
        if self.model is None:
            m = obj.get("model")
            if type(m) is str and m:
                self.model = m
        u = obj.get("usage")
        if type(u) is not dict:
            return
        v = u.get("prompt_tokens")
        if _tok(v):
            self.input_tokens = v  # type: ignore[assignment]
        v = u.get("completion_tokens")
        if _tok(v):
            self.output_tokens = v  # type: ignore[assignment]
        d = u.get("prompt_tokens_details")
        if type(d) is dict:
            v = d.get("cached_tokens")
            if _tok(v):
                self.cache_read_tokens = v  # type: ignore[assignment]
            v = d.get("cache_write_tokens")
            if _tok(v):
                self.cache_write_tokens = v  # type: ignore[assignment]
        d = u.get("completion_tokens_details")
        if type(d) is dict:
            v = d.get("reasoning_tokens")
            if _tok(v):
                self.reasoning_tokens = v  # type: ignore[assignment]

    def _apply_anthropic(self, obj: dict[str, object]) -> None:
        # message_start nests model+usage under "message"; message_delta and a
        # non-streaming body carry them at the top level.
        src = obj.get("message")
        if type(src) is not dict:
            src = obj
        if self.model is None:
            m = src.get("model")
            if type(m) is str and m:
                self.model = m
        u = src.get("usage")
        if type(u) is not dict:
            return
        v = u.get("input_tokens")
        if _tok(v):
            self.input_tokens = v  # type: ignore[assignment]
        v = u.get("output_tokens")
        if _tok(v):
            self.output_tokens = v  # type: ignore[assignment]
        v = u.get("cache_read_input_tokens")
        if _tok(v):
            self.cache_read_tokens = v  # type: ignore[assignment]
        v = u.get("cache_creation_input_tokens")
        if _tok(v):
            self.cache_write_tokens = v  # type: ignore[assignment]


# --------------------------------------------------------------------------------------
# Local rate limit


def _check_i64(n: int) -> None:
    # The compiled twin takes C int64 arguments; mirror its OverflowError exactly.
    if not _INT64_MIN <= n <= _INT64_MAX:
        raise OverflowError("Python int too large to convert to C long")


class TokenBucket:
    """agentgateway ``localRateLimit`` bucket (its forked pelikan ``Ratelimiter``).

    * Starts full; the first fill is due at ``now + fill_interval``.
    * Fills are discrete: each whole ``fill_interval`` elapsed since the last due fill
      adds ``tokens_per_fill``, capped at ``max_tokens`` (the overflow is dropped); the
      schedule stays anchored to the original start, so idle time does not shift it.
    * ``now`` is caller-supplied monotonic seconds (``loop.time()``), which keeps the
      bucket deterministic in tests. Float arithmetic is identical in both twins.
    """

    __slots__ = ("max_tokens", "tokens_per_fill", "fill_interval", "_tokens", "_refill_at")

    def __init__(self, max_tokens: int, tokens_per_fill: int, fill_interval: float, now: float) -> None:
        _check_i64(max_tokens)
        _check_i64(tokens_per_fill)
        fill_interval = float(fill_interval)
        if max_tokens < 0 or tokens_per_fill < 0:
            raise ValueError("max_tokens and tokens_per_fill must be >= 0")
        if tokens_per_fill > max_tokens:
            raise ValueError("tokens_per_fill must not exceed max_tokens")
        if not (fill_interval > 0.0 and math.isfinite(fill_interval)):
            raise ValueError("fill_interval must be a positive, finite number of seconds")
        self.max_tokens = max_tokens
        self.tokens_per_fill = tokens_per_fill
        self.fill_interval = fill_interval
        self._tokens = max_tokens
        self._refill_at = float(now) + fill_interval

    @property
    def next_fill_at(self) -> float:
        """Time of the next due fill (as of the last call that refilled)."""
        return self._refill_at

    def _refill(self, now: float) -> None:
        if now < self._refill_at:
            return
        intervals = float(math.floor((now - self._refill_at) / self.fill_interval)) + 1.0
        self._refill_at += intervals * self.fill_interval
        deficit = self.max_tokens - self._tokens
        if deficit > 0:
            if intervals * float(self.tokens_per_fill) >= float(deficit):
                self._tokens = self.max_tokens
            else:
                self._tokens += int(intervals) * self.tokens_per_fill

    def try_acquire(self, n: int, now: float) -> bool:
        """Take ``n`` tokens if all are available (requests mode, or tokenize: true).

        Like upstream ``try_wait_n``, ``n == 0`` and ``n > max_tokens`` are refused outright.
        """
        _check_i64(n)
        if n < 0:
            raise ValueError("n must be >= 0")
        if n == 0 or n > self.max_tokens:
            return False
        self._refill(float(now))
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def acquire_at_least_one(self, now: float) -> bool:
        """Tokens mode without a pre-count: allow while >= 1 token remains; takes nothing.

        The real cost is charged afterwards with ``debit``, so one request may overshoot and
        the *next* one gets 429 (agentgateway behaviour).
        """
        self._refill(float(now))
        return self._tokens >= 1

    def debit(self, n: int, now: float) -> None:
        """Post-response true-up: remove ``n`` tokens, saturating at 0.

        A negative ``n`` (the pre-count overestimated) returns tokens, capped at
        ``max_tokens`` (upstream saturates at u64::MAX instead, letting the bucket exceed its
        capacity; we treat that as a bug). Like upstream ``amend_tokens`` this does not apply
        pending fills first: ``now`` is accepted for a uniform call shape only.
        """
        _check_i64(n)
        if n >= 0:
            self._tokens = self._tokens - n if self._tokens > n else 0
        else:
            room = self.max_tokens - self._tokens
            self._tokens = self.max_tokens if n <= -room else self._tokens - n

    def remaining(self, now: float) -> int:
        """Tokens available at ``now`` (the ``x-ratelimit-remaining`` value)."""
        self._refill(float(now))
        return self._tokens

    def reset_after(self, now: float) -> float:
        """Seconds until the next fill (``x-ratelimit-reset``); never negative."""
        now = float(now)
        self._refill(now)
        r = self._refill_at - now
        return r if r > 0.0 else 0.0


# ------------------------------------------------------------------------------------------
# Header lists (profiled: a proxied request walks its headers several times)


def response_headers(raw: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]],
                     drop: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
    """The upstream's raw response headers with lower-cased names, leaving out names in `drop`
    (given lower-case); order and duplicates kept."""
    out: list[tuple[bytes, bytes]] = []
    for k, v in raw:
        name = k.lower()
        if name not in drop:
            out.append((name, v))
    return out


def latin1_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Names and values decoded as latin-1 (every byte maps to one code point, so nothing is lost)."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]

