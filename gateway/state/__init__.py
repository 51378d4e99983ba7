"""Shared state (`config.stateBackend: redis`): rate-limit buckets and budget reservations in Redis.

The memory backend is the existing in-process code (policies/local_rate_limit.py, budget/book.py);
this package is only imported when Redis is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.policies.base import Services
    from gateway.state.backend import RedisState

STATE_KEY = "stateBackend"


def shared_state(services: Services) -> RedisState | None:
    """The process's Redis connection when `config.stateBackend.type` is redis, else None (memory)."""
    cfg = services.config.process.state_backend
    if cfg is None or cfg.type != "redis":
        return None
    from gateway.state.backend import RedisState

    state: RedisState = services.shared(STATE_KEY, lambda: RedisState(cfg, services.metrics))
    return state
