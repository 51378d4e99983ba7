"""Two gateway processes sharing one real Redis: limits and budgets hold for the deployment, the
failure modes apply while Redis is down, and everything recovers when it is back."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.cost.helpers import records
from tests.e2e.harness import GatewayProc, MockProc, http, stream_chunks
from tests.state.helpers import TOKEN_NANOS, ask, burst, client, config, reserved, spent, start, wait_until
from tests.state.redis_server import RedisServer

COST = 15 * TOKEN_NANOS  # the mock's usage for ask(): 2 input + 13 output tokens


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("ledgers")
    return str(d / "a.db"), str(d / "b.db")


@pytest.fixture(scope="module")
def pair(mock: MockProc, module_redis: RedisServer,
         ledgers: tuple[str, str]) -> Iterator[tuple[GatewayProc, GatewayProc]]:
    """Shared by this module's tests; each uses its own routes or users."""
    users = {"dave": "0.5", "erin": "1"}
    a = start(module_redis.url, mock.addr, users=users, ledger=ledgers[0])
    b = start(module_redis.url, mock.addr, users=users, ledger=ledgers[1])
    yield a, b
    a.stop()
    b.stop()


def test_two_gateways_admit_exactly_max_tokens_in_a_burst(pair: tuple[GatewayProc, GatewayProc]) -> None:
    calls = [lambda g=pair[i % 2]: http("GET", f"{g.url}/burst") for i in range(60)]
    responses = burst(calls, 30)
    statuses = [r.status_code for r in responses]
    assert statuses.count(429) == 40, statuses  # maxTokens 20 for the deployment, not per process
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.text == "rate limit exceeded"
    assert (refused.headers["x-ratelimit-limit"], refused.headers["x-ratelimit-remaining"]) == ("20", "0")
    assert 3590 <= int(refused.headers["x-ratelimit-reset"]) <= 3600


def test_per_key_buckets_are_shared(pair: tuple[GatewayProc, GatewayProc], module_redis: RedisServer) -> None:
    a, b = pair

    def call(g: GatewayProc, user: str) -> int:
        return http("GET", f"{g.url}/keyed", headers={"x-user-id": user}).status_code

    assert [call(a, "ann") != 429, call(b, "ann") != 429, call(a, "ann") != 429] == [True, True, True]
    assert call(b, "ann") == 429 and call(a, "ann") == 429
    assert call(b, "bob") != 429  # another key, another bucket
    keys = client(module_redis.url).keys("agw-test:rl:*")
    assert sum(k.endswith(":k:ann") for k in keys) == 1 and sum(k.endswith(":k:bob") for k in keys) == 1
    # Idle buckets expire once they would be full again (3 fills of 1h, plus a second).
    ttl = client(module_redis.url).pttl(next(k for k in keys if k.endswith(":k:ann")))
    assert 3 * 3600_000 < ttl <= 3 * 3600_000 + 1000


def test_refill_follows_redis_time(pair: tuple[GatewayProc, GatewayProc]) -> None:
    a, b = pair
    assert http("GET", f"{a.url}/refill").status_code != 429
    assert http("GET", f"{b.url}/refill").status_code == 429
    time.sleep(1.1)  # fillInterval 1s
    assert http("GET", f"{b.url}/refill").status_code != 429


def test_100_concurrent_requests_across_two_gateways_never_overshoot(
        pair: tuple[GatewayProc, GatewayProc], module_redis: RedisServer, ledgers: tuple[str, str]) -> None:
    calls = [lambda g=pair[i % 2]: ask(g.url, "dave", **{"x-mock-delay-ms": "30"}).status_code for i in range(100)]
    statuses = burst(calls, 100)
    ok = statuses.count(200)
    assert ok + statuses.count(429) == 100
    # dave has $0.5 = 500 tokens; a request reserves ~45 tokens and costs 15: at least 11 fit at once.
    assert 11 <= ok <= 33
    assert wait_until(lambda: reserved(module_redis.url, "dave") == 0)
    assert wait_until(lambda: spent(module_redis.url, "dave") == ok * COST)
    assert spent(module_redis.url, "dave") <= 500 * TOKEN_NANOS
    rows = records(ledgers[0], "dave", wait_for=50) + records(ledgers[1], "dave", wait_for=50)
    assert len(rows) == 100 and sum(r["cost_nanos"] for r in rows) == ok * COST


