"""Lowering of policy blocks (route `policies`, backend `policies`, llm per-model fields)."""

from __future__ import annotations

from pathlib import Path

from . import model as m
from .lower_auth import auth_fields
from .lower_failover import health_policy, retry_policy
from .lower_guard import prompt_guard
from .lower_ratelimit import local_rate_limit
from .reader import Section, type_name
from .values import parse_duration
from .yamlnodes import YMap, YScalar, plain

_ROUTE_TYPES = {t.value: t for t in m.RouteType}


def duration(sec: Section, key: str) -> float | None:
    text = sec.string(key)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError as e:
        sec.error(key, str(e))
        return None


def header_modifier(sec: Section | None) -> m.HeaderModifier | None:
    if sec is None:
        return None
    # HTTP header names are case-insensitive; lower-case once here so the hot path never does.
    add = tuple((k.lower(), v) for k, v in sec.str_map("add"))
    set_ = tuple((k.lower(), v) for k, v in sec.str_map("set"))
    return m.HeaderModifier(add=add, set=set_, remove=tuple(n.lower() for n in sec.str_list("remove")))


def cors(sec: Section | None) -> m.Cors | None:
    if sec is None:
        return None
    return m.Cors(
        allow_credentials=bool(sec.boolean("allowCredentials")),
        allow_headers=sec.str_list("allowHeaders"),
        allow_methods=sec.str_list("allowMethods"),
        allow_origins=sec.str_list("allowOrigins"),
        expose_headers=sec.str_list("exposeHeaders"),
        max_age=duration(sec, "maxAge"),
    )


def timeout(sec: Section | None) -> m.Timeout | None:
    if sec is None:
        return None
    return m.Timeout(duration(sec, "requestTimeout"), duration(sec, "backendRequestTimeout"))


def backend_tls(sec: Section | None) -> m.BackendTLS | None:
    if sec is None:
        return None
    return m.BackendTLS(
        insecure=bool(sec.boolean("insecure")), root=sec.string("root"), sni=sec.string("hostname")
    )


def secret(parent: Section, key: str) -> m.Secret | None:
    """A FileOrInline credential: inline string (already env-expanded) or {file: path} read now."""
    node = parent.get(key)
    if node is None or (isinstance(node, YScalar) and node.value is None):
        return None
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return m.Secret(node.value)
    if not isinstance(node, YMap):
        # Never echo the value: it may be a credential that YAML typed as a number.
        parent.error(key, f"expected string or {{file: path}}, got {type_name(node)}")
        return None
    sec = Section.open(parent.ctx, node, parent.sub(key), parent.schema.child(key), "secretFile")
    path = sec.string("file") if sec else None
    if sec is None or path is None:
        if sec is not None and not sec.has("file") and sec.pristine:
            sec.error(None, "expected a string or {file: path}")
        return None
    try:
        # Trailing newline from `echo key > file` would corrupt the header value.
        return m.Secret(Path(path).read_text().strip())
    except OSError as e:
        sec.error("file", f"cannot read secret file: {e.strerror}")
        return None


def backend_auth(sec: Section | None) -> m.BackendAuth | None:
    if sec is None:
        return None
    if sec.has("aws"):
        return _backend_auth_aws(sec)
    node = sec.get("key")
    if node is None:
        sec.require("key")
        return None
    if isinstance(node, YMap) and "file" not in node.index:
        return _backend_auth_object(sec)
    key = secret(sec, "key")
    return m.BackendAuth(key) if key else None


def _backend_auth_aws(parent: Section) -> m.BackendAuth | None:
    """aws: {accessKeyId, secretAccessKey, sessionToken?, region?}. `aws: {}` means implicit credentials,
    of which this gateway reads the standard AWS_* environment variables (no profiles or instance roles)."""
    if parent.has("key"):
        parent.error("aws", '"aws" cannot be combined with "key"')
        return None
    sec = parent.section("aws", "backendAuthAws")
    if sec is None:
        return m.BackendAuth(m.Secret(""), aws=m.AwsAuth())  # `aws: {}` or `aws:` with no value
    explicit = sec.has("accessKeyId") or sec.has("secretAccessKey")
    if explicit:
        sec.require("accessKeyId", "secretAccessKey")
    key_id, secret_key = secret(sec, "accessKeyId"), secret(sec, "secretAccessKey")
    if explicit and (key_id is None or secret_key is None):
        return None
    aws = m.AwsAuth(key_id, secret_key, secret(sec, "sessionToken"), sec.string("region"))
    return m.BackendAuth(m.Secret(""), aws=aws)


