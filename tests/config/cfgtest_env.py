"""Shared constants for the config tests (imported by module name; tests/config has no __init__)."""

from __future__ import annotations

from pathlib import Path

# Fixed env for every config test: never the developer's real keys.
TEST_ENV = {
    "OPENAI_API_KEY": "sk-openai-TESTSECRET",
    "ANTHROPIC_API_KEY": "sk-ant-TESTSECRET",
    "GEMINI_API_KEY": "gm-TESTSECRET",
}
HERE = Path(__file__).parent
