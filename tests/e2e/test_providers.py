"""Each cloud provider's wire format, through a real gateway process, against the mock speaking it.

No real Azure, Vertex, Bedrock or Gemini endpoint is reachable here: the mock (gateway/mock/cloud.py)
checks what each one would refuse, records what arrived, and answers in that provider's format
(Bedrock streams in the AWS event-stream binary framing). The official SDKs are the clients.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import anthropic
import openai
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.mock.server import RecordedRequest
from gateway.mock.threaded import ThreadedMockProvider
from tests.e2e.harness import GatewayProc

AWS_KEY_ID, AWS_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
CONFIG = """
config: {adminAddr: $ADMIN_ADDR, statsAddr: $STATS_ADDR, readinessAddr: $READINESS_ADDR}
binds:
- port: $GATEWAY_PORT
  listeners:
  - routes:
    - name: azure-v1
      matches: [{path: {pathPrefix: /azure-v1}}]
      policies: {backendAuth: {key: azure-key}}
      backends:
      - ai: {name: az, hostOverride: "$MOCK_ADDR",
             provider: {azure: {model: gpt-4o-mini, resourceName: res, resourceType: openAI}}}
    - name: azure-deployment
      matches: [{path: {pathPrefix: /azure-dep}}]
      policies: {backendAuth: {key: azure-key}}
      backends:
      - ai: {name: az-dep, hostOverride: "$MOCK_ADDR",
             provider: {azure: {model: my-deploy, resourceName: res, resourceType: openAI,
                                apiVersion: 2024-10-21}}}
    - name: vertex-claude
      matches: [{path: {pathPrefix: /vertex-claude}}]
      policies: {backendAuth: {key: vertex-token}}
      backends:
      - ai: {name: vc, hostOverride: "$MOCK_ADDR",
             provider: {vertex: {model: "claude-sonnet-4@20250514", projectId: proj-1, region: us-east5}}}
    - name: vertex-openapi
      matches: [{path: {pathPrefix: /vertex-openapi}}]
      policies: {backendAuth: {key: vertex-token}}
      backends:
      - ai: {name: vg, hostOverride: "$MOCK_ADDR",
             provider: {vertex: {model: google/gemini-2.0-flash, projectId: proj-1}}}
    - name: bedrock
      matches: [{path: {pathPrefix: /bedrock}}]
      backends:
      - ai: {name: br, hostOverride: "$MOCK_ADDR",
             provider: {bedrock: {model: "BEDROCK_MODEL", region: us-west-2}}}
    - name: bedrock-config-keys
      matches: [{path: {pathPrefix: /aws-keys}}]
      policies:
        backendAuth: {aws: {accessKeyId: AKIDCONFIG, secretAccessKey: "$CFG_SECRET", region: eu-central-1}}
      backends:
      - ai: {name: br-keys, hostOverride: "$MOCK_ADDR",
             provider: {bedrock: {model: "BEDROCK_MODEL", region: us-west-2}}}
    - name: gemini
      matches: [{path: {pathPrefix: /gemini-key}}]
      policies: {backendAuth: {key: gemini-key}}
      backends:
      - ai: {name: gm, hostOverride: "$MOCK_ADDR", pathPrefix: /v1beta/openai,
             provider: {gemini: {model: gemini-2.0-flash}}}
    - name: gemini-passthrough
      matches: [{path: {pathPrefix: /gemini-pass}}]
      backends:
      - ai: {name: gm-pass, hostOverride: "$MOCK_ADDR", pathPrefix: /v1beta/openai,
             provider: {gemini: {model: gemini-2.0-flash}}}
