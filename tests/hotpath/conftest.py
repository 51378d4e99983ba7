"""``impl`` fixture: every hot-path test runs against each available implementation.

The compiled param is skipped when ``gateway._fastpath`` is not built, except under
``GATEWAY_REQUIRE_EXTENSIONS=1``, where a missing build fails the test instead (an
accelerated CI leg must not silently test only the Python twin).
"""

from __future__ import annotations

import os
from types import ModuleType

import pytest

from gateway import fastpath

REQUIRE_EXTENSIONS = bool(os.environ.get("GATEWAY_REQUIRE_EXTENSIONS"))


def compiled_or_skip() -> ModuleType:
    if fastpath.c_impl is not None:
        return fastpath.c_impl
    if REQUIRE_EXTENSIONS:
        pytest.fail("GATEWAY_REQUIRE_EXTENSIONS is set but gateway._fastpath is not importable")
    reason = "GATEWAY_NO_EXTENSIONS set" if fastpath.NO_EXTENSIONS else "gateway._fastpath not built"
    pytest.skip(reason)


@pytest.fixture(params=["py", "c"])
def impl(request: pytest.FixtureRequest) -> ModuleType:
    if request.param == "py":
        return fastpath.py_impl
    return compiled_or_skip()


@pytest.fixture
def both() -> tuple[ModuleType, ModuleType]:
    """(py, c) for differential tests; skipped (or failed) like the ``c`` param."""
    return fastpath.py_impl, compiled_or_skip()
