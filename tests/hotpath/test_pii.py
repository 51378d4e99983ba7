"""PII scanner: the shared case table on each implementation, and py-vs-c differential tests."""

from __future__ import annotations

from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hotpath.pii_cases import PII_CASES

LABELS = ["<SSN>", "<CREDIT_CARD>", "<PHONE_NUMBER>", "<EMAIL_ADDRESS>", "<CA_SIN>"]
SETTINGS = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize(("text", "kinds", "expected"), [c[1:] for c in PII_CASES], ids=[c[0] for c in PII_CASES])
def test_case_table(impl: ModuleType, text: str, kinds: int, expected: list[tuple[str, int]]) -> None:
    found = impl.scan_pii(text, kinds)
    assert [(text[s:e], k) for s, e, k in found] == expected


@pytest.mark.parametrize(("text", "kinds", "expected"), [c[1:] for c in PII_CASES], ids=[c[0] for c in PII_CASES])
def test_mask_replaces_exactly_the_matches(impl: ModuleType, text: str, kinds: int,
                                           expected: list[tuple[str, int]]) -> None:
    masked, counts = impl.mask_pii(text, kinds, LABELS)
    for value, _kind in expected:
        assert value not in masked
    assert sum(counts) == len(expected)
    for _value, kind in expected:
        assert LABELS[kind.bit_length() - 1] in masked
    if not expected:
        assert masked == text


# Random texts built from the pieces entities are made of, so near-misses come up constantly.
PIECES = [
    "0", "1", "2", "3", "4", "5", "6", "9", "123", "45", "6789", "4111", "1111", "555", "234",
    "046", "454", "286", "3782", "822463", "10005", "-", " ", ".", "(", ")", "+", "+1", "@",
    "a", "x", "com", "io", ".com", "_", "%", "\u00e9", "\u0661", "\uff11", "\U0001f600", "\n", ",",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(
    alphabet="0123456789 -.+()@abc_\u00e9\u0663", max_size=60
)
kinds = st.integers(min_value=0, max_value=31)


@SETTINGS
@given(text=texts, kind_mask=kinds)
def test_scan_py_vs_c(both: tuple[ModuleType, ModuleType], text: str, kind_mask: int) -> None:
    py, c = both
    assert c.scan_pii(text, kind_mask) == py.scan_pii(text, kind_mask)
    assert c.mask_pii(text, kind_mask, LABELS) == py.mask_pii(text, kind_mask, LABELS)


@SETTINGS
@given(text=texts)
def test_matches_sorted_disjoint_and_bounded(impl: ModuleType, text: str) -> None:
    found = impl.scan_pii(text, 31)
    prev_end = 0
    for start, end, kind in found:
        assert prev_end <= start < end <= len(text)
        assert kind in (1, 2, 4, 8, 16)
        prev_end = end
