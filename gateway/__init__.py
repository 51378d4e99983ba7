"""agentgateway-py: an LLM gateway drop-in compatible with agentgateway's config."""

__version__ = "0.1.0"
