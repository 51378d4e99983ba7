"""Prices from the built-in catalog and config.modelCatalog, fed real provider usage bodies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.config import ConfigErrors, load_config_text
from gateway.fastpath import FORMAT_ANTHROPIC, FORMAT_OPENAI, UsageAccumulator
from gateway.pricing.catalog import build_catalog, split_usage, to_nanos


def _cost(provider: str, model: str, fmt: int, body: dict[str, object], catalogs: tuple[object, ...] = ()) -> int:
    usage = UsageAccumulator(fmt)
    usage.feed_body(json.dumps(body).encode())
    cost = build_catalog(catalogs).cost(provider, model, *split_usage(usage))
    assert cost.known
    return cost.nanos


def test_openai_cached_tokens_are_inside_prompt_tokens() -> None:
    # gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output per 1M tokens.
    body = {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                                              "prompt_tokens_details": {"cached_tokens": 400}}}
    # 600 uncached x 150 + 400 cached x 75 + 100 out x 600 nanodollars
    assert _cost("openai", "gpt-4o-mini", FORMAT_OPENAI, body) == 600 * 150 + 400 * 75 + 100 * 600


def test_anthropic_cache_tokens_are_reported_beside_input_tokens() -> None:
    # claude-haiku-4-5: $1 input, $5 output, cache read 0.1x, cache write 1.25x.
    body = {"model": "claude-haiku-4-5-20251001", "usage": {
        "input_tokens": 600, "output_tokens": 100, "cache_read_input_tokens": 400,
        "cache_creation_input_tokens": 200}}
    expected = 600 * 1000 + 400 * 100 + 200 * 1250 + 100 * 5000
    assert _cost("anthropic", "claude-haiku-4-5-20251001", FORMAT_ANTHROPIC, body) == expected


def test_same_tokens_cost_the_same_under_both_conventions() -> None:
    catalog = ({"providers": {"x": {"models": {"m": {"rates": {
        "input": "2", "output": "8", "cacheRead": "0.5", "cacheWrite": "2.5"}}}}}},)
    openai_body = {"usage": {"prompt_tokens": 1500, "completion_tokens": 10,
                             "prompt_tokens_details": {"cached_tokens": 1000}}}
    anthropic_body = {"usage": {"input_tokens": 500, "output_tokens": 10, "cache_read_input_tokens": 1000}}
    a = _cost("x", "m", FORMAT_OPENAI, openai_body, catalog)
    b = _cost("x", "m", FORMAT_ANTHROPIC, anthropic_body, catalog)
    assert a == b == 500 * 2000 + 1000 * 500 + 10 * 8000


def test_lookup_strips_dates_and_provider_prefixes() -> None:
    cat = build_catalog(())
    assert cat.lookup("anthropic", "claude-haiku-4-5-20251001") is not None
    assert cat.lookup("anthropic", "claude-haiku-4-5-20251001")[0] == "claude-haiku-4-5"  # type: ignore[index]
    assert cat.lookup("openai", "gpt-4o-mini-2024-07-18")[0] == "gpt-4o-mini"  # type: ignore[index]
    assert cat.lookup("openai", "openai/gpt-4o")[0] == "gpt-4o"  # type: ignore[index]
    assert cat.lookup("gcp.gemini", "gemini-2.5-flash")[0] == "gemini-2.5-flash"  # type: ignore[index]
    assert cat.lookup("openai", "no-such-model") is None
    assert not cat.cost("openai", "no-such-model", 10, 10, 0, 0).known


def test_context_tiers_switch_rates_above_the_threshold() -> None:
    cat = build_catalog(())
    small = cat.cost("anthropic", "claude-sonnet-4-5", 200_000, 0, 0, 0).nanos
    large = cat.cost("anthropic", "claude-sonnet-4-5", 200_001, 0, 0, 0).nanos
    assert small == 200_000 * 3000 and large == 200_001 * 6000


def test_config_model_catalog_overrides_builtin_later_entries_win(tmp_path: Path) -> None:
    f = tmp_path / "prices.json"
    f.write_text(json.dumps({"providers": {"openai": {"models": {"gpt-4o-mini": {
        "rates": {"input": "1", "output": "1"}}}}}}))
    cfg = load_config_text(f"""
config:
  modelCatalog:
  - inline: '{{"providers": {{"openai": {{"models": {{"gpt-4o-mini":
      {{"rates": {{"input": "9", "output": "9"}}}}}}}}}}}}'
  - file: {f}
  - inline:
      providers:
        anthropic:
          models:
            house-model: {{rates: {{input: "0.5", output: "1.5"}}}}
  ledger: {{path: {tmp_path / "l.db"}}}
""", "t.yaml", {})
    cost = cfg.process.cost
    cat = build_catalog(cost.catalogs, cost.builtin_catalog)
    assert cat.cost("openai", "gpt-4o-mini", 1000, 1000, 0, 0).nanos == 2000 * 1000  # the file (later) won
    assert cat.cost("anthropic", "house-model", 1000, 0, 0, 0).nanos == 500_000
    assert cat.cost("anthropic", "claude-haiku-4-5", 1000, 0, 0, 0).nanos == 1_000_000  # built-in still there
    assert "+config-" in cat.version


def test_bad_catalog_and_budget_values_name_the_yaml_path_and_line() -> None:
    text = """config:
  modelCatalog:
  - inline: {providers: {openai: {models: {m: {rates: {input: "abc", output: "1"}}}}}}
  budgets:
    users:
      alice: {limit: "-1", period: daily}
      bob: {limit: "1", period: yearly}
    timezone: Mars/Olympus
  ledger: {flushInterval: 1s}
"""
    with pytest.raises(ConfigErrors) as info:
        load_config_text(text, "bad.yaml", {})
    msg = str(info.value)
    assert "bad.yaml:3" in msg and "config.modelCatalog[0]" in msg and 'invalid decimal "abc"' in msg
    assert "bad.yaml:6" in msg and "config.budgets.users.alice.limit" in msg
    assert "bad.yaml:7" in msg and 'invalid value "yearly"' in msg
    assert "bad.yaml:8" in msg and "Mars/Olympus" in msg
    assert "bad.yaml:9" in msg and 'missing field "path"' in msg


def test_amounts_are_exact_nanodollars() -> None:
    assert to_nanos("0.05") == 50_000_000
    assert to_nanos("0.000000001") == 1
    # 0.1 + 0.2 style float drift cannot happen: a thousand $0.0001 charges are exactly $0.1.
    assert sum(to_nanos("0.0001") for _ in range(1000)) == to_nanos("0.1")
    with pytest.raises(ValueError):
        to_nanos("nope")
