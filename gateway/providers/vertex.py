"""Google Vertex AI (agentgateway's `vertex` provider, crates/llm/src/vertex.rs).

Host `aiplatform.googleapis.com` for region `global` (or none), else `{region}-aiplatform.googleapis.com`.
Claude models (a configured `model` containing "claude") go to the Anthropic publisher endpoint
`.../publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict` when streaming) in the Messages
format, with `anthropic_version: vertex-2023-10-16` in the body and no `model` field; every other model
goes to the OpenAI-compatible `.../endpoints/openapi/chat/completions`.

Auth: `backendAuth.key` is sent as `Authorization: Bearer <token>`. GCP application-default credentials
(token minting and refresh) are not implemented: configure a static access token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from gateway.config.model import AIBackend, RouteType
from gateway.errors import InvalidRequest
from gateway.providers.base import ProviderSpec, extra

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


def is_claude(model: str | None) -> bool:
    return model is not None and "claude" in model.lower()


@dataclass(frozen=True)
class VertexSpec(ProviderSpec):
    project: str = ""
    region: str = "global"

    def for_backend(self, backend: AIBackend) -> ProviderSpec:
        region = extra(backend, "region") or "global"
        host = "aiplatform.googleapis.com" if region == "global" else f"{region}-aiplatform.googleapis.com"
        claude = is_claude(backend.provider.model)
        return replace(self, default_host=host, region=region, project=extra(backend, "projectId") or "",
                       native_format=RouteType.MESSAGES if claude else RouteType.COMPLETIONS,
                       rewrites_body=claude)

    def request_path(self, route_type: RouteType, prefix: str | None, model: str | None, stream: bool) -> str:
        base = f"/v1/projects/{quote(self.project, safe='')}/locations/{quote(self.region, safe='')}"
        if self.native_format is RouteType.COMPLETIONS:
            return base + "/endpoints/openapi/chat/completions"
        if not model:
            raise InvalidRequest("model not specified", code="missing_model")
        verb = "streamRawPredict" if stream else "rawPredict"
        return f"{base}/publishers/anthropic/models/{quote(model, safe='@')}:{verb}"

    def encode_request(self, body: dict[str, Any], model: str | None, stream: bool) -> dict[str, Any]:
        if self.native_format is not RouteType.MESSAGES:
            return body
        out = {k: v for k, v in body.items() if k != "model"}  # the model is in the URL
        out.setdefault("anthropic_version", VERTEX_ANTHROPIC_VERSION)
        return out


VERTEX = VertexSpec(
    name="gcp.vertex_ai",
    default_host="aiplatform.googleapis.com",
    base_path="/v1",
    native_format=RouteType.COMPLETIONS,
    auth_header=b"authorization",
    auth_prefix=b"Bearer ",
    keeps_client_path=False,
)
