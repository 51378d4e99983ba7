"""The ejection state machine and the provider's retry hints (pure: every instant is passed in)."""

from __future__ import annotations

import pytest

from gateway.upstream.health import DEFAULT_BASE, HealthTable, retry_hint


def test_eject_then_half_open_single_trial() -> None:
    h = HealthTable()
    assert h.failure("p", now=100.0) == DEFAULT_BASE
    assert not h.available("p", 105.0)
    assert h.available("p", 110.0)  # the cool-down is over: this caller is the trial
    assert not h.available("p", 110.1)  # everyone else waits for the trial's outcome
    h.success("p")
    assert h.available("p", 110.2)


def test_failed_trial_doubles_the_cooldown_up_to_the_cap() -> None:
    h = HealthTable(base=10.0, cap=25.0)
    assert h.failure("p", 0.0) == 10.0
    assert h.available("p", 10.0)
    assert h.failure("p", 10.0) == 20.0
    assert h.available("p", 30.0)
    assert h.failure("p", 30.0) == 25.0


def test_a_lost_trial_releases_the_next_one_after_another_cooldown() -> None:
    h = HealthTable()
    h.failure("p", 0.0)
    assert h.available("p", 10.0)  # the trial's client went away: no outcome is ever reported
    assert not h.available("p", 15.0)
    assert h.available("p", 20.0)


def test_provider_hint_wins_over_backoff() -> None:
    h = HealthTable()
    assert h.failure("p", 0.0, hint=2.0) == 2.0
    assert h.available("p", 2.0)


def test_threshold_delays_ejection() -> None:
    h = HealthTable()
    assert h.failure("p", 0.0, threshold=2) == 0.0
    assert h.available("p", 0.1)
    assert h.failure("p", 0.2, threshold=2) == DEFAULT_BASE


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT"}, 30.0),
    ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms"}, 360.0),
    ({"x-ratelimit-reset": "12"}, 12.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_hints(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_hint(headers, wall_now=1767225600.0) == seconds  # 2026-01-01T00:00:00Z
