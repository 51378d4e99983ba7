"""The in-memory rate-limit and budget suites, run again with `stateBackend: redis`: same 429s,
same x-ratelimit-* headers, same budget messages and settlement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cost import conftest as cost_conftest
from tests.cost.test_budgets import (  # noqa: F401 - collected here to run against Redis
    test_100_concurrent_requests_never_overshoot,
    test_anthropic_sdk_gets_rate_limit_error,
    test_charlie_is_blocked_once_his_budget_is_spent,
    test_client_disconnect_charges_what_was_reported_and_releases_the_rest,
    test_openai_sdk_gets_insufficient_quota,
    test_stream_is_settled_on_its_final_usage,
)
from tests.e2e import test_rate_limit
from tests.e2e.harness import GatewayProc, MockProc
from tests.e2e.test_rate_limit import (  # noqa: F401 - collected here to run against Redis
    test_most_constrained_entry_is_reported,
    test_openai_sdk_gets_rate_limit_error,
    test_per_key_buckets_are_independent,
    test_plain_route_allows_ten_then_429,
    test_rejections_are_counted_in_metrics,
    test_tokens_mode_debits_a_streamed_response,
    test_tokens_mode_debits_actual_usage_after_the_response,
    test_tokens_mode_debits_what_was_counted_when_the_client_disconnects,
    test_tokens_mode_overshoot_succeeds_and_the_next_request_is_refused,
)
from tests.state.redis_server import RedisServer

_ANCHOR = "  readinessAddr: $READINESS_ADDR\n"


def with_redis(config: str, url: str) -> str:
    assert _ANCHOR in config
    return config.replace(_ANCHOR, _ANCHOR + f'  stateBackend: {{type: redis, url: "{url}", timeout: 1s}}\n', 1)


@pytest.fixture(scope="module")
def gw_rate(mock: MockProc, module_redis: RedisServer) -> Iterator[GatewayProc]:
    g = GatewayProc(with_redis(test_rate_limit.CONFIG, module_redis.url), env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> str:
    return str(tmp_path / "spend.db")


@pytest.fixture
def gw(request: pytest.FixtureRequest, mock: MockProc, ledger: str) -> Iterator[GatewayProc]:
    if request.function.__module__ == test_rate_limit.__name__:  # one gateway for the module, as there
        yield request.getfixturevalue("gw_rate")
        return
    server: RedisServer = request.getfixturevalue("redis_server")  # fresh budgets for every test
    kw: dict[str, Any] = {"users": {"charlie": ("0.0003", "daily"), "dave": ("0.001", "daily"),
                                    "erin": ("1", "daily"), "frank": ("0.0002", "daily")}}
    g = GatewayProc(with_redis(cost_conftest.config(ledger, **kw), server.url), env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()

