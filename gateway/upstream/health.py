"""Passive health of LLM providers: eject on failure, probe back in after a cool-down.

No health policy is needed for this (agentgateway only ejects when `health` is configured,
its issue #1087): a provider that failed a request (connect error, timeout, 5xx, 429) is skipped
by later requests until its cool-down ends. The cool-down honours the provider's own hint
(Retry-After, retry-after-ms, x-ratelimit-reset*) and otherwise starts at `base` and doubles per
consecutive failure up to `cap`. When it ends, ONE request is let through (half-open); success
restores the provider, failure ejects it again for longer. Every instant is passed in (`now`),
so the state machine is a pure function of its inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

DEFAULT_BASE = 10.0  # seconds of the first cool-down without a hint
DEFAULT_CAP = 300.0
MAX_HINT = 3600.0  # a provider asking for more than an hour is capped: config reload is the cure
MAX_TRACKED = 10_000  # bound on remembered providers (one entry per failing backend)


@dataclass
class _State:
    failures: int = 0  # consecutive failures
    ejected_until: float = 0.0
    cooldown: float = 0.0


class HealthTable:
    """Per-provider ejection state, shared by all requests of the process (one event loop)."""

    def __init__(self, base: float = DEFAULT_BASE, cap: float = DEFAULT_CAP) -> None:
        self.base = base
        self.cap = cap
        self._states: dict[str, _State] = {}

    def available(self, key: str, now: float) -> bool:
        """True if `key` may take a request now; grants the one half-open trial after a cool-down."""
        state = self._states.get(key)
        if state is None or state.ejected_until == 0.0:
            return True
        if now < state.ejected_until:
            return False
        # Half-open: this caller is the trial; others stay away for another cool-down, so a trial
        # that never reports back (client gone) releases the next one by itself.
        state.ejected_until = now + state.cooldown
        return True

    def ejected_until(self, key: str) -> float:
        state = self._states.get(key)
        return state.ejected_until if state is not None else 0.0

    def success(self, key: str) -> None:
        self._states.pop(key, None)

    def failure(self, key: str, now: float, hint: float | None = None, threshold: int = 1,
                duration: float | None = None) -> float:
        """Record a failure; returns the cool-down started (0 when still below `threshold`)."""
        state = self._states.get(key)
        if state is None:
            if len(self._states) >= MAX_TRACKED:
                self._states.pop(next(iter(self._states)))
            state = self._states[key] = _State()
        state.failures += 1
        if state.failures < threshold:
            return 0.0
        base = self.base if duration is None else duration
        backoff = min(self.cap, base * 2 ** max(0, state.failures - threshold))
        state.cooldown = min(MAX_HINT, hint) if hint is not None and hint > 0 else backoff
        state.ejected_until = now + state.cooldown
        return state.cooldown


def retry_hint(headers: dict[str, str], wall_now: float) -> float | None:
    """Seconds the provider asked us to wait, from its response headers (case-folded names)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        seconds = _number(ms)
        if seconds is not None:
            return seconds / 1000.0
    after = headers.get("retry-after")
    if after is not None:
        seconds = _number(after)
        if seconds is not None:
            return seconds
        try:
            return max(0.0, parsedate_to_datetime(after).timestamp() - wall_now)
        except (TypeError, ValueError):
            pass
    # OpenAI: x-ratelimit-reset-requests/-tokens ("1s", "6m0s", "20ms"); agentgateway: x-ratelimit-reset.
    resets = [_duration(v) for k, v in headers.items() if k.startswith("x-ratelimit-reset")]
    found = [r for r in resets if r is not None]
    return max(found) if found else None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 else None


_UNITS = (("ms", 0.001), ("h", 3600.0), ("m", 60.0), ("s", 1.0))


def _duration(text: str) -> float | None:
    """"6m0s", "1.5s", "20ms" or a bare number of seconds."""
    text = text.strip()
    plain = _number(text)
    if plain is not None:
        return plain
    total, rest = 0.0, text
    for _ in range(8):  # at most h, m, s, ms parts
        if not rest:
            return total
        i = 0
        while i < len(rest) and (rest[i].isdigit() or rest[i] == "."):
            i += 1
        if i == 0:
            return None
        unit = next(((u, f) for u, f in _UNITS if rest[i:].startswith(u)), None)
        if unit is None:
            return None
        try:
            total += float(rest[:i]) * unit[1]
        except ValueError:
            return None
        rest = rest[i + len(unit[0]):]
    return total if not rest else None