""".replace("BEDROCK_MODEL", BEDROCK_MODEL)


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def mock() -> Iterator[ThreadedMockProvider]:
    with ThreadedMockProvider() as m:
        yield m


@pytest.fixture(scope="module")
def gw(mock: ThreadedMockProvider) -> Iterator[GatewayProc]:
    g = GatewayProc(CONFIG, env={"MOCK_ADDR": f"127.0.0.1:{mock.port}", "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
                                 "AWS_SECRET_ACCESS_KEY": AWS_SECRET, "CFG_SECRET": "config-secret"})
    yield g
    g.stop()


def last(mock: ThreadedMockProvider) -> RecordedRequest:
    return mock.requests[-1]


def oai(gw: GatewayProc, prefix: str, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/{prefix}/v1", api_key="client-key", max_retries=0, **kw)  # type: ignore[arg-type]


def ant(gw: GatewayProc, prefix: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{gw.url}/{prefix}", api_key="client-key", max_retries=0)


def chat(client: openai.OpenAI, stream: bool, text: str = "Hello cloud") -> tuple[str, int, int]:
    """(reply text, prompt tokens, completion tokens) of one chat call, streamed or not."""
    messages = [{"role": "user", "content": text}]
    if not stream:
        c = client.chat.completions.create(model="any", messages=messages)  # type: ignore[arg-type]
        assert c.usage is not None
        return c.choices[0].message.content or "", c.usage.prompt_tokens, c.usage.completion_tokens
    parts, usage = [], None
    for chunk in client.chat.completions.create(model="any", messages=messages, stream=True,  # type: ignore[arg-type]
                                                stream_options={"include_usage": True},
                                                extra_headers={"x-mock-chunks": "4"}):
        parts.extend(ch.delta.content or "" for ch in chunk.choices)
        usage = chunk.usage or usage
    assert usage is not None
    return "".join(parts), usage.prompt_tokens, usage.completion_tokens


def tokens(gw: GatewayProc, system: str, kind: str) -> float:
    """Tokens the gateway recorded for provider `system` (the token-usage histogram's sum)."""
    _, body = gw.get(gw.stats_port, "/metrics")
    total = 0.0
    for labels, value in re.findall(r"^agentgateway_gen_ai_client_token_usage_sum\{([^}]*)\} (\S+)$",
                                    body.decode(), re.M):
        if f'gen_ai_system="{system}"' in labels and f'gen_ai_token_type="{kind}"' in labels:
            total += float(value)
    return total


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_azure_v1(gw: GatewayProc, mock: ThreadedMockProvider, stream: bool) -> None:
    before = tokens(gw, "azure", "output")
    text, _, out = chat(oai(gw, "azure-v1"), stream)
    rec = last(mock)
    assert text.endswith("You said: Hello cloud")
    assert (rec.path, rec.query) == ("/openai/v1/chat/completions", "")
    assert rec.auth == ("api-key", sha("azure-key"))  # the client's own key never reaches Azure
    assert "authorization" not in rec.headers
    assert rec.json["model"] == "gpt-4o-mini" and rec.json["messages"][0]["content"] == "Hello cloud"
    assert tokens(gw, "azure", "output") == before + out


def test_azure_deployment_url(gw: GatewayProc, mock: ThreadedMockProvider) -> None:
    text, _, _ = chat(oai(gw, "azure-dep"), stream=False)
    rec = last(mock)
    assert text.endswith("You said: Hello cloud")
    assert rec.path == "/openai/deployments/my-deploy/chat/completions"
    assert rec.query == "api-version=2024-10-21"
    assert rec.auth == ("api-key", sha("azure-key"))


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_vertex_claude_with_anthropic_client(gw: GatewayProc, mock: ThreadedMockProvider, stream: bool) -> None:
    before = tokens(gw, "gcp.vertex_ai", "input")
    client = ant(gw, "vertex-claude")
    kw = {"model": "any", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi Vertex"}]}
    if stream:
        with client.messages.stream(**kw) as s:  # type: ignore[arg-type]
            text = "".join(s.text_stream)
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**kw)  # type: ignore[arg-type]
        text = msg.content[0].text  # type: ignore[union-attr]
    rec = last(mock)
    verb = "streamRawPredict" if stream else "rawPredict"
    assert rec.path == ("/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/"
                        f"claude-sonnet-4@20250514:{verb}")
    assert rec.auth == ("authorization", sha("vertex-token"))
    assert "model" not in rec.json and rec.json["anthropic_version"] == "vertex-2023-10-16"
    assert text.endswith("You said: Hi Vertex")
    assert msg.usage.input_tokens > 0
    assert tokens(gw, "gcp.vertex_ai", "input") == before + msg.usage.input_tokens


def test_vertex_claude_with_openai_client_streaming(gw: GatewayProc, mock: ThreadedMockProvider) -> None:
    text, prompt, out = chat(oai(gw, "vertex-claude"), stream=True)
    rec = last(mock)
    assert rec.path.endswith(":streamRawPredict") and rec.json["max_tokens"] == 4096
    assert text.endswith("You said: Hello cloud") and prompt > 0 and out > 0


def test_vertex_openapi_endpoint(gw: GatewayProc, mock: ThreadedMockProvider) -> None:
    text, _, _ = chat(oai(gw, "vertex-openapi"), stream=False)
    rec = last(mock)
    assert rec.path == "/v1/projects/proj-1/locations/global/endpoints/openapi/chat/completions"
    assert rec.json["model"] == "google/gemini-2.0-flash"
    assert rec.auth == ("authorization", sha("vertex-token"))
    assert text.endswith("You said: Hello cloud")


def _check_sigv4(rec: RecordedRequest, key_id: str = AWS_KEY_ID, secret: str = AWS_SECRET,
                 region: str = "us-west-2") -> None:
    """Recompute the request's SigV4 signature with botocore from what the mock received."""
    auth = rec.headers["authorization"]
    m = re.fullmatch(rf"AWS4-HMAC-SHA256 Credential=(\w+)/(\d{{8}})/{region}/bedrock/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", auth)
    assert m is not None, auth
    assert m.group(1) == key_id and rec.headers["x-amz-date"].startswith(m.group(2))
    signed = m.group(3).split(";")
    assert "host" in signed and "x-amz-date" in signed

    class KnownPayload(SigV4Auth):
        def payload(self, request: AWSRequest) -> str:
            return rec.body_sha256

    url = f"http://{rec.headers['host']}{rec.path}"
    req = AWSRequest(method=rec.method, url=url, headers={h: rec.headers[h] for h in signed if h != "host"})
    req.context["timestamp"] = rec.headers["x-amz-date"]
    signer = KnownPayload(Credentials(key_id, secret), "bedrock", region)
    canonical = signer.canonical_request(req)
    assert signer.signature(signer.string_to_sign(req, canonical), req) == m.group(4)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "event-stream"])
