"""Azure OpenAI / Azure AI Foundry (agentgateway's `azure` provider, crates/llm/src/azure.rs).

Host: `{resourceName}.openai.azure.com` for resourceType `openAI`, `{resourceName}.services.ai.azure.com`
for `foundry`/`aiServices`. apiVersion `v1` (the default) uses the unversioned v1 API
(`/openai/v1/chat/completions`, with a Foundry project `/api/projects/{project}/openai/v1/...`); any other
version uses the deployment URL `/openai/deployments/{model}/chat/completions?api-version=...`.
The key goes in `api-key`. Entra ID (implicit Azure credentials) is not supported: a static key is required.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import quote

from gateway.config.model import AIBackend, RouteType
from gateway.errors import InvalidRequest
from gateway.providers.base import PATH_SUFFIXES, ProviderSpec, extra

_HOST_SUFFIX = {
    "openai": "openai.azure.com",
    "foundry": "services.ai.azure.com",
    "aiservices": "services.ai.azure.com",
}


@dataclass(frozen=True)
class AzureSpec(ProviderSpec):
    api_version: str = "v1"
    project: str | None = None

    def for_backend(self, backend: AIBackend) -> ProviderSpec:
        resource = extra(backend, "resourceName") or ""
        rtype = (extra(backend, "resourceType") or "openAI").lower()
        suffix = _HOST_SUFFIX.get(rtype, _HOST_SUFFIX["foundry"])
        return replace(self, default_host=f"{resource}.{suffix}",
                       api_version=extra(backend, "apiVersion") or "v1",
                       project=extra(backend, "projectName") if rtype != "openai" else None)

    def request_path(self, route_type: RouteType, prefix: str | None, model: str | None, stream: bool) -> str:
        suffix = PATH_SUFFIXES.get(route_type, PATH_SUFFIXES[RouteType.COMPLETIONS])
        if prefix is not None:
            return prefix.rstrip("/") + suffix
        if self.api_version == "v1":
            base = f"/api/projects/{quote(self.project, safe='')}/openai/v1" if self.project else "/openai/v1"
            return base + suffix
        if not model:
            raise InvalidRequest("model not specified", code="missing_model")
        return (f"/openai/deployments/{quote(model, safe='')}{suffix}"
                f"?api-version={quote(self.api_version, safe='')}")


AZURE = AzureSpec(
    name="azure",
    default_host="openai.azure.com",
    base_path="/openai/v1",
    native_format=RouteType.COMPLETIONS,
    auth_header=b"api-key",
    auth_prefix=b"",
    keeps_client_path=False,
)
