"""The `llm:` dialect end to end: model patterns choose the provider, unknown models get 404."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc

CONFIG = """
config:
  adminAddr: $ADMIN_ADDR
  statsAddr: $STATS_ADDR
  readinessAddr: $READINESS_ADDR
llm:
  port: $GATEWAY_PORT
  models:
  - name: "gpt-*"
    provider: openAI
    params: {apiKey: llm-openai-key, baseUrl: "http://$MOCK_ADDR/v1"}
  - name: fast
    provider: openAI
    params: {apiKey: llm-openai-key, model: gpt-4o-mini, baseUrl: "http://$MOCK_ADDR/v1"}
    requestHeaders: {set: {x-mock-chunks: "3"}}
  - name: "claude-*"
    provider: anthropic
    params: {apiKey: llm-anthropic-key, baseUrl: "http://$MOCK_ADDR/v1"}
"""


@pytest.fixture(scope="module")
def gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def test_wildcard_and_exact_models(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    assert client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": "hi"}]).model == "gpt-4.1"
    assert client.chat.completions.create(
        model="fast", messages=[{"role": "user", "content": "hi"}]).model == "gpt-4o-mini"
    claude = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    msg = claude.messages.create(model="claude-sonnet-4", max_tokens=20, messages=[{"role": "user", "content": "x"}])
    assert msg.model == "claude-sonnet-4"


def test_unknown_model_is_404_model_not_found(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="llama-3", messages=[{"role": "user", "content": "hi"}])
    assert err.value.code == "model_not_found"


def test_models_endpoint_lists_patterns(gw: GatewayProc) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0)
    assert sorted(m.id for m in client.models.list()) == sorted(["gpt-*", "fast", "claude-*"])
