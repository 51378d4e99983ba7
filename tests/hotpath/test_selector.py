"""gateway.fastpath picks the compiled module unless told not to, and says which."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway import fastpath, fastpath_py


def probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-c", "import gateway.fastpath as f; print(f.IMPL)"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_public_names_come_from_selected_impl() -> None:
    mod = fastpath.c_impl if fastpath.IMPL == "c" else fastpath.py_impl
    assert mod is not None
    for name in ("SseParser", "UsageAccumulator", "TokenBucket", "FORMAT_OPENAI", "FORMAT_ANTHROPIC"):
        assert getattr(fastpath, name) is getattr(mod, name)
    assert fastpath.py_impl is fastpath_py


def test_no_extensions_env_forces_python() -> None:
    result = probe(GATEWAY_NO_EXTENSIONS="1")
    assert result.stdout.strip() == "py", result.stderr


def test_default_prefers_compiled_when_built() -> None:
    if fastpath.NO_EXTENSIONS:
        pytest.skip("GATEWAY_NO_EXTENSIONS set for this run")
    expected = "c" if fastpath.c_impl is not None else "py"
    assert probe().stdout.strip() == expected


def test_conflicting_env_fails_loudly() -> None:
    result = probe(GATEWAY_NO_EXTENSIONS="1", GATEWAY_REQUIRE_EXTENSIONS="1")
    assert result.returncode != 0
    assert "both set" in result.stderr
