"""Budget periods and the reservation book (clock passed in, like the token bucket's `now`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.budget.book import BudgetBook, BudgetExceeded
from gateway.budget.periods import window
from gateway.config.model_cost import BudgetLimit, Budgets, Period

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")


def ts(text: str, tz: ZoneInfo = UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_windows_follow_the_calendar_in_the_budget_timezone() -> None:
    now = ts("2026-03-29T12:00:00", PARIS)  # the day Paris moves to summer time: 23 hours long
    key, start, end = window(Period.DAILY, PARIS, now)
    assert key == "2026-03-29" and end is not None and end - start == 23 * 3600
    assert window(Period.WEEKLY, UTC, ts("2026-12-03T10:00:00"))[:2] == ("2026-W49", ts("2026-11-30T00:00:00"))
    key, start, end = window(Period.MONTHLY, UTC, ts("2026-12-31T23:59:59"))
    assert (key, start, end) == ("2026-12", ts("2026-12-01T00:00:00"), ts("2027-01-01T00:00:00"))
    assert window(Period.TOTAL, UTC, 0.0) == ("total", 0.0, None)


def test_reservations_hold_budget_until_settled_and_periods_reset() -> None:
    clock = [ts("2026-12-03T23:00:00")]
    budgets = Budgets(users=(("ann", BudgetLimit(1000, Period.DAILY)),), teams=(("t", BudgetLimit(1500)),))
    book = BudgetBook(budgets, clock=lambda: clock[0])
    first = book.reserve("ann", "t", 600)
    with pytest.raises(BudgetExceeded) as info:
        book.reserve("ann", "t", 600)  # 600 reserved + 600 > 1000, even though nothing is spent yet
    assert info.value.account.name == "ann" and "resets 2026-12-04T00:00:00Z" in str(info.value)
    book.settle(first, 100)
    second = book.reserve("ann", "t", 600)
    book.settle(second, 600)
    ann = book.account("user", "ann")
    assert ann is not None and (ann.spent, ann.reserved) == (700, 0)
    clock[0] = ts("2026-12-04T00:00:01")  # next day: the user's daily budget is fresh, the team's monthly is not
    ann = book.account("user", "ann")
    team = book.account("team", "t")
    assert ann is not None and ann.spent == 0 and team is not None and team.spent == 700
    with pytest.raises(BudgetExceeded) as info:
        book.reserve("ann", "t", 900)
    assert info.value.account.scope == "team"


def test_unlisted_users_get_the_default_and_unknown_identity_is_not_limited() -> None:
    book = BudgetBook(Budgets(default_user=BudgetLimit(10)))
    with pytest.raises(BudgetExceeded):
        book.reserve("stranger", None, 11)
    assert book.reserve(None, None, 10**12).accounts == ()


def test_alerts_fire_once_per_threshold() -> None:
    book = BudgetBook(Budgets(users=(("ann", BudgetLimit(100)),)))
    fired = [a.threshold for a in book.settle(book.reserve("ann", None, 85), 85)]
    assert fired == [0.8]
    assert book.settle(book.reserve("ann", None, 5), 5) == []
    fired = [a.threshold for a in book.settle(book.reserve("ann", None, 10), 10)]
    assert fired == [1.0]


def test_book_resumes_from_loaded_rollups() -> None:
    now = ts("2026-12-03T10:00:00")
    budgets = Budgets(users=(("ann", BudgetLimit(1000, Period.DAILY)),))
    book = BudgetBook(budgets, {("user", "ann", "daily@UTC", "2026-12-03"): 900,
                                ("user", "ann", "daily@UTC", "2026-12-02"): 5000}, clock=lambda: now)
    with pytest.raises(BudgetExceeded):
        book.reserve("ann", None, 101)
    book.reserve("ann", None, 100)


def test_memory_is_bounded_without_losing_spend() -> None:
    book = BudgetBook(Budgets(default_user=BudgetLimit(1000)))
    book._max_accounts = 50  # the production cap is 100k; the rule is the same
    spender = book.reserve("spender", None, 10)
    book.settle(spender, 10)
    for i in range(500):  # many one-off names, each reserving and releasing nothing
        book.settle(book.reserve(f"user-{i}", None, 5), 0)
    assert len(book.snapshot()) <= 50
    # The account that holds spend survived every sweep.
    acc = book.account("user", "spender")
    assert acc is not None and acc.spent == 10
    # Names with no limit at all are never remembered.
    unlimited = BudgetBook(Budgets(users=(("ann", BudgetLimit(100)),)))
    for i in range(100):
        assert unlimited.account("user", f"stranger-{i}") is None
    assert unlimited.snapshot() == []
