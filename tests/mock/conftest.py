"""Fixtures: a real mock provider on a free 127.0.0.1 port, on its own loop in a thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.mock import ThreadedMockProvider


@pytest.fixture
def mock() -> Iterator[ThreadedMockProvider]:
    with ThreadedMockProvider("127.0.0.1", 0) as provider:
        yield provider
