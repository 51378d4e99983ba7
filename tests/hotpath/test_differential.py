"""Differential tests: the Python twin is the oracle for the compiled module.

Also checks the chunking invariance of SseParser on its own implementation(s): any split
of a byte stream must give the same events as feeding it whole.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hotpath.cases import ANTHROPIC_STREAM, OPENAI_STREAM

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Byte soup weighted towards SSE syntax so framing edge cases come up often.
PIECES = [
    b"data:",
    b"data: ",
    b"event:",
    b"event: ",
    b"id: 1",
    b"retry: 5",
    b":",
    b": c",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"x",
    b"yz",
    b" ",
    b"\xc3\xa9",
    b"\xe2\x9c\x93",
    b"[DONE]",
    b'{"usage":{"prompt_tokens":3}}',
    b"data",
    b"event",
]
streams = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=6)), max_size=40).map(
    b"".join
) | st.sampled_from([OPENAI_STREAM, ANTHROPIC_STREAM])
max_sizes = st.one_of(st.none(), st.integers(min_value=1, max_value=64))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, prev = [], 0
    for p in points + [len(data)]:
        out.append(data[prev:p])
        prev = p
    return out


def run(mod: ModuleType, chunks: list[bytes], max_size: int | None) -> tuple[list[Any], int | None]:
    """Per-call outputs (feeds then flush) and the index of the call that raised, if any."""
    parser = mod.SseParser() if max_size is None else mod.SseParser(max_size)
    calls: list[Any] = []
    for i, chunk in enumerate(chunks):
        try:
            calls.append(parser.feed(chunk))
        except ValueError:
            return calls, i
    try:
        calls.append(parser.flush())
    except ValueError:
        return calls, len(chunks)
    return calls, None


@SETTINGS
@given(data=streams, cuts=st.lists(st.integers(min_value=0), max_size=12), max_size=max_sizes)
def test_sse_chunking_invariant(impl: ModuleType, data: bytes, cuts: list[int], max_size: int | None) -> None:
    chunked, chunked_err = run(impl, split(data, cuts), max_size)
    whole, whole_err = run(impl, [data], max_size)
    assert (chunked_err is None) == (whole_err is None)
    if whole_err is None:
        assert [e for call in chunked for e in call] == [e for call in whole for e in call]


@SETTINGS
@given(data=streams, cuts=st.lists(st.integers(min_value=0), max_size=12), max_size=max_sizes)
def test_sse_py_vs_c(
    both: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int], max_size: int | None
) -> None:
    py, c = both
    chunks = split(data, cuts)
    assert run(c, chunks, max_size) == run(py, chunks, max_size)


# --- usage -----------------------------------------------------------------------------------

token_values = st.one_of(
    st.integers(min_value=-5, max_value=10**6),
    st.just(2**63 - 1),
    st.just(2**63),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
)
TOKEN_KEYS = [
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
]
usage_obj = st.dictionaries(st.sampled_from(TOKEN_KEYS), token_values, max_size=4) | st.fixed_dictionaries(
    {
        "prompt_tokens_details": st.dictionaries(
            st.sampled_from(["cached_tokens", "cache_write_tokens"]), token_values
        ),
        "completion_tokens_details": st.dictionaries(st.just("reasoning_tokens"), token_values),
    }
)
models = st.one_of(st.none(), st.text(max_size=8), st.integers(min_value=-9, max_value=9))
event_obj = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message_start", "message_delta", "content_block_delta", "ping"]),
        "model": models,
        "usage": st.one_of(st.none(), usage_obj),
        "message": st.fixed_dictionaries({}, optional={"model": models, "usage": usage_obj}),
        "choices": st.lists(
            st.fixed_dictionaries(
                {
                    "delta": st.fixed_dictionaries(
                        {}, optional={"content": st.one_of(st.none(), st.text(max_size=3))}
                    )
                }
            ),
            max_size=1,
        ),
    },
)
payloads = st.one_of(
    event_obj.map(orjson.dumps),
    event_obj.map(lambda o: orjson.dumps(o, option=orjson.OPT_INDENT_2)),
    event_obj.map(lambda o: orjson.dumps(o)[:-1]),  # truncated JSON
    st.sampled_from([b"[DONE]", b" [DONE]", b"", b"ha this isn't json!", b'{"usage": {', b"[1]"]),
    st.binary(max_size=20),
)


def snapshot(acc: Any) -> tuple[Any, ...]:
    return (
        acc.input_tokens,
        acc.output_tokens,
        acc.cache_read_tokens,
        acc.cache_write_tokens,
        acc.reasoning_tokens,
        acc.model,
        acc.malformed,
        acc.events,
        acc.first_token_seen,
        acc.total_input_tokens(),
        acc.total_tokens(),
    )


@SETTINGS
@given(
    fmt=st.sampled_from([0, 1]), events=st.lists(payloads, max_size=8), body=st.one_of(st.none(), payloads)
)
def test_usage_py_vs_c(
    both: tuple[ModuleType, ModuleType], fmt: int, events: list[bytes], body: bytes | None
) -> None:
    py, c = both
    accs = [py.UsageAccumulator(fmt), c.UsageAccumulator(fmt)]
    for acc in accs:
        for data in events:
            acc.feed_event(data)
        if body is not None:
            acc.feed_body(body)
    assert snapshot(accs[1]) == snapshot(accs[0])


# --- token bucket ----------------------------------------------------------------------------

ops = st.lists(
    st.tuples(
        st.sampled_from(["acquire", "one", "debit", "remaining", "reset"]),
        st.integers(min_value=-50, max_value=300),
        st.floats(min_value=-5.0, max_value=50.0, allow_nan=False),  # time step; may go backwards
    ),
    max_size=40,
)


@SETTINGS
@given(
    max_tokens=st.integers(min_value=0, max_value=200),
    fill_frac=st.floats(min_value=0.0, max_value=1.0),
    interval=st.floats(min_value=0.001, max_value=30.0, allow_nan=False),
    start=st.floats(min_value=0.0, max_value=1e6, allow_nan=False),
    seq=ops,
)
def test_bucket_py_vs_c(
    both: tuple[ModuleType, ModuleType],
    max_tokens: int,
    fill_frac: float,
    interval: float,
    start: float,
    seq: list[tuple[str, int, float]],
) -> None:
    py, c = both
    per_fill = int(max_tokens * fill_frac)
    buckets = [
        py.TokenBucket(max_tokens, per_fill, interval, start),
        c.TokenBucket(max_tokens, per_fill, interval, start),
    ]
    traces: list[list[Any]] = [[], []]
    for b, trace in zip(buckets, traces, strict=True):
        now = start
        for op, n, step in seq:
            now += step
            if op == "acquire":
                try:
                    trace.append(b.try_acquire(n, now))
                except ValueError:
                    trace.append("ValueError")
            elif op == "one":
                trace.append(b.acquire_at_least_one(now))
            elif op == "debit":
                trace.append(b.debit(n, now))
            elif op == "remaining":
                trace.append(b.remaining(now))
            else:
                trace.append(b.reset_after(now))
            trace.append((b.next_fill_at, b.remaining(now)))
            assert 0 <= trace[-1][1] <= max_tokens
    assert traces[1] == traces[0]
