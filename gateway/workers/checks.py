"""Configs that must not run as several workers: per-process state would multiply limits by N."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.config.model import GatewayConfig, Policies


def _policies(config: GatewayConfig) -> Iterator[tuple[str, Policies]]:
    for bind in config.binds:
        for listener in bind.listeners:
            for i, route in enumerate(listener.routes):
                name = route.name or f"#{i}"
                yield f"route {name}", route.policies
                for rb in route.backends:
                    policies = getattr(rb.target, "policies", None)
                    if isinstance(policies, Policies):
                        yield f"route {name} backend", policies


def memory_state_refusal(config: GatewayConfig, workers: int) -> str | None:
    """Why `--workers N` cannot run this config, or None. Limits kept in process memory would be
    enforced per worker (N times the configured rate or budget), so the memory backend refuses
    rather than silently multiplying them."""
    if workers <= 1:
        return None
    # config.stateBackend (absent, or type "memory" | "redis"): read loosely so this check does not
    # depend on the field's exact shape.
    backend = getattr(config.process, "state_backend", None)
    if str(getattr(backend, "type", None) or "memory").lower() != "memory":
        return None
    stateful: list[str] = []
    if config.process.cost.budgets is not None:
        stateful.append("config.budgets")
    limited = sorted({where for where, p in _policies(config) if p.local_rate_limit})
    if limited:
        stateful.append(f"localRateLimit ({', '.join(limited[:3])}{', ...' if len(limited) > 3 else ''})")
    if not stateful:
        return None
    return (f"--workers {workers} needs a shared state backend: {' and '.join(stateful)} would be enforced "
            f"by each worker separately, multiplying every limit by {workers}. Set config.stateBackend "
            f"to {{type: redis, url: redis://...}} so all workers share them, or run with --workers 1.")
