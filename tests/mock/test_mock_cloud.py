"""The mock's cloud wire formats refuse what the real provider would, and answer in its framing."""

from __future__ import annotations

import http.client
import json

from botocore.eventstream import EventStreamBuffer

from gateway.mock import ThreadedMockProvider

SIGV4 = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date, Signature=" + "ab" * 32)
CONVERSE = {"messages": [{"role": "user", "content": [{"text": "Hi there"}]}], "system": [{"text": "sys"}]}


def post(mock: ThreadedMockProvider, path: str, body: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", mock.port, timeout=5)
    try:
        conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **headers})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_bedrock_requires_a_sigv4_signature(mock: ThreadedMockProvider) -> None:
    status, _, body = post(mock, "/model/m/converse", CONVERSE, authorization="Bearer key")
    assert status == 403 and b"SigV4" in json.loads(body)["message"].encode()


def test_bedrock_converse_json(mock: ThreadedMockProvider) -> None:
    status, _, body = post(mock, "/model/anthropic.claude%3A0/converse", CONVERSE,
                           authorization=SIGV4, **{"x-amz-date": "20260101T000000Z"})
    reply = json.loads(body)
    assert status == 200 and reply["stopReason"] == "end_turn"
    assert reply["output"]["message"]["content"][0]["text"].endswith("You said: Hi there")
    assert reply["usage"]["inputTokens"] == 3  # "sys" + "Hi there": 11 chars
    assert mock.requests[-1].headers["authorization"] == SIGV4  # a signature, recorded for tests to recompute


def test_bedrock_converse_stream_is_event_stream_framed(mock: ThreadedMockProvider) -> None:
    status, headers, body = post(mock, "/model/m/converse-stream", CONVERSE, authorization=SIGV4,
                                 **{"x-amz-date": "20260101T000000Z", "x-mock-chunks": "3"})
    assert status == 200 and headers["content-type"] == "application/vnd.amazon.eventstream"
    buf = EventStreamBuffer()
    buf.add_data(body)
    kinds = [m.headers[":event-type"] for m in buf]
    assert kinds == ["messageStart", "contentBlockDelta", "contentBlockDelta", "contentBlockDelta",
                     "contentBlockStop", "messageStop", "metadata"]


def test_vertex_raw_predict_checks_the_body(mock: ThreadedMockProvider) -> None:
    path = "/v1/projects/p/locations/global/publishers/anthropic/models/claude-x:rawPredict"
    msgs = {"max_tokens": 5, "messages": [{"role": "user", "content": "yo"}]}
    assert post(mock, path, {**msgs, "model": "claude-x", "anthropic_version": "vertex-2023-10-16"})[0] == 400
    assert post(mock, path, msgs)[0] == 400
    status, _, body = post(mock, path, {**msgs, "anthropic_version": "vertex-2023-10-16"})
    assert status == 200 and json.loads(body)["model"] == "claude-x"


def test_vertex_stream_raw_predict_streams(mock: ThreadedMockProvider) -> None:
    path = "/v1/projects/p/locations/global/publishers/anthropic/models/claude-x:streamRawPredict"
    status, headers, body = post(mock, path, {"max_tokens": 5, "anthropic_version": "vertex-2023-10-16",
                                              "messages": [{"role": "user", "content": "yo"}]})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert b"event: message_start" in body and b"event: message_stop" in body


def test_azure_deployment_urls_need_api_version(mock: ThreadedMockProvider) -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert post(mock, "/openai/deployments/d/chat/completions", chat, **{"api-key": "k"})[0] == 404
    status, headers, _ = post(mock, "/openai/deployments/d/chat/completions?api-version=2024-10-21", chat,
                              **{"api-key": "k"})
    assert status == 200 and headers["x-mock-auth-header"] == "api-key"
