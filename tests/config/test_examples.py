"""Every agentgateway example config either loads or fails ONLY with "not supported" errors.

EXPECTED_NOT_SUPPORTED is the exact current list; implementing a feature shrinks it (update it in the
same change so the progress is visible in review).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.config import ConfigErrors, load_config_file

# In CI the shared folder is a sibling of the repository clone.
EXAMPLES = Path(__file__).parents[2].parent / "shared" / "agentgateway-examples"
ENV = {"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-ant-x", "GEMINI_API_KEY": "gm-x"}
NOT_SUPPORTED = "not supported by this gateway yet"

EXPECTED_NOT_SUPPORTED: dict[str, set[str]] = {
    "llm-basic.config.yaml": set(),
    "llm-cost-routing.config.yaml": set(),
    "llm-prompt-enrichment.config.yaml": set(),
    "llm-prompt-guard.config.yaml": set(),
    "llm-telemetry-tracing-otel.yaml": set(),
    "local_tests.llm_config.yaml": set(),
    "local_tests.llm_provider_reference_config.yaml": {
        "llm.providers[0].params.tokenize",
        "llm.providers[0].defaults.promptCaching",
        "llm.providers[0].defaults.transformation",
        "llm.providers[1].provider.custom",
        "llm.models[0].promptCaching",
    },
    "local_tests.llm_simple_config.yaml": {
        "llm.models[0].params.tokenize",
        "llm.models[0].promptCaching",
    },
    "local_tests.llm_virtual_model_failover_config.yaml": set(),
    "traffic-ratelimiting-local.config.yaml": set(),
}

FILES = sorted(EXAMPLES.glob("*.yaml")) if EXAMPLES.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason=f"{EXAMPLES} not present")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_example_loads_or_only_not_supported(path: Path) -> None:
    try:
        load_config_file(str(path), ENV)
        found: set[str] = set()
    except ConfigErrors as e:
        others = [str(err) for err in e.errors if NOT_SUPPORTED not in err.message]
        assert not others, "\n".join(others)
        found = {err.path for err in e.errors}
    assert found == EXPECTED_NOT_SUPPORTED[path.name]


def test_every_example_is_listed() -> None:
    assert {p.name for p in FILES} == set(EXPECTED_NOT_SUPPORTED)


def test_loaded_examples_have_binds() -> None:
    cfg = load_config_file(str(EXAMPLES / "llm-prompt-enrichment.config.yaml"), ENV)
    (bind,) = cfg.binds
    assert bind.port == 3000
    policy = bind.listeners[0].routes[0].policies.ai
    assert policy is not None and [s for s, _ in policy.routes] == ["/v1/chat/completions", "/v1/responses"]
    assert re.fullmatch(r"openai", bind.listeners[0].routes[0].backends[0].target.name)  # type: ignore[union-attr]
