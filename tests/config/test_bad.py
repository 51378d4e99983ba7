"""Each tests/config/bad/*.yaml fails; the full error text must equal the .err file beside it.

Error messages are part of the API (style.md 6.5). Regenerate with UPDATE_SNAPSHOTS=1 and review.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cfgtest_env import TEST_ENV

from gateway.config import ConfigErrors, load_config_text

BAD = Path(__file__).parent / "bad"
CASES = sorted(BAD.glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_config_error_text(path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config_text(path.read_text(), "config.yaml", TEST_ENV)
    text = str(info.value) + "\n"
    expected = path.with_suffix(".err")
    if os.environ.get("UPDATE_SNAPSHOTS") or not expected.exists():
        expected.write_text(text)
    assert text == expected.read_text()
    assert "TESTSECRET" not in text


def test_errors_sorted_by_line() -> None:
    with pytest.raises(ConfigErrors) as info:
        load_config_text((BAD / "multiple_errors.yaml").read_text(), "config.yaml", TEST_ENV)
    lines = [e.line for e in info.value.errors]
    assert lines == sorted(lines)
    assert len(lines) >= 5
