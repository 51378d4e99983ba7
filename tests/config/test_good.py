"""Snapshot tests: each tests/config/good/*.yaml lowers, and its dump equals the .snap.json beside it.

Regenerate with UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cfgtest_env import TEST_ENV

from gateway.config import dump_config, load_config_file, load_config_text

GOOD = Path(__file__).parent / "good"
CASES = sorted(GOOD.glob("*.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_good_config_snapshot(path: Path) -> None:
    # load_config_text with the bare name keeps the snapshot independent of the checkout path.
    dumped = dump_config(load_config_text(path.read_text(), path.name, TEST_ENV))
    text = json.dumps(dumped, indent=2, sort_keys=False) + "\n"
    snap = path.with_suffix(".snap.json")
    if os.environ.get("UPDATE_SNAPSHOTS") or not snap.exists():
        snap.write_text(text)
    assert text == snap.read_text()
    assert "TESTSECRET" not in text


def test_dump_is_json_safe() -> None:
    for path in CASES:
        json.loads(json.dumps(dump_config(load_config_file(str(path), TEST_ENV))))
