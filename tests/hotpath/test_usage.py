"""UsageAccumulator: inline provider streams/bodies plus recorded agentgateway vectors."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.hotpath.cases import RECORDED_USAGE, RESPONSE_VECTORS, USAGE_CASES, UsageCase


def accumulate(impl: ModuleType, fmt: int, stream: bytes | None, body: bytes | None) -> Any:
    acc = impl.UsageAccumulator(fmt)
    if stream is not None:
        parser = impl.SseParser()
        for _name, data in parser.feed(stream) + parser.flush():
            acc.feed_event(data)
    if body is not None:
        acc.feed_body(body)
    return acc


def observed(acc: Any, keys: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in keys:
        value = getattr(acc, key)
        out[key] = value() if callable(value) else value
    return out


@pytest.mark.parametrize("case", USAGE_CASES, ids=[c.id for c in USAGE_CASES])
def test_usage_case(impl: ModuleType, case: UsageCase) -> None:
    acc = accumulate(impl, case.fmt, case.stream, case.body)
    assert observed(acc, case.expected) == case.expected


@pytest.mark.parametrize("case", RECORDED_USAGE, ids=[c[0] for c in RECORDED_USAGE])
def test_recorded_usage(impl: ModuleType, case: tuple[str, int, str, dict[str, object]]) -> None:
    _id, fmt, rel, expected = case
    path = RESPONSE_VECTORS / rel
    if not path.is_file():
        pytest.skip(f"{path} not available")
    acc = accumulate(impl, fmt, path.read_bytes(), None)
    assert observed(acc, expected) == expected


def test_module_constants(impl: ModuleType) -> None:
    assert (impl.FORMAT_OPENAI, impl.FORMAT_ANTHROPIC) == (0, 1)


def test_unknown_format_rejected(impl: ModuleType) -> None:
    with pytest.raises(ValueError):
        impl.UsageAccumulator(7)


def test_fresh_accumulator(impl: ModuleType) -> None:
    acc = impl.UsageAccumulator(impl.FORMAT_ANTHROPIC)
    assert (acc.input_tokens, acc.output_tokens, acc.model, acc.malformed, acc.events) == (0, 0, None, 0, 0)
    assert acc.first_token_seen is False
    assert acc.total_input_tokens() == 0


def test_model_taken_from_first_event_only(impl: ModuleType) -> None:
    acc = impl.UsageAccumulator(impl.FORMAT_OPENAI)
    acc.feed_event(b'{"model":"first","choices":[]}')
    acc.feed_event(b'{"model":"second","choices":[],"usage":{"prompt_tokens":1}}')
    assert acc.model == "first"
    assert acc.input_tokens == 1


def test_done_variants_skipped(impl: ModuleType) -> None:
    acc = impl.UsageAccumulator(impl.FORMAT_OPENAI)
    for data in (b"[DONE]", b" [DONE] ", b"[DONE]\n"):
        acc.feed_event(data)
    assert (acc.events, acc.malformed) == (0, 0)


def test_invalid_utf8_inside_usage_event_is_malformed(impl: ModuleType) -> None:
    acc = impl.UsageAccumulator(impl.FORMAT_OPENAI)
    acc.feed_event(b'{"usage":{"prompt_tokens":1},"x":"\xff"}')
    assert acc.malformed == 1
    assert acc.input_tokens == 0
