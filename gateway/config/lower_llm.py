"""Lowering of the simplified `llm:` dialect into one Bind -> Listener -> Route -> ModelRouter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from . import model as m
from .lower_auth import auth_fields
from .lower_backends import merge_policies
from .lower_failover import health_policy
from .lower_guard import prompt_guard
from .lower_policies import backend_auth, backend_tls, cors, header_modifier, secret
from .lower_ratelimit import local_rate_limit
from .lower_routes import header_matches
from .lower_virtual import body_transformation, virtual_models
from .reader import NOT_SUPPORTED, Section, type_name
from .values import parse_base_url, parse_host_port
from .yamlnodes import YMap, YScalar, plain

_T = TypeVar("_T")
DEFAULT_LLM_PORT = 4000
_BUILTIN = {
    "openai": "openai", "openAI": "openai", "anthropic": "anthropic", "gemini": "gemini",
    "vertex": "vertex", "bedrock": "bedrock", "azure": "azure",
}  # fmt: skip
# OpenAI-compatible presets -> the vendor's public OpenAI-compatible base URL.
PRESET_BASE_URLS = {
    "cohere": "https://api.cohere.ai/compatibility/v1",
    "ollama": "http://localhost:11434/v1",
    "baseten": "https://inference.baseten.co/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "deepinfra": "https://api.deepinfra.com/v1/openai",
    "deepseek": "https://api.deepseek.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "huggingface": "https://router.huggingface.co/v1",
    "mistral": "https://api.mistral.ai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "togetherai": "https://api.together.xyz/v1",
    "xai": "https://api.x.ai/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
}
# llm params -> the provider field names of the binds dialect, so both dialects lower alike.
_PARAM_EXTRA = {
    "awsRegion": "region", "vertexRegion": "region", "vertexProject": "projectId",
    "azureResourceName": "resourceName", "azureResourceType": "resourceType",
    "azureApiVersion": "apiVersion", "azureProjectName": "projectName",
}  # fmt: skip
_REQUIRED_PARAMS = {
    "vertex": ("vertexProject",),
    "bedrock": ("awsRegion",),
    "azure": ("azureResourceName", "azureResourceType"),
}  # fmt: skip


@dataclass
class _Params:
    """params of a model or provider preset; None = not set (model params override the preset's)."""

    model: str | None = None
    api_key: m.Secret | None = None
    host: m.HostPort | None = None
    path_prefix: str | None = None
    path_override: str | None = None
    https: bool | None = None  # from baseUrl scheme
    extra: dict[str, str] = field(default_factory=dict)

    def over(self, base: _Params) -> _Params:
        merged = {k: getattr(self, k) if getattr(self, k) is not None else getattr(base, k) for k in
                  ("model", "api_key", "host", "path_prefix", "path_override", "https")}  # fmt: skip
        return _Params(**merged, extra={**base.extra, **self.extra})


@dataclass
class _Template:
    """A resolved provider: builtin kind, preset, or llm.providers[] entry."""

    kind: str
    params: _Params = field(default_factory=_Params)
    policies: m.Policies = field(default_factory=m.Policies)
    preset: str | None = None


def _params(sec: Section | None) -> _Params:
    p = _Params()
    if sec is None:
        return p
    p.model = sec.string("model")
    p.api_key = secret(sec, "apiKey")
    p.path_override = sec.string("pathOverride")
    p.path_prefix = sec.string("pathPrefix")
    if sec.has("hostOverride"):
        text = sec.string("hostOverride")
        p.host = _parse(sec, "hostOverride", text, parse_host_port)
    base = sec.string("baseUrl")
    if base is not None:
        for clash in ("hostOverride", "pathPrefix"):
            if sec.has(clash):
                sec.error(clash, "cannot be combined with baseUrl")
        parsed = _parse(sec, "baseUrl", base, parse_base_url)
        if parsed:
            p.host, p.path_prefix, p.https = parsed
    for key, name in _PARAM_EXTRA.items():
        value = sec.string(key)
        if value is not None:
            p.extra[name] = value
    return p


def _parse(sec: Section, key: str, text: str | None, fn: Callable[[str], _T]) -> _T | None:
    if text is None:
        return None
    try:
        return fn(text)
    except ValueError as e:
        sec.error(key, str(e))
        return None


def _model_policies(sec: Section, template: _Template) -> m.Policies:
    """Per-model (or preset `defaults`) fields that are backend policies in the binds dialect."""
    if sec.has("backendTLS") and sec.has("tls"):
        sec.error("tls", "only one of backendTLS, tls may be set")
    tls_key = "backendTLS" if sec.has("backendTLS") else "tls"
    defaults = tuple((k, plain(v)) for k, _, _, v in sec.entries("defaults"))
    overrides = tuple((k, plain(v)) for k, _, _, v in sec.entries("overrides"))
    guard = prompt_guard(sec.section("guardrails", "promptGuard"))
    own = m.Policies(
        request_header_modifier=header_modifier(sec.section("requestHeaders", "headerModifier")),
        response_header_modifier=header_modifier(sec.section("responseHeaders", "headerModifier")),
        backend_auth=backend_auth(sec.section("auth", "backendAuth")),
        backend_tls=backend_tls(sec.section(tls_key, "backendTLS")),
        health=health_policy(sec.section("health", "health")),
        ai=m.AIPolicy(defaults=defaults, overrides=overrides, prompt_guard=guard)
        if defaults or overrides or guard else None,
    )
    return merge_policies(template.policies, own)


def _provider_ref(sec: Section, templates: dict[str, _Template | None]) -> _Template | None:
    """provider: openai | <preset> | {reference: name}."""
    node = sec.get("provider")
    if node is None:
        sec.require("provider")
        return None
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return _named_provider(sec, node.value)
    if not isinstance(node, YMap):
        sec.error("provider", f"expected string or object, got {type_name(node)}")
        return None
    ref_sec = sec.section("provider", "llmProviderRef")
    ref = ref_sec.string("reference") if ref_sec else None
    if ref is None:
        if ref_sec is not None and ref_sec.pristine:
            ref_sec.error(None, "expected {reference: <llm.providers name>}")
        return None
    if ref not in templates and ref_sec is not None:
        known = ", ".join(templates) or "none"
        ref_sec.error("reference", f'unknown provider "{ref}" (llm.providers: {known})')
        return None
    return templates.get(ref)


def _named_provider(sec: Section, name: str) -> _Template | None:
    if name in _BUILTIN:
        return _Template(_BUILTIN[name])
    if name in PRESET_BASE_URLS:
        host, prefix, https = parse_base_url(PRESET_BASE_URLS[name])
        return _Template("openai", _Params(host=host, path_prefix=prefix, https=https), preset=name)
    known = sec.schema.child("provider").enum()
    if name in known:  # e.g. copilot
        sec.error("provider", f'provider "{name}" is {NOT_SUPPORTED}')
    else:
        sec.error("provider", f'unknown provider "{name}"; expected one of: {", ".join(known)}')
    return None


def _templates(llm: Section) -> dict[str, _Template | None]:
    """llm.providers by name; None marks one that failed (already reported, so references to it
    must not add a second, misleading "unknown provider" error)."""
    out: dict[str, _Template | None] = {}
    for path, node, schema in llm.items("providers"):
        sec = Section.open(llm.ctx, node, path, schema, "llmProvider")
        name = sec.string("name") if sec else None
        if sec is None:
            continue
        if name is None:
            sec.require("name")
            continue
        base = _provider_ref(sec, out)
        out[name] = None
        if base is None:
            continue
        params = _params(sec.section("params", "llmParams")).over(base.params)
        dsec = sec.section("defaults", "llmProviderDefaults")
        policies = _model_policies(dsec, base) if dsec else base.policies
        out[name] = _Template(base.kind, params, policies, base.preset)
    return out


def _backend(sec: Section, name: str, tpl: _Template) -> m.AIBackend | None:
    params = _params(sec.section("params", "llmParams")).over(tpl.params)
    for key in _REQUIRED_PARAMS.get(tpl.kind, ()):
        if _PARAM_EXTRA[key] not in params.extra:
            sec.error("params", f"provider {tpl.kind} requires params.{key}")
    policies = _model_policies(sec, tpl)
    if params.api_key is not None:
        policies = merge_policies(m.Policies(backend_auth=m.BackendAuth(params.api_key)), policies)
    extra = dict(params.extra)
    if tpl.preset:
        extra["preset"] = tpl.preset
    # https baseUrl turns TLS on; an explicit backendTLS/tls wins over that default.
    tls = policies.backend_tls or (m.BackendTLS() if params.https else None)
    return m.AIBackend(
        name=name,
        provider=m.AIProvider(tpl.kind, params.model, tuple(sorted(extra.items()))),
        host_override=params.host,
        path_override=params.path_override,
        path_prefix=params.path_prefix,
        tls=tls,
        policies=policies,
    )


def _model(path: str, sec: Section, templates: dict[str, _Template | None]) -> m.LLMModel | None:
    name = sec.string("name")
    sec.require("name")
    if name is not None and name.count("*") > 1:
        sec.error("name", 'a model pattern may contain at most one "*"')
        name = None
    visibility = sec.string("visibility")
    if visibility not in (None, "public", "internal"):
        sec.error("visibility", f'expected "public" or "internal", got "{visibility}"')
    tpl = _provider_ref(sec, templates)
    matches = list(sec.items("matches"))
    if len(matches) > 1:
        sec.error("matches", f"more than one match entry is {NOT_SUPPORTED}")
    headers: tuple[m.HeaderMatch, ...] = ()
    for mpath, node, schema in matches[:1]:
        msec = Section.open(sec.ctx, node, mpath, schema, "llmMatch")
        headers = header_matches(msec) if msec else ()
    backend = _backend(sec, name, tpl) if name is not None and tpl is not None else None
    transformation = body_transformation(sec)
    if backend is None or name is None:
        return None
    return m.LLMModel(name, backend, headers, visibility == "internal", transformation)


def _specificity(indexed: tuple[int, m.LLMModel]) -> tuple[int, int]:
    i, model = indexed
    return (-(len(model.pattern) - model.pattern.count("*")), i)


def lower_llm(llm: Section) -> tuple[int, m.Route]:
    """-> (port, route). The caller places the route on a bind."""
    templates = _templates(llm)
    models = []
    llm.require("models")
    for path, node, schema in llm.items("models"):
        sec = Section.open(llm.ctx, node, path, schema, "llmModel")
        model = _model(path, sec, templates) if sec else None
        if model is not None:
            models.append(model)
    # Most specific pattern first (agentgateway model_router): non-* length desc, then file order.
    ordered = tuple(mdl for _, mdl in sorted(enumerate(models), key=_specificity))
    policies_sec = llm.section("policies", "llmPolicies")
    policies = m.Policies(cors=cors(policies_sec.section("cors", "cors"))) if policies_sec else m.Policies()
    if policies_sec is not None:
        policies = replace(policies, local_rate_limit=local_rate_limit(policies_sec))
        policies = replace(policies, **auth_fields(policies_sec))
        guard = prompt_guard(policies_sec.section("guardrails", "promptGuard"))
        if guard is not None:
            policies = replace(policies, ai=m.AIPolicy(prompt_guard=guard))
    router = m.ModelRouter(ordered, virtual_models(llm, ordered))
    route = m.Route(name="llm", policies=policies, backends=(m.RouteBackend(router),))
    port = llm.integer("port", 0, 65535)
    return (DEFAULT_LLM_PORT if port is None else port), route
