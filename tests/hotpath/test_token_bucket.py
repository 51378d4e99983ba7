"""TokenBucket: agentgateway localRateLimit semantics from the shared table."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.hotpath.cases import BUCKET_CASES, BucketOp


def apply(bucket: object, op: str, args: tuple[float, ...]) -> object:
    method = {
        "acquire": "try_acquire",
        "one": "acquire_at_least_one",
        "debit": "debit",
        "remaining": "remaining",
        "reset": "reset_after",
    }[op]
    return getattr(bucket, method)(*args)


BucketCase = tuple[str, tuple[int, int, float, float], list[BucketOp]]


@pytest.mark.parametrize("case", BUCKET_CASES, ids=[c[0] for c in BUCKET_CASES])
def test_bucket_case(impl: ModuleType, case: BucketCase) -> None:
    _id, ctor, ops = case
    bucket = impl.TokenBucket(*ctor)
    for i, (op, args, expected) in enumerate(ops):
        got = apply(bucket, op, args)
        want = pytest.approx(expected) if isinstance(expected, float) else expected
        assert got == want, (i, op, args)


def test_config_validation(impl: ModuleType) -> None:
    with pytest.raises(ValueError):
        impl.TokenBucket(1, 2, 1.0, 0.0)  # tokensPerFill > maxTokens (upstream MaxTokensTooLow)
    with pytest.raises(ValueError):
        impl.TokenBucket(1, 1, 0.0, 0.0)
    with pytest.raises(ValueError):
        impl.TokenBucket(1, 1, float("inf"), 0.0)
    with pytest.raises(ValueError):
        impl.TokenBucket(-1, 0, 1.0, 0.0)


def test_negative_acquire_rejected(impl: ModuleType) -> None:
    with pytest.raises(ValueError):
        impl.TokenBucket(1, 1, 1.0, 0.0).try_acquire(-1, 0.0)


def test_out_of_int64_range_is_overflow(impl: ModuleType) -> None:
    bucket = impl.TokenBucket(1, 1, 1.0, 0.0)
    with pytest.raises(OverflowError):
        bucket.debit(1 << 64, 0.0)


def test_attributes(impl: ModuleType) -> None:
    bucket = impl.TokenBucket(10, 2, 0.5, 3.0)
    assert (bucket.max_tokens, bucket.tokens_per_fill, bucket.fill_interval) == (10, 2, 0.5)
    assert bucket.next_fill_at == 3.5
