"""Budget threshold alerts: a log line once per threshold and period, a metric, an optional webhook.

The webhook POST runs as a background task with bounded retries; requests never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
from prometheus_client import Counter

from gateway.budget.book import Alert
from gateway.pricing.catalog import usd_text

log = logging.getLogger("agentgateway.budget")

RETRIES = 3
_BACKOFF = 0.5  # seconds, doubled per retry
_TIMEOUT = aiohttp.ClientTimeout(total=5)
_CLOSE_GRACE = 2.0


class Alerter:
    def __init__(self, webhook: str | None, counter: Counter) -> None:
        self._webhook = webhook
        self._counter = counter
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0  # webhook deliveries that got a 2xx

    def fire(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            acc = alert.account
            log.warning("budget alert: %s %r reached %d%% of $%s per %s period (spent $%s, resets %s)",
                        acc.scope, acc.name, round(alert.threshold * 100), usd_text(acc.limit), acc.period.value,
                        usd_text(alert.spent), acc.reset_text())
            self._counter.labels(acc.scope, f"{alert.threshold:g}").inc()
            if self._webhook is not None:
                task = asyncio.get_running_loop().create_task(self._post(_payload(alert)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _post(self, payload: dict[str, Any]) -> None:
        assert self._webhook is not None
        delay = _BACKOFF
        for attempt in range(1, RETRIES + 1):
            try:
                async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
                    async with session.post(self._webhook, json=payload) as resp:
                        if resp.status < 300:
                            self.sent += 1
                            return
                        problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
            log.warning("budget webhook attempt %d/%d failed: %s", attempt, RETRIES, problem)
            if attempt < RETRIES:
                await asyncio.sleep(delay)
                delay *= 2

    async def close(self) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=_CLOSE_GRACE)
            for task in pending:
                task.cancel()


def _payload(alert: Alert) -> dict[str, Any]:
    acc = alert.account
    return {
        "type": "budget.threshold",
        "scope": acc.scope,
        "name": acc.name,
        "threshold": alert.threshold,
        "limitUsd": usd_text(acc.limit),
        "spentUsd": usd_text(alert.spent),
        "period": acc.period.value,
        "periodKey": acc.key,
        "resetsAt": acc.reset_text(),
        "timestamp": time.time(),
    }