def test_settled_on_stream_completion_and_on_client_disconnect(
        pair: tuple[GatewayProc, GatewayProc], module_redis: RedisServer) -> None:
    a, _ = pair
    body = {"model": "priced-model", "max_tokens": 20, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    streamed = b"".join(stream_chunks(f"{a.url}/v1/messages", body, {"x-user-id": "erin"}))
    assert b"message_stop" in streamed
    assert wait_until(lambda: spent(module_redis.url, "erin") > 0 and reserved(module_redis.url, "erin") == 0)
    after_stream = spent(module_redis.url, "erin")
    cut = stream_chunks(f"{a.url}/v1/messages", body,
                        {"x-user-id": "erin", "x-mock-chunks": "20", "x-mock-latency-ms": "200"})
    next(cut)
    assert reserved(module_redis.url, "erin") > 0  # held while the stream runs
    cut.close()  # the client hangs up
    assert wait_until(lambda: reserved(module_redis.url, "erin") == 0)
    assert wait_until(lambda: spent(module_redis.url, "erin") > after_stream)  # what was reported is charged


def test_tokens_limit_is_shared_and_debited_after_the_response(
        pair: tuple[GatewayProc, GatewayProc], module_redis: RedisServer) -> None:
    a, b = pair
    first = ask(a.url, "tom", path="/tok/v1/messages")
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining"] == "30"  # nothing taken up front
    redis = client(module_redis.url)
    bucket = next(k for k in redis.keys("agw-test:rl:*") if redis.hget(k, "t") is not None and
                  int(redis.pttl(k)) > 29 * 3600_000)  # the tokens route's (30 fills of 1h)
    assert wait_until(lambda: redis.hget(bucket, "t") == "15")  # debited with the response's 15 tokens
    assert ask(b.url, "tom", path="/tok/v1/messages").headers["x-ratelimit-remaining"] == "15"
    assert wait_until(lambda: redis.hget(bucket, "t") == "0")
    refused = ask(b.url, "tom", path="/tok/v1/messages")
    assert refused.status_code == 429 and refused.json()["error"]["message"] == "rate limit exceeded"


def test_failure_modes_while_redis_is_down_and_recovery(mock: MockProc, redis_server: RedisServer) -> None:
    # a: rate limits failOpen, budgets failClosed (the defaults); b: the other way round.
    users = {"dave": "0.5", "fay": "1"}
    a = start(redis_server.url, mock.addr, users=users, timeout="200ms", log_level="warn")  # no request lines
    b = start(redis_server.url, mock.addr, users=users, timeout="200ms", rate_mode="failClosed",
              budget_mode="failOpen")
    try:
        assert ask(a.url, "dave").status_code == 200
        redis_server.stop()
        for _ in range(25):  # beyond maxTokens: failOpen admits without counting
            r = http("GET", f"{a.url}/burst")
            assert r.status_code not in (429, 503) and "x-ratelimit-limit" not in r.headers
        refused = ask(a.url, "dave")
        assert refused.status_code == 503
        assert refused.json()["error"]["type"] == "overloaded_error"
        message = refused.json()["error"]["message"]
        assert message.startswith("state backend unavailable: redis at 127.0.0.1:") and "budgets" in message
        sdk = openai.OpenAI(base_url=f"{a.url}/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.InternalServerError) as info:
            sdk.chat.completions.create(model="priced-model", max_tokens=20, extra_headers={"x-user-id": "dave"},
                                        messages=[{"role": "user", "content": "x"}])
        assert info.value.status_code == 503 and info.value.code == "state_backend_unavailable"
        plain = http("GET", f"{b.url}/burst")
        assert plain.status_code == 503 and plain.text.startswith("state backend unavailable")
        assert plain.text.endswith("rate limits cannot be checked")
        assert ask(b.url, "fay").status_code == 200  # budgets failOpen
        _, metrics = a.get(a.stats_port, "/metrics")
        assert 'agentgateway_state_backend_errors_total{action="failClosed",operation="budgetReserve"}' in \
            metrics.decode()

        redis_server.start()  # same port, empty: the gateways reconnect by themselves
        assert wait_until(lambda: ask(a.url, "dave").status_code == 200)
        assert http("GET", f"{a.url}/burst").headers["x-ratelimit-remaining"] == "19"
        assert http("GET", f"{b.url}/burst").headers["x-ratelimit-remaining"] == "18"
        # The request admitted unreserved while Redis was down is charged once it is back.
        assert wait_until(lambda: spent(redis_server.url, "fay") == COST, timeout=20)
    finally:
        _, err_a = a.stop()
        b.stop()
    # Dozens of failures, one warning per 10 seconds.
    assert 1 <= err_a.count("state backend (redis at 127.0.0.1:") <= 3


def test_a_crashed_replica_releases_its_reservations(mock: MockProc, redis_server: RedisServer) -> None:
    # ivan's $0.06 holds one ~45-token reservation at a time.
    users = {"ivan": "0.06", "jo": "0.06"}
    a = start(redis_server.url, mock.addr, users=users, ttl="2s")
    b = start(redis_server.url, mock.addr, users=users, ttl="2s")
    try:
        slow = threading.Thread(target=lambda: _quietly(lambda: ask(a.url, "ivan", **{"x-mock-delay-ms": "60000"})))
        slow.start()
        assert wait_until(lambda: reserved(redis_server.url, "ivan") > 0)
        a.signal(signal.SIGKILL)
        assert ask(b.url, "ivan").status_code == 429  # the dead process's reservation still counts
        killed_at = time.monotonic()
        assert wait_until(lambda: ask(b.url, "ivan").status_code == 200, timeout=15)
        assert time.monotonic() - killed_at >= 0.5
        slow.join(10)

        # A live process renews its reservations: a request longer than reservationTtl keeps its hold.
        held = threading.Thread(target=lambda: _quietly(lambda: ask(b.url, "jo", **{"x-mock-delay-ms": "5000"})))
        held.start()
        assert wait_until(lambda: reserved(redis_server.url, "jo") > 0)
        time.sleep(3.5)
        assert ask(b.url, "jo").status_code == 429
        held.join(15)
        assert wait_until(lambda: reserved(redis_server.url, "jo") == 0 and spent(redis_server.url, "jo") == COST)
    finally:
        a.stop()
        b.stop()


def test_spent_is_seeded_from_the_ledger_only_where_redis_has_none(
        mock: MockProc, redis_server: RedisServer, tmp_path: Path) -> None:
    ledger = str(tmp_path / "spend.db")
    g = start(redis_server.url, mock.addr, ledger=ledger)
    try:
        assert [ask(g.url, "dave").status_code for _ in range(2)] == [200, 200]
        assert wait_until(lambda: spent(redis_server.url, "dave") == 2 * COST)
    finally:
        g.stop()
    client(redis_server.url).flushall()  # e.g. a Redis restart without persistence
    g = start(redis_server.url, mock.addr, ledger=ledger)
    try:
        assert ask(g.url, "dave").status_code == 200
        assert wait_until(lambda: spent(redis_server.url, "dave") == 3 * COST)  # 2 from the ledger + 1
    finally:
        g.stop()
    g = start(redis_server.url, mock.addr, ledger=ledger)  # Redis has a value now: the ledger is not added again
    try:
        assert ask(g.url, "dave").status_code == 200
        assert wait_until(lambda: spent(redis_server.url, "dave") == 4 * COST)
    finally:
        g.stop()


def _quietly(call: object) -> None:
    try:
        call()  # type: ignore[operator]
    except OSError:
        pass  # the gateway was killed under it


def test_three_workers_and_two_gateway_processes_admit_exactly_max_tokens_in_a_burst(
        mock: MockProc, redis_server: RedisServer) -> None:
    workers = GatewayProc(config(redis_server.url), env={"MOCK_ADDR": mock.addr}, args=["--workers", "3"],
                          ready_timeout=60)
    single = start(redis_server.url, mock.addr)
    try:
        calls = [lambda g=(workers, single)[i % 2]: http("GET", f"{g.url}/burst").status_code for i in range(60)]
        statuses = burst(calls, 30)
        assert statuses.count(429) == 40, statuses  # maxTokens 20 for 3 workers + 1 process together
        # Every process has its own connections: 3 workers and the single gateway.
        names = {c["name"] for c in client(redis_server.url).client_list()}
        assert len({n for n in names if n.startswith("agentgateway-py-")}) >= 4, names
    finally:
        workers.stop()
        single.stop()
