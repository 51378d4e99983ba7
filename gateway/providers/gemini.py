"""Google Gemini through its OpenAI-compatible endpoint."""

from gateway.config.model import RouteType
from gateway.providers.base import ProviderSpec

GEMINI = ProviderSpec(
    name="gcp.gemini",
    default_host="generativelanguage.googleapis.com",
    base_path="/v1beta/openai",
    native_format=RouteType.COMPLETIONS,
    auth_header=b"authorization",
    auth_prefix=b"Bearer ",
)
