"""IR for `config.stateBackend` (our extension): where rate-limit buckets and budget reservations live."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from gateway.config.urls import redact_url


class FailureMode(str, enum.Enum):
    FAIL_OPEN = "failOpen"  # admit the request, count the error
    FAIL_CLOSED = "failClosed"  # refuse with 503 naming the state backend


class SecretUrl:
    """A connection URL that may hold a password: repr (logs, /config_dump) shows it redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return redact_url(self._value, lone_user_is_secret=True)

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretUrl) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class StateBackend:
    """config.stateBackend. `type` is what other parts check (e.g. `--workers` refuses memory)."""

    type: Literal["memory", "redis"] = "memory"
    url: SecretUrl | None = None
    key_prefix: str = "agentgateway:"
    timeout: float = 0.25  # seconds, per Redis call
    rate_limit_failure_mode: FailureMode = FailureMode.FAIL_OPEN
    budget_failure_mode: FailureMode = FailureMode.FAIL_CLOSED
    # How long a budget reservation outlives the process that holds it (live processes renew theirs).
    reservation_ttl: float = 60.0
