"""Lowering of route backends: `ai` (single provider or groups), `host`, and `backend: /name`."""

from __future__ import annotations

from collections.abc import Mapping

from . import model as m
from .lower_policies import backend_policies
from .reader import Ctx, Section
from .values import parse_host_port

# agentgateway provider key -> our lower-case provider id.
PROVIDER_KINDS = {
    "openAI": "openai", "anthropic": "anthropic", "gemini": "gemini", "vertex": "vertex",
    "bedrock": "bedrock", "azure": "azure",
}  # fmt: skip
# Provider fields that are required by agentgateway's schema.
_REQUIRED = {"vertex": ("projectId",), "bedrock": ("region",), "azure": ("resourceName", "resourceType")}


def host_port(sec: Section, key: str) -> m.HostPort | None:
    text = sec.string(key)
    if text is None:
        return None
    try:
        return parse_host_port(text)
    except ValueError as e:
        sec.error(key, str(e))
        return None


def provider(sec: Section | None) -> m.AIProvider | None:
    """provider: {openAI: {model?}} etc. (exactly one key)."""
    if sec is None:
        return None
    keys = [k for k, _, _ in sec.node.items if sec.has(k)]
    if len(keys) != 1:
        if sec.pristine:
            sec.error(None, f"expected exactly one provider ({', '.join(PROVIDER_KINDS)})")
        return None
    key = keys[0]
    body = sec.section(key, f"provider.{key}")
    fields: dict[str, object] = {}
    if body is not None:
        body.require(*_REQUIRED.get(key, ()))
        for name, _, _ in body.node.items:
            if body.has(name):
                value = body.string(name)
                if value is not None:
                    fields[name] = value
    model = fields.pop("model", None)
    return m.AIProvider(PROVIDER_KINDS[key], model if isinstance(model, str) else None, tuple(fields.items()))


def named_ai_provider(sec: Section, default_name: str | None = None) -> m.AIBackend | None:
    """LocalNamedAIProvider: {name, provider, hostOverride, pathOverride, pathPrefix, policies}."""
    prov = provider(sec.section("provider", "aiProvider"))
    sec.require("provider")
    name = sec.string("name") or default_name or (prov.kind if prov else None)
    policies = backend_policies(sec.section("policies", "backendPolicies"))
    host = host_port(sec, "hostOverride")
    if prov is None or name is None:
        return None
    return m.AIBackend(
        name=name,
        provider=prov,
        host_override=host,
        path_override=sec.string("pathOverride"),
        path_prefix=sec.string("pathPrefix"),
        tls=policies.backend_tls,
        policies=policies,
    )


def ai_backend(sec: Section | None) -> m.AIBackend | m.AIGroups | None:
    if sec is None:
        return None
    if sec.has("groups"):
        extra = [k for k, _, _ in sec.node.items if k != "groups" and sec.has(k)]
        for k in extra:
            sec.error(k, '"groups" cannot be combined with a single provider\'s fields')
        return _groups(sec)
    return named_ai_provider(sec)


def _groups(sec: Section) -> m.AIGroups | None:
    groups = []
    for path, node, schema in sec.items("groups"):
        group = Section.open(sec.ctx, node, path, schema, "aiGroup")
        if group is None:
            continue
        tier = []
        for ppath, pnode, pschema in group.items("providers"):
            psec = Section.open(sec.ctx, pnode, ppath, pschema, "aiBackend")
            backend = named_ai_provider(psec) if psec else None
            if backend is not None:
                tier.append(backend)
        group.require("providers")
        groups.append(tuple(tier))
    return m.AIGroups(tuple(groups))


def host_backend(sec: Section, policies: m.Policies) -> m.HostBackend | None:
    target = host_port(sec, "host")
    return m.HostBackend(target, policies.backend_tls, policies) if target else None


_TARGET_KEYS = ("ai", "host", "backend")


def backend_target(
    sec: Section, named: Mapping[str, m.BackendTarget], allow_ref: bool = True
) -> m.BackendTarget | None:
    """The one target key of a route backend (or top-level named backend)."""
    present = [k for k in _TARGET_KEYS if sec.has(k)]
    if len(present) > 1:
        sec.error(present[1], f"only one of {', '.join(present)} may be set")
        return None
    if not present:
        if sec.pristine:
            sec.error(None, "expected one of: ai, host, backend")
        return None
    policies = backend_policies(sec.section("policies", "backendPolicies"))
    kind = present[0]
    if kind == "ai":
        return _with_policies(ai_backend(sec.section("ai", "aiBackend")), policies, sec)
    if kind == "host":
        return host_backend(sec, policies)
    return _reference(sec, named, policies) if allow_ref else None


def _with_policies(
    target: m.BackendTarget | None, policies: m.Policies, sec: Section
) -> m.BackendTarget | None:
    """Backend-entry `policies` next to `ai:` apply to that backend; fold them into the AI backend."""
    if target is None or policies == m.Policies():
        return target
    if isinstance(target, m.AIBackend):
        merged = merge_policies(policies, target.policies)
        return m.AIBackend(
            target.name, target.provider, target.host_override, target.path_override, target.path_prefix,
            target.tls or merged.backend_tls, merged,
        )  # fmt: skip
    sec.error("policies", "policies next to ai.groups are not supported by this gateway yet")
    return target


def merge_policies(outer: m.Policies, inner: m.Policies) -> m.Policies:
    """Field-wise: the inner (more specific) policy wins, as agentgateway's policy merge does."""
    fields = {f: getattr(inner, f) or getattr(outer, f) for f in m.Policies.__dataclass_fields__}
    return m.Policies(**fields)


def _reference(
    sec: Section, named: Mapping[str, m.BackendTarget], policies: m.Policies
) -> m.BackendTarget | None:
    ref = sec.string("backend")
    if ref is None:
        return None
    name = ref[1:] if ref.startswith("/") else ref
    target = named.get(name)
    if target is None:
        known = ", ".join(f'"/{n}"' for n in named) or "none defined"
        sec.error("backend", f'unknown backend "{ref}" (top-level backends: {known})')
        return None
    if policies != m.Policies():
        sec.error("policies", "policies on a backend reference are not supported by this gateway yet")
    return target


def named_backends(ctx: Ctx, root: Section) -> dict[str, m.BackendTarget]:
    """Top-level `backends:` (referenced from routes as `backend: /name`)."""
    out: dict[str, m.BackendTarget] = {}
    for path, node, schema in root.items("backends"):
        sec = Section.open(ctx, node, path, schema, "namedBackend")
        if sec is None:
            continue
        name = sec.string("name")
        sec.require("name")
        target = backend_target(sec, out, allow_ref=False)
        if name is not None and name in out:
            sec.error("name", f'duplicate backend name "{name}"')
        elif name is not None and target is not None:
            out[name] = target
    return out


def route_backends(sec: Section, named: Mapping[str, m.BackendTarget]) -> tuple[m.RouteBackend, ...]:
    out = []
    for path, node, schema in sec.items("backends"):
        bsec = Section.open(sec.ctx, node, path, schema, "routeBackend")
        if bsec is None:
            continue
        weight = bsec.integer("weight")
        target = backend_target(bsec, named)
        if target is not None:
            out.append(m.RouteBackend(target, 1 if weight is None else weight, weight is not None))
    return tuple(out)
