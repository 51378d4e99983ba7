"""OpenAI (and every OpenAI-compatible service reached through hostOverride/baseUrl)."""

from gateway.config.model import RouteType
from gateway.providers.base import ProviderSpec

OPENAI = ProviderSpec(
    name="openai",
    default_host="api.openai.com",
    base_path="/v1",
    native_format=RouteType.COMPLETIONS,
    auth_header=b"authorization",
    auth_prefix=b"Bearer ",
)
