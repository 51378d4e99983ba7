"""Anthropic Messages API."""

from gateway.config.model import RouteType
from gateway.providers.base import ProviderSpec

# The API rejects requests without a version header; clients that set their own keep it.
ANTHROPIC_VERSION = b"2023-06-01"

ANTHROPIC = ProviderSpec(
    name="anthropic",
    default_host="api.anthropic.com",
    base_path="/v1",
    native_format=RouteType.MESSAGES,
    auth_header=b"x-api-key",
    auth_prefix=b"",
    default_headers=((b"anthropic-version", ANTHROPIC_VERSION),),
)
