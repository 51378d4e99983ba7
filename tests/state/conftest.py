from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import MockProc
from tests.state.redis_server import REDIS_SERVER, RedisServer, available


def _server() -> RedisServer:
    if not available():
        pytest.skip(f"redis-server not installed ({REDIS_SERVER} missing; .ci/run installs it with apt-get)")
    return RedisServer()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = _server()
    yield server
    server.close()


@pytest.fixture(scope="module")
def module_redis() -> Iterator[RedisServer]:
    server = _server()
    yield server
    server.close()


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()