def test_bedrock_with_openai_client(gw: GatewayProc, mock: ThreadedMockProvider, stream: bool) -> None:
    before = tokens(gw, "aws.bedrock", "output")
    text, prompt, out = chat(oai(gw, "bedrock"), stream, text="Hello Bedrock")
    rec = last(mock)
    verb = "converse-stream" if stream else "converse"
    assert rec.path == f"/model/anthropic.claude-3-haiku-20240307-v1:0/{verb}"
    assert rec.json["messages"] == [{"role": "user", "content": [{"text": "Hello Bedrock"}]}]
    assert rec.json["inferenceConfig"] == {"maxTokens": 4096} and "model" not in rec.json
    _check_sigv4(rec)
    assert text.endswith("You said: Hello Bedrock") and prompt > 0 and out > 0
    assert tokens(gw, "aws.bedrock", "output") == before + out


@pytest.mark.parametrize("stream", [False, True], ids=["json", "event-stream"])
def test_bedrock_with_anthropic_client(gw: GatewayProc, mock: ThreadedMockProvider, stream: bool) -> None:
    client = ant(gw, "bedrock")
    kw = {"model": "any", "max_tokens": 64, "system": "be brief",
          "messages": [{"role": "user", "content": "Hi from Anthropic"}]}
    if stream:
        with client.messages.stream(**kw, extra_headers={"x-mock-chunks": "3"}) as s:  # type: ignore[arg-type]
            text = "".join(s.text_stream)
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**kw)  # type: ignore[arg-type]
        text = msg.content[0].text  # type: ignore[union-attr]
    rec = last(mock)
    assert rec.json["system"] == [{"text": "be brief"}] and rec.json["inferenceConfig"] == {"maxTokens": 64}
    assert "x-api-key" not in rec.headers  # the client's own key does not travel to AWS
    _check_sigv4(rec)
    assert text.endswith("You said: Hi from Anthropic")
    assert msg.stop_reason == "end_turn" and msg.usage.output_tokens > 0 and msg.usage.input_tokens > 0


def test_bedrock_signs_with_backend_auth_aws_credentials(gw: GatewayProc, mock: ThreadedMockProvider) -> None:
    text, _, _ = chat(oai(gw, "aws-keys"), stream=False)
    rec = last(mock)
    assert text.endswith("You said: Hello cloud")
    _check_sigv4(rec, "AKIDCONFIG", "config-secret", "eu-central-1")  # not the AWS_* environment's keys
    assert "config-secret" not in str(rec.headers)


def test_bedrock_error_reaches_client_in_its_format(gw: GatewayProc) -> None:
    with pytest.raises(openai.RateLimitError) as err:
        oai(gw, "bedrock").chat.completions.create(model="any", messages=[{"role": "user", "content": "x"}],
                                                   extra_headers={"x-mock-status": "429"})
    assert "Injected error" in str(err.value)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_gemini_openai_endpoint(gw: GatewayProc, mock: ThreadedMockProvider, stream: bool) -> None:
    text, _, _ = chat(oai(gw, "gemini-key"), stream)
    rec = last(mock)
    assert rec.path == "/v1beta/openai/chat/completions"
    assert rec.auth == ("authorization", sha("gemini-key"))
    assert rec.json["model"] == "gemini-2.0-flash"
    assert text.endswith("You said: Hello cloud")


def test_gemini_client_x_goog_api_key_passes_through(gw: GatewayProc, mock: ThreadedMockProvider) -> None:
    """With no backendAuth the client's Google key reaches Gemini in the header the client chose."""
    client = openai.OpenAI(base_url=f"{gw.url}/gemini-pass/v1", api_key="AIzaBearerKey", max_retries=0,
                           default_headers={"x-goog-api-key": "AIzaClientKey"})
    client.chat.completions.create(model="any", messages=[{"role": "user", "content": "hi"}])
    rec = last(mock)
    assert rec.headers["x-goog-api-key"] == f"<redacted sha256:{sha('AIzaClientKey')}>"
    # The OpenAI-compatible endpoint takes Bearer keys: an AIza key stays there (only native routes move it).
    assert rec.auth == ("authorization", sha("AIzaBearerKey"))
