"""The seed article's routing snippets load, verbatim, as the backends/routes of a listener, and
lower to what the article says they do (its shorthand spellings: gateway/config/shorthand.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cfgtest_env import TEST_ENV

from gateway.config import ConfigErrors, load_config_text
from gateway.config import model as m

SEED = Path(__file__).parents[2].parent / "shared" / "seed" / "000_1a1b72e8215fce0a.txt"

MULTI_PROVIDER = """\
backends:
  # Primary: Anthropic
  - ai:
      name: anthropic-primary
      provider:
        anthropic:
          model: claude-haiku-4-5-20251001
  
  # Fallback: OpenAI
  - ai:
      name: openai-fallback
      provider:
        openai:
          model: gpt-4o-mini
"""

MULTI_TIER = """\
routes:
  # Premium users ‚Üí GPT-4
  - match:
      headers:
        - name: X-User-Tier
          value: premium
    backends:
      - ai:
          provider:
            openai:
              model: gpt-4-turbo
              
  # Free users ‚Üí Claude Haiku
  - backends:
      - ai:
          provider:
            anthropic:
              model: claude-haiku-4-5-20251001
"""

COST_BASED = """\
backends:
  # Try cheap model first
  - ai:
      name: cheap-primary
      provider:
        anthropic:
          model: claude-haiku-4-5-20251001
      timeout: 2s
      
  # Fall back to premium if needed
  - ai:
      name: premium-fallback
      provider:
        openai:
          model: gpt-4-turbo
"""

REGIONAL = """\
routes:
  # EU users ‚Üí EU region
  - match:
      headers:
        - name: X-User-Region
          value: eu
    backends:
      - ai:
          provider:
            anthropic:
              baseURL: https://eu.anthropic.com
"""


def in_listener(snippet: str) -> str:
    """A `routes:` snippet goes under a listener; a `backends:` snippet is one route's backends."""
    if snippet.startswith("routes:"):
        return "binds:\n- port: 3000\n  listeners:\n  - " + textwrap.indent(snippet, "    ").lstrip()
    return "binds:\n- port: 3000\n  listeners:\n  - routes:\n    - " + textwrap.indent(snippet, "      ").lstrip()


def routes_of(snippet: str) -> tuple[m.Route, ...]:
    cfg = load_config_text(in_listener(snippet), "config.yaml", TEST_ENV)
    return cfg.binds[0].listeners[0].routes


@pytest.mark.skipif(not SEED.exists(), reason="seed article not present")
@pytest.mark.parametrize("snippet", [MULTI_PROVIDER, MULTI_TIER, COST_BASED, REGIONAL])
def test_snippets_are_verbatim_from_the_seed(snippet: str) -> None:
    assert snippet.rstrip() in SEED.read_text(encoding="utf-8")


def ai(rb: m.RouteBackend) -> m.AIBackend:
    assert isinstance(rb.target, m.AIBackend)
    return rb.target


def test_multi_provider_is_primary_then_fallback() -> None:
    (route,) = routes_of(MULTI_PROVIDER)
    primary, fallback = (ai(b) for b in route.backends)
    assert (primary.name, primary.provider.kind, fallback.name, fallback.provider.kind) == (
        "anthropic-primary", "anthropic", "openai-fallback", "openai")
    assert not any(b.weight_set for b in route.backends)  # list order is the failover order


def test_multi_tier_header_route() -> None:
    premium, free = routes_of(MULTI_TIER)
    assert premium.matches[0].headers == (m.HeaderMatch("x-user-tier", exact="premium"),)
    assert ai(premium.backends[0]).provider == m.AIProvider("openai", "gpt-4-turbo")
    assert ai(free.backends[0]).provider.kind == "anthropic"


def test_cost_based_timeout_is_per_attempt() -> None:
    (route,) = routes_of(COST_BASED)
    cheap, premium = (ai(b) for b in route.backends)
    assert cheap.policies.timeout == m.Timeout(backend_request_timeout=2.0)
    assert premium.policies.timeout is None


def test_regional_base_url() -> None:
    (route,) = routes_of(REGIONAL)
    backend = ai(route.backends[0])
    assert route.matches[0].headers == (m.HeaderMatch("x-user-region", exact="eu"),)
    assert backend.host_override == m.HostPort("eu.anthropic.com", 443)
    assert backend.path_prefix is None and backend.tls is not None


def test_agentgateway_spellings_still_work_and_mixing_is_reported() -> None:
    own = """routes:
  - matches:
    - headers:
      - {name: X-User-Tier, value: {exact: premium}}
    backends:
      - ai: {name: gpt, provider: {openAI: {model: gpt-4-turbo}}}
"""
    assert routes_of(own)[0].matches[0].headers == (m.HeaderMatch("x-user-tier", exact="premium"),)
    both = REGIONAL.replace("    backends:", "    matches: []\n    backends:")
    with pytest.raises(ConfigErrors, match=r"routes\[0\]\.match: unknown field"):
        routes_of(both)
