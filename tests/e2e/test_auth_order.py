"""Authentication comes before anything that reveals models: /v1/models and model selection."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.e2e.harness import GatewayProc, MockProc

CONFIG = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
llm:
  port: $GATEWAY_PORT
  policies:
    apiKey:
      mode: strict
      keys:
      - key: sk-gw-alice
        metadata: {user: alice}
  models:
  - name: gpt-4o-mini
    provider: openAI
    params: {apiKey: server-key, baseUrl: "http://$MOCK_ADDR/v1"}
"""


@pytest.fixture(scope="module")
def gw(mock: MockProc) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": mock.addr})
    yield g
    g.stop()


def test_models_list_needs_a_key(gw: GatewayProc) -> None:
    anonymous = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.models.list()
    alice = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-gw-alice", max_retries=0)
    assert [m.id for m in alice.models.list()] == ["gpt-4o-mini"]


def test_unknown_model_is_401_not_404_without_a_key(gw: GatewayProc) -> None:
    anonymous = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.chat.completions.create(model="secret-model", messages=[{"role": "user", "content": "x"}])
    alice = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sk-gw-alice", max_retries=0)
    with pytest.raises(openai.NotFoundError):
        alice.chat.completions.create(model="secret-model", messages=[{"role": "user", "content": "x"}])
