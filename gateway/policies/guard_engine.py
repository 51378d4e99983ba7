"""Applying regex guards to one text, and to a text that arrives in pieces (streams).

`Detections` tallies what was found per entity type and action; it never sees the values, so
nothing here can log or store them. A `reject` guard raises `GuardRejected` with its response.
"""

from __future__ import annotations

import re
from functools import lru_cache
from re import _parser as sre_parse  # type: ignore[attr-defined]

from gateway.config.model_guard import ENTITY_NAMES, RegexGuard
from gateway.errors import GuardRejected
from gateway.fastpath import PII_KIND_COUNT, mask_pii, scan_pii

CUSTOM = "custom"
# Hold-back bounds for streamed text (characters). A builtin entity is at most ~320 characters
# (email); digits-and-spaces entities at most ~25. A custom pattern holds back its longest
# possible match (the regex's maximum width), at most MAX_HOLD; a pattern with no maximum
# (`+`, `*`, `{n,}`) holds CUSTOM_CAP, so only its matches longer than that can be missed when
# they arrive split (README: bound such patterns, e.g. `[0-9]{1,32}`, to hold back less).
TOKEN_HOLD = 320
NUMERIC_HOLD = 64
CUSTOM_CAP = 256
MAX_HOLD = 1024

_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-@()")
_NUMERIC = frozenset("0123456789-.()+")


class Detections:
    """Counts per (entity, action) for one request and phase; flushed to metrics once."""

    __slots__ = ("counts", "rejected", "failed_open")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.rejected = False
        self.failed_open = False  # a webhook guard failed and failureMode is failOpen

    def add(self, entity: str, action: str, n: int) -> None:
        key = (entity, action)
        self.counts[key] = self.counts.get(key, 0) + n

    def action(self) -> str:
        """agentgateway's guardrail_checks action label for this phase."""
        if self.rejected:
            return "Reject"
        if self.counts:
            return "Mask"
        return "FailOpen" if self.failed_open else "Allow"


def rejection(guard: RegexGuard) -> GuardRejected:
    r = guard.rejection
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in r.headers]
    return GuardRejected(r.status, r.body.encode(), headers)


def _reject_check(text: str, guard: RegexGuard, found: Detections) -> None:
    hits = scan_pii(text, guard.kinds) if guard.kinds else []
    for _s, _e, kind in hits:
        found.add(ENTITY_NAMES[kind.bit_length() - 1], "reject", 1)
    custom = sum(1 for p in guard.patterns if p.search(text))
    if custom:
        found.add(CUSTOM, "reject", custom)
    if hits or custom:
        found.rejected = True
        raise rejection(guard)


def _mask(text: str, guard: RegexGuard, found: Detections) -> str:
    if guard.kinds:
        text, counts = mask_pii(text, guard.kinds, guard.labels)
        for idx in range(PII_KIND_COUNT):
            if counts[idx]:
                found.add(ENTITY_NAMES[idx], "mask", counts[idx])
    for pattern in guard.patterns:
        text, n = pattern.subn(guard.custom_label, text)
        if n:
            found.add(CUSTOM, "mask", n)
    return text


def apply_guards(text: str, guards: tuple[RegexGuard, ...], found: Detections) -> str:
    """`text` after every guard in order (each sees the previous one's masking)."""
    for guard in guards:
        if guard.action == "reject":
            _reject_check(text, guard, found)
        else:
            text = _mask(text, guard, found)
    return text


@lru_cache(maxsize=1024)
def pattern_hold(pattern: re.Pattern[str]) -> int:
    """Characters to hold back so that any match of `pattern` split over chunks is seen whole."""
    try:
        _lo, hi = sre_parse.parse(pattern.pattern, pattern.flags).getwidth()
    except Exception:  # noqa: BLE001 - private parser API; an unknown shape just gets the cap
        return CUSTOM_CAP
    return CUSTOM_CAP if hi >= sre_parse.MAXREPEAT else min(int(hi), MAX_HOLD)


def hold_start(s: str) -> int:
    """Start of the tail of `s` that could still be the beginning of an entity.

    That is the trailing space-free token made of entity characters (a partial email, card,
    phone...), extended over earlier space-separated digit groups ("4111 1111 11"), bounded.
    """
    n = len(s)
    j = n
    while j > 0 and n - j < TOKEN_HOLD and s[j - 1] in _TOKEN:
        j -= 1
    while j > 0 and n - j < NUMERIC_HOLD and s[j - 1] == " " and (j == n or s[j] in "0123456789("):
        k = j - 1
        while k > 0 and s[k - 1] in _NUMERIC:
            k -= 1
        if k == j - 1:
            break
        if k > 0 and s[k - 1] in _TOKEN:
            # The digits end a longer token ("a+1411"): hold all of it, or a later scan of the tail
            # alone would see a number start where the whole text has none.
            while k > 0 and n - k < TOKEN_HOLD and s[k - 1] in _TOKEN:
                k -= 1
            return k
        j = k
    return j


class StreamText:
    """One streamed text (a choice's content, a content block): releases masked text as soon as
    no entity can still straddle the release point."""

    __slots__ = ("guards", "kinds", "custom", "custom_hold", "pending", "found")

    def __init__(self, guards: tuple[RegexGuard, ...], found: Detections) -> None:
        self.guards = guards
        self.kinds = 0
        for g in guards:
            self.kinds |= g.kinds
        self.custom = tuple(p for g in guards for p in g.patterns)
        self.custom_hold = max((pattern_hold(p) for p in self.custom), default=0)
        self.pending = ""
        self.found = found

    def push(self, text: str, final: bool = False) -> str:
        """Masked text that can be sent now; everything when `final`."""
        s = self.pending + text
        cut = len(s) if final else self._cut(s)
        self.pending = s[cut:]
        return apply_guards(s[:cut], self.guards, self.found) if cut else ""

    def flush(self) -> str:
        return self.push("", final=True)

    def _cut(self, s: str) -> int:
        n = len(s)
        cut = hold_start(s)
        if self.custom:
            # A match that is not complete yet ends past `n`, so it starts after n - custom_hold.
            cut = min(cut, max(0, n - self.custom_hold))
        cut = max(cut, n - MAX_HOLD)
        for _ in range(8):  # moving the cut back can expose another straddling match; bounded
            moved = self._straddle(s, cut)
            if moved == cut:
                break
            cut = max(moved, n - MAX_HOLD)
        return cut

    def _straddle(self, s: str, cut: int) -> int:
        """The cut moved back to the start of any complete match that crosses it."""
        for start, end, _kind in scan_pii(s, self.kinds) if self.kinds else ():
            if start < cut < end:
                cut = start
        for pattern in self.custom:
            for m in pattern.finditer(s):
                if m.start() < cut < m.end():
                    cut = m.start()
        return cut
