"""Provider URL, auth and body rules (pure: no sockets), as agentgateway's crates/llm/src/*.rs define them."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.config.model import AIBackend, AIProvider, AwsAuth, BackendAuth, RouteType, Secret
from gateway.fastpath import SseParser
from gateway.providers.base import ProviderSpec
from gateway.providers.bedrock import MissingAwsCredentials
from gateway.providers.registry import spec_for_backend
from gateway.providers.translate import messages_to_converse
from gateway.providers.translate.sse_filter import anthropic_to_openai_filter
from gateway.providers.translate.stream_converse_to_anthropic import ConverseToAnthropicStream


def spec(kind: str, model: str | None = None, **extra: str) -> ProviderSpec:
    resolved = spec_for_backend(AIBackend(kind, AIProvider(kind, model, tuple(extra.items()))))
    assert resolved is not None
    return resolved


def test_resolved_specs_are_cached_per_backend() -> None:
    backend = AIBackend("b", AIProvider("azure", "m", (("resourceName", "r"),)))
    assert spec_for_backend(backend) is spec_for_backend(backend)


@pytest.mark.parametrize(("rtype", "host"), [
    ("openAI", "res.openai.azure.com"), ("foundry", "res.services.ai.azure.com"),
    ("aiServices", "res.services.ai.azure.com"),
])
def test_azure_host(rtype: str, host: str) -> None:
    assert spec("azure", "gpt", resourceName="res", resourceType=rtype).default_host == host


def test_azure_paths() -> None:
    v1 = spec("azure", "gpt", resourceName="r", resourceType="openAI")
    assert v1.request_path(RouteType.COMPLETIONS, None, "gpt", False) == "/openai/v1/chat/completions"
    assert v1.request_path(RouteType.EMBEDDINGS, None, "gpt", False) == "/openai/v1/embeddings"
    dated = spec("azure", "gpt", resourceName="r", resourceType="openAI", apiVersion="2024-10-21")
    assert dated.request_path(RouteType.COMPLETIONS, None, "my dep", True) == \
        "/openai/deployments/my%20dep/chat/completions?api-version=2024-10-21"
    project = spec("azure", "gpt", resourceName="r", resourceType="foundry", projectName="p1")
    assert project.request_path(RouteType.COMPLETIONS, None, "gpt", False) == \
        "/api/projects/p1/openai/v1/chat/completions"
    assert v1.request_path(RouteType.COMPLETIONS, "/custom/", "gpt", False) == "/custom/chat/completions"
    assert (v1.auth_header, v1.auth_prefix, v1.keeps_client_path) == (b"api-key", b"", False)


def test_vertex_hosts_and_formats() -> None:
    assert spec("vertex", "gemini-2.0", projectId="p").default_host == "aiplatform.googleapis.com"
    assert spec("vertex", "gemini-2.0", projectId="p", region="global").default_host == "aiplatform.googleapis.com"
    claude = spec("vertex", "claude-sonnet-4@20250514", projectId="p", region="europe-west1")
    assert claude.default_host == "europe-west1-aiplatform.googleapis.com"
    assert claude.native_format is RouteType.MESSAGES
    assert claude.request_path(RouteType.MESSAGES, None, "claude-sonnet-4@20250514", True) == \
        "/v1/projects/p/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict"
    other = spec("vertex", "google/gemini-2.0-flash", projectId="p", region="us-central1")
    assert other.native_format is RouteType.COMPLETIONS
    assert other.request_path(RouteType.COMPLETIONS, None, "google/gemini-2.0-flash", False) == \
        "/v1/projects/p/locations/us-central1/endpoints/openapi/chat/completions"


def test_vertex_claude_body() -> None:
    claude = spec("vertex", "claude-x", projectId="p")
    body = {"model": "claude-x", "max_tokens": 5, "messages": []}
    assert claude.encode_request(body, "claude-x", False) == {
        "max_tokens": 5, "messages": [], "anthropic_version": "vertex-2023-10-16"}
    other = spec("vertex", "gemini", projectId="p")
    assert other.encode_request(body, "gemini", False) is body


def test_bedrock_paths_and_body() -> None:
    bedrock = spec("bedrock", "m", region="eu-west-3", guardrailIdentifier="gr-1")
    assert bedrock.default_host == "bedrock-runtime.eu-west-3.amazonaws.com"
    assert bedrock.request_path(RouteType.MESSAGES, None, "anthropic.claude-v2:1", False) == \
        "/model/anthropic.claude-v2%3A1/converse"
    assert bedrock.request_path(RouteType.MESSAGES, None, "arn:aws:bedrock:x/y", True) == \
        "/model/arn%3Aaws%3Abedrock%3Ax%2Fy/converse-stream"
    out = bedrock.encode_request({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]},
                                 "m", False)
    assert out == {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": {"maxTokens": 9},
                   "guardrailConfig": {"guardrailIdentifier": "gr-1", "guardrailVersion": "DRAFT"}}


def _verify(headers: list[tuple[bytes, bytes]], url: str, payload: bytes, key: str, secret: str, region: str) -> None:
    values = {k.decode(): v.decode() for k, v in headers}
    auth = values["authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={key}/") and f"/{region}/bedrock/aws4_request" in auth
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(method="POST", url=url, data=payload,
                         headers={h: values[h] for h in signed if h != "host"})
    request.context["timestamp"] = values["x-amz-date"]
    signer = SigV4Auth(Credentials(key, secret), "bedrock", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert auth.endswith(f"Signature={expected}")


def test_bedrock_sigv4_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "tok")
    bedrock = spec("bedrock", "m", region="us-east-2")
    url, payload = "https://bedrock-runtime.us-east-2.amazonaws.com:443/model/m/converse", b'{"messages":[]}'
    out = bedrock.sign([(b"content-type", b"application/json"), (b"authorization", b"Bearer client"),
                        (b"traceparent", b"00-x")], "POST", url, payload, None)
    names = [k for k, _ in out]
    assert names.count(b"authorization") == 1 and (b"x-amz-security-token", b"tok") in out
    assert (b"traceparent", b"00-x") in out  # added after signing by design: kept, but not signed
    _verify(out, url, payload, "AKIDENV", "env-secret", "us-east-2")
    assert "traceparent" not in dict((k.decode(), v.decode()) for k, v in out)["authorization"]


def test_bedrock_sigv4_from_backend_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    bedrock = spec("bedrock", "m", region="us-east-1")
    auth = BackendAuth(Secret(""), aws=AwsAuth(Secret("AKIDCFG"), Secret("cfg-secret"), None, "ap-south-1"))
    url = "http://127.0.0.1:9000/model/m/converse"
    out = bedrock.sign([], "POST", url, b"{}", auth)
    _verify(out, url, b"{}", "AKIDCFG", "cfg-secret", "ap-south-1")
    with pytest.raises(MissingAwsCredentials):
        spec("bedrock", "other", region="us-east-1").sign([], "POST", url, b"{}", None)


def test_converse_response_to_messages() -> None:
    converse = {"output": {"message": {"role": "assistant", "content": [
        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
        {"text": "Calling."},
        {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Oslo"}}}]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18, "cacheReadInputTokens": 3}}
    msg = messages_to_converse.translate_response(converse, "claude", "msg_1")
    assert msg == {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Calling."},
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 3}}
    err = messages_to_converse.translate_error(b'{"message":"Too many requests, please wait."}', 429)
    assert err == {"type": "error", "error": {"type": "rate_limit_error", "message": "Too many requests, please wait."}}


def _tool_stream() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("messageStart", {"role": "assistant"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Let me check."}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("contentBlockStart", {"contentBlockIndex": 1,
                               "start": {"toolUse": {"toolUseId": "t1", "name": "get_weather"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Oslo\"}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": {"inputTokens": 20, "outputTokens": 9}}),
    ]


def test_converse_tool_stream_to_anthropic_and_on_to_openai() -> None:
    machine = ConverseToAnthropicStream("claude", "msg_1")
    sse = b"".join(machine.event(kind, data) for kind, data in _tool_stream()) + machine.finish()
    events = [(n.decode(), json.loads(d)) for n, d in SseParser().feed(sse)]
    assert [n for n, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    assert events[4][1]["content_block"] == {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}
    assert events[8][1]["delta"]["stop_reason"] == "tool_use"
    assert events[8][1]["usage"] == {"input_tokens": 20, "output_tokens": 9}
    # The same bytes, through the existing Anthropic -> OpenAI stream translation (what an OpenAI client gets).
    f = anthropic_to_openai_filter(include_usage=True)
    chunks = [orjson.loads(d) for _, d in SseParser().feed(f.feed(sse) + f.flush()) if d != b"[DONE]"]
    calls = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls") or ()]
    assert calls[0]["function"]["name"] == "get_weather"
    assert "".join(tc["function"].get("arguments", "") for tc in calls) == '{"city":"Oslo"}'
    assert chunks[-1]["usage"]["prompt_tokens"] == 20 and chunks[-1]["usage"]["completion_tokens"] == 9


def test_stream_without_metadata_still_ends_the_message() -> None:
    machine = ConverseToAnthropicStream("m")
    sse = machine.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
    sse += machine.event("messageStop", {"stopReason": "max_tokens"}) + machine.finish()
    events = [(n.decode(), json.loads(d)) for n, d in SseParser().feed(sse)]
    assert events[0][0] == "message_start" and events[-1][0] == "message_stop"
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"