def _backend_auth_object(parent: Section) -> m.BackendAuth | None:
    """key: {value: <FileOrInline>, location: {header: {name, prefix}}}."""
    sec = parent.section("key", "backendAuthKey")
    if sec is None:
        return None
    if not sec.has("value"):
        sec.require("value")
        return None
    key = secret(sec, "value")
    header = prefix = None
    loc = sec.section("location", "authLocation")
    hdr = loc.section("header", "authHeader") if loc else None
    if hdr is not None:
        name = hdr.string("name")
        header = name.lower() if name else None
        prefix = hdr.string("prefix")
        hdr.require("name")
    return m.BackendAuth(key, header, prefix) if key else None


def ai_policy(sec: Section | None) -> m.AIPolicy | None:
    if sec is None:
        return None
    prompts = sec.section("prompts", "prompts")
    return m.AIPolicy(
        routes=_ai_routes(sec),
        defaults=_object_fields(sec, "defaults"),
        overrides=_object_fields(sec, "overrides"),
        model_aliases=_model_aliases(sec),
        prompts_prepend=_messages(prompts, "prepend") if prompts else (),
        prompts_append=_messages(prompts, "append") if prompts else (),
        prompt_guard=prompt_guard(sec.section("promptGuard", "promptGuard")),
    )


def _object_fields(sec: Section, key: str) -> tuple[tuple[str, object], ...]:
    return tuple((k, plain(v)) for k, _, _, v in sec.entries(key))


def _ai_routes(sec: Section) -> tuple[tuple[str, m.RouteType], ...]:
    routes: list[tuple[str, m.RouteType]] = []
    for suffix, path, line, v in sec.entries("routes"):
        value = v.value if isinstance(v, YScalar) else None
        if not isinstance(value, str) or value not in _ROUTE_TYPES:
            got = f'"{value}"' if isinstance(value, str) else type_name(v)
            sec.ctx.error(line, path, f"expected one of {', '.join(_ROUTE_TYPES)}; got {got}")
            continue
        routes.append((suffix, _ROUTE_TYPES[value]))
    # Longest suffix wins, "*" is the fallback (agentgateway resolve_route); sort once at load.
    return tuple(sorted(routes, key=lambda r: (r[0] == "*", -len(r[0]))))


def _model_aliases(sec: Section) -> tuple[tuple[str, str], ...]:
    aliases = sec.str_map("modelAliases")
    exact = [a for a in aliases if "*" not in a[0]]
    wild = sorted((a for a in aliases if "*" in a[0]), key=lambda a: -len(a[0]))
    return tuple(exact + wild)


def _messages(sec: Section, key: str) -> tuple[m.PromptMessage, ...]:
    out = []
    for path, node, schema in sec.items(key):
        msg = Section.open(sec.ctx, node, path, schema, "promptMessage")
        if msg is None:
            continue
        role, content = msg.string("role"), msg.string("content")
        msg.require("role", "content")
        if role is not None and content is not None:
            out.append(m.PromptMessage(role, content))
    return tuple(out)


def route_policies(sec: Section | None) -> m.Policies:
    if sec is None:
        return m.Policies()
    return m.Policies(
        request_header_modifier=header_modifier(sec.section("requestHeaderModifier", "headerModifier")),
        response_header_modifier=header_modifier(sec.section("responseHeaderModifier", "headerModifier")),
        cors=cors(sec.section("cors", "cors")),
        timeout=timeout(sec.section("timeout", "timeout")),
        backend_auth=backend_auth(sec.section("backendAuth", "backendAuth")),
        backend_tls=backend_tls(sec.section("backendTLS", "backendTLS")),
        ai=ai_policy(sec.section("ai", "ai")),
        local_rate_limit=local_rate_limit(sec),
        retry=retry_policy(sec.section("retry", "retry")),
        **auth_fields(sec),
    )


def backend_policies(sec: Section | None) -> m.Policies:
    if sec is None:
        return m.Policies()
    return m.Policies(
        request_header_modifier=header_modifier(sec.section("requestHeaderModifier", "headerModifier")),
        response_header_modifier=header_modifier(sec.section("responseHeaderModifier", "headerModifier")),
        backend_auth=backend_auth(sec.section("backendAuth", "backendAuth")),
        backend_tls=backend_tls(sec.section("backendTLS", "backendTLS")),
        ai=ai_policy(sec.section("ai", "ai")),
        timeout=_backend_http(sec.section("http", "backendHTTP")),
        health=health_policy(sec.section("health", "health")),
    )


def _backend_http(sec: Section | None) -> m.Timeout | None:
    """backend `http.requestTimeout`: the limit of each upstream attempt to this backend."""
    limit = duration(sec, "requestTimeout") if sec is not None else None
    return m.Timeout(backend_request_timeout=limit) if limit is not None else None
