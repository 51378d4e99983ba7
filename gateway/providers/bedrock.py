"""AWS Bedrock through the Converse API (agentgateway's `bedrock` provider, crates/llm/src/bedrock.rs).

Host `bedrock-runtime.{region}.amazonaws.com`, paths `/model/{modelId}/converse` and `/converse-stream`.
The gateway speaks Anthropic Messages to this provider internally (so policies, usage accounting and the
OpenAI translation work unchanged); `encode_request` turns the body into Converse and `wrap_response`
turns the reply (JSON, or the binary event stream) back into Messages JSON / SSE as it arrives.

Requests are signed with SigV4 (botocore's signer, service `bedrock`) after every other header edit.
Credentials: `backendAuth.aws {accessKeyId, secretAccessKey, sessionToken?, region?}` when configured
(its region, if set, is the signing region), else the standard AWS environment variables (AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN) read when the backend first serves a request.
Instance roles, profiles and assumeRole are not supported.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import orjson
from multidict import CIMultiDict
from yarl import URL

from gateway.config.model import AIBackend, AwsAuth, BackendAuth, RouteType
from gateway.errors import GatewayError, InvalidRequest
from gateway.providers.base import ProviderSpec, extra
from gateway.providers.translate import messages_to_converse
from gateway.providers.translate.stream_converse_to_anthropic import ConverseStreamDecoder
from gateway.server.types import Headers

MAX_RESPONSE = 64 * 1024 * 1024
# Headers that change between hops or are added after signing: signing them would break the signature.
_REPLACED = frozenset({b"authorization", b"x-api-key", b"api-key", b"x-goog-api-key", b"x-amz-date",
                       b"x-amz-security-token"})
_UNSIGNED = frozenset({b"accept-encoding", b"user-agent", b"traceparent", b"tracestate", b"x-amzn-trace-id"})


class MissingAwsCredentials(GatewayError):
    status = 500
    reason = "Internal"


@dataclass(frozen=True)
class AwsCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"AwsCredentials({self.access_key_id[:4]}...)"

    @staticmethod
    def from_config(aws: AwsAuth) -> AwsCredentials | None:
        if aws.access_key_id is None or aws.secret_access_key is None:
            return None
        token = aws.session_token.reveal() if aws.session_token is not None else None
        return AwsCredentials(aws.access_key_id.reveal(), aws.secret_access_key.reveal(), token or None)

    @staticmethod
    def from_env() -> AwsCredentials | None:
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if not key or not secret:
            return None
        return AwsCredentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)


@dataclass(frozen=True)
class BedrockSpec(ProviderSpec):
    region: str = "us-east-1"
    credentials: AwsCredentials | None = None
    guardrail: tuple[str, str] | None = None  # (identifier, version)

    def for_backend(self, backend: AIBackend) -> ProviderSpec:
        region = extra(backend, "region") or "us-east-1"
        ident, version = extra(backend, "guardrailIdentifier"), extra(backend, "guardrailVersion")
        return replace(self, default_host=f"bedrock-runtime.{region}.amazonaws.com", region=region,
                       credentials=AwsCredentials.from_env(),
                       guardrail=(ident, version or "DRAFT") if ident else None)

    def request_path(self, route_type: RouteType, prefix: str | None, model: str | None, stream: bool) -> str:
        if not model:
            raise InvalidRequest("model not specified", code="missing_model")
        base = prefix.rstrip("/") if prefix is not None else ""
        return f"{base}/model/{quote(model, safe='')}/{'converse-stream' if stream else 'converse'}"

    def encode_request(self, body: dict[str, Any], model: str | None, stream: bool) -> dict[str, Any]:
        out = messages_to_converse.translate_request(body)
        if self.guardrail is not None:
            out["guardrailConfig"] = {"guardrailIdentifier": self.guardrail[0], "guardrailVersion": self.guardrail[1]}
        return out

    def sign(self, headers: Headers, method: str, url: str, payload: bytes, auth: BackendAuth | None) -> Headers:
        # botocore (~8 MB of RSS) is loaded by the first signature, not by every gateway process.
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        aws = auth.aws if auth is not None else None
        creds = AwsCredentials.from_config(aws) if aws is not None and aws.access_key_id else self.credentials
        region = aws.region if aws is not None and aws.region else self.region
        if creds is None:
            raise MissingAwsCredentials("bedrock backend has no AWS credentials (set AWS_ACCESS_KEY_ID and "
                                        "AWS_SECRET_ACCESS_KEY)")
        # The signature is the only credential AWS takes: a client's own key (an Anthropic SDK's x-api-key,
        # passed through when no backendAuth is set) must not travel to AWS.
        kept = [(k, v) for k, v in headers if k not in _REPLACED]
        signed = {k.decode("latin-1"): v.decode("latin-1") for k, v in kept if k not in _UNSIGNED}
        # Sign the URL as the HTTP client will put it on the wire: yarl un-escapes what a path may hold
        # as is (`%3A` in model ids becomes `:`), and AWS verifies against the path it receives.
        request = AWSRequest(method=method, url=str(URL(url)), data=payload, headers=signed)
        SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
                  "bedrock", region).add_auth(request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            value = request.headers.get(name)
            if value is not None:
                kept.append((name.lower().encode(), value.encode("latin-1")))
        return kept

    def wrap_response(self, up: Any, stream: bool, model: str | None) -> Any:
        return ConverseResponse(up, stream, model)


class ConverseResponse:
    """The aiohttp response seen through Anthropic Messages eyes (the parts the pipeline reads)."""

    def __init__(self, up: Any, stream: bool, model: str | None) -> None:
        self._up = up
        self.status: int = up.status
        self._stream = stream and self.status < 300
        ctype = b"text/event-stream" if self._stream else b"application/json"
        self.raw_headers = tuple((k, v) for k, v in up.raw_headers
                                 if k.lower() not in (b"content-type", b"content-length")) + ((b"content-type", ctype),)
        self.headers = CIMultiDict(up.headers)  # failover reads retry hints from here
        self.headers.popall("content-length", None)
        self.headers["content-type"] = ctype.decode()
        self._model = model
        self.content = self

    def close(self) -> None:
        self._up.close()

    def release(self) -> None:
        self._up.release()

    def iter_any(self) -> AsyncIterator[bytes]:
        return self._events() if self._stream else self._whole()

    async def _events(self) -> AsyncIterator[bytes]:
        decoder = ConverseStreamDecoder(self._model)
        async for chunk in self._up.content.iter_any():
            out = decoder.feed(chunk)
            if out:
                yield out
        tail = decoder.flush()
        if tail:
            yield tail

    async def _whole(self) -> AsyncIterator[bytes]:
        parts, size = [], 0
        async for chunk in self._up.content.iter_any():
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE:
                yield b"".join(parts)  # the caller's own limit refuses it
                return
        yield self._translate(b"".join(parts))

    def _translate(self, body: bytes) -> bytes:
        if self.status >= 300:
            return orjson.dumps(messages_to_converse.translate_error(body, self.status))
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body
        if not isinstance(parsed, dict):
            return body
        return orjson.dumps(messages_to_converse.translate_response(parsed, self._model))


BEDROCK = BedrockSpec(
    name="aws.bedrock",
    default_host="bedrock-runtime.us-east-1.amazonaws.com",
    base_path="",
    native_format=RouteType.MESSAGES,
    auth_header=b"authorization",
    auth_prefix=b"Bearer ",
    keeps_client_path=False,
    rewrites_body=True,
)
