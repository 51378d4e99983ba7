"""Lower a parsed config tree into model.GatewayConfig (entry point of the lowering modules).

Dialects: `binds:` (low level), `gateways:` + top-level `routes:`, and `llm:`. All of them end as
Binds; nothing downstream knows which dialect a route came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from . import model as m
from .lower_backends import named_backends
from .lower_cost import lower_cost
from .lower_llm import lower_llm
from .lower_policies import duration
from .lower_ratelimit import standard_attributes
from .lower_routes import route
from .lower_state import lower_state_backend
from .lower_telemetry import access_log_policy, lower_telemetry
from .lower_tracing_policy import frontend_tracing
from .reader import NOT_SUPPORTED, Ctx, Section
from .schema import SchemaNode
from .shorthand import expand_shorthands
from .values import parse_listen_addr
from .yamlnodes import YMap, YNode, YScalar

# config key -> (env override, `off` allowed); env wins over the file (agentgateway config.rs).
_ADDRS = {
    "adminAddr": ("ADMIN_ADDR", True, "admin_addr"),
    "statsAddr": ("STATS_ADDR", False, "stats_addr"),
    "readinessAddr": ("READINESS_ADDR", False, "readiness_addr"),
}
_EXTRA_CONFIG = (
    "histograms",
    "sensitiveHeaders", "workerThreads", "connectionMinTerminationDeadline",
)  # fmt: skip
_DEFAULT_GATEWAY = "default"


def _addr(sec: Section | None, key: str, env: Mapping[str, str], ctx: Ctx) -> tuple[bool, m.HostPort | None]:
    """-> (was set, address)."""
    env_name, allow_off, _ = _ADDRS[key]
    text, line, source = env.get(env_name), 0, f" (from env {env_name})"
    if text is None and sec is not None:
        text, line, source = sec.string(key), sec.line(key), ""
    if text is None:
        return False, None
    try:
        return True, parse_listen_addr(text, allow_off)
    except ValueError as e:
        ctx.error(line, f"config.{key}", f"{e}{source}")
        return False, None


def _process(ctx: Ctx, root: Section, env: Mapping[str, str]) -> m.ProcessConfig:
    sec = root.section("config", "config")
    fields: dict[str, object] = {}
    for key, (_, _, attr) in _ADDRS.items():
        was_set, addr = _addr(sec, key, env, ctx)
        if was_set:
            fields[attr] = addr
    if sec is None:  # env alone may still turn tracing on
        return m.ProcessConfig(**fields, telemetry=lower_telemetry(None, env))  # type: ignore[arg-type]
    deadline = duration(sec, "connectionTerminationDeadline")
    if deadline is not None:
        fields["connection_termination_deadline"] = deadline
    backend = sec.section("backend", "config.backend")
    if backend is not None:
        for key, attr in (("connectTimeout", "connect_timeout"), ("poolIdleTimeout", "pool_idle_timeout")):
            value = duration(backend, key)
            if value is not None:
                fields[attr] = value
        fields["pool_max_size"] = backend.integer("poolMaxSize")
    fields["standard_attributes"] = standard_attributes(sec)
    fields["cost"] = lower_cost(sec)
    fields["telemetry"] = lower_telemetry(sec, env)
    fields["state_backend"] = lower_state_backend(sec)
    extra = tuple((k, sec.opaque(k)) for k in _EXTRA_CONFIG if sec.has(k))
    return m.ProcessConfig(**fields, extra=extra)  # type: ignore[arg-type]


def _frontend(root: Section) -> m.FrontendPolicies:
    sec = root.section("frontendPolicies", "frontendPolicies")
    http = sec.section("http", "frontendPolicies.http") if sec else None
    if http is None:
        return m.FrontendPolicies()
    fields: dict[str, object] = {
        "max_buffer_size": http.integer("maxBufferSize"),
        "http1_max_headers": http.integer("http1MaxHeaders"),
        "http1_idle_timeout": duration(http, "http1IdleTimeout"),
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return m.FrontendPolicies(m.FrontendHTTP(**given))  # type: ignore[arg-type]


def _protocol(sec: Section) -> str:
    proto = sec.string("protocol") or "HTTP"
    if proto != "HTTP" and proto in sec.schema.child("protocol").enum():
        sec.error("protocol", f"{proto} listeners are {NOT_SUPPORTED}")
    elif proto != "HTTP":
        sec.error("protocol", f'unknown protocol "{proto}"')
    return "HTTP"


def _listener(
    ctx: Ctx, path: str, node: YNode, schema: SchemaNode, named: dict[str, m.BackendTarget]
) -> m.Listener | None:
    sec = Section.open(ctx, node, path, schema, "listener")
    if sec is None:
        return None
    routes = []
    for rpath, rnode, rschema in sec.items("routes"):
        rsec = Section.open(ctx, rnode, rpath, rschema, "route")
        if rsec is not None:
            routes.append(route(rsec, named))
    return m.Listener(sec.string("name"), sec.string("hostname"), _protocol(sec), tuple(routes))


def _binds(ctx: Ctx, root: Section, named: dict[str, m.BackendTarget]) -> list[tuple[int, m.Bind]]:
    """-> (line, bind) so port clashes can be reported where they occur."""
    out = []
    for path, node, schema in root.items("binds"):
        sec = Section.open(ctx, node, path, schema, "bind")
        if sec is None:
            continue
        port = sec.integer("port", 0, 65535)
        sec.require("port")
        listeners = [_listener(ctx, p, n, s, named) for p, n, s in sec.items("listeners")]
        if port is not None:
            out.append((sec.line(), m.Bind(port, tuple(lis for lis in listeners if lis))))
    return out


@dataclass
class _Gateway:
    """A `gateways:` entry while routes are being attached to its listeners."""

    name: str
    port: int | None
    line: int
    listeners: list[m.Listener]
    routes: list[list[m.Route]] = field(default_factory=list)

    def bind(self) -> m.Bind | None:
        if self.port is None:
            return None
        lis = [replace(li, routes=tuple(r)) for li, r in zip(self.listeners, self.routes, strict=True)]
        return m.Bind(self.port, tuple(lis), gateway=self.name)


def _gateways(ctx: Ctx, root: Section) -> dict[str, _Gateway]:
    out: dict[str, _Gateway] = {}
    schema = root.schema.child("gateways").values()
    for name, path, _, node in root.entries("gateways"):
        sec = Section.open(ctx, node, path, schema, "gateway")
        if sec is None:
            continue
        port = sec.integer("port", 0, 65535)
        sec.require("port")
        _protocol(sec)
        listeners = []
        for lpath, lnode, lschema in sec.items("listeners"):
            lsec = Section.open(ctx, lnode, lpath, lschema, "gatewayListener")
            if lsec is not None:
                listeners.append(m.Listener(lsec.string("name"), lsec.string("hostname"), _protocol(lsec)))
        if not sec.has("listeners"):
            listeners.append(m.Listener(name))
        out[name] = _Gateway(name, port, sec.line(), listeners, [[] for _ in listeners])
    return out


def _refs(sec: Section) -> list[str]:
    node = sec.get("gateways")
    if node is None:
        return [_DEFAULT_GATEWAY]
    if isinstance(node, YScalar) and isinstance(node.value, str):
        return [node.value]
    return list(sec.str_list("gateways"))


def _attach(
    ctx: Ctx, root: Section, gateways: dict[str, _Gateway], named: dict[str, m.BackendTarget]
) -> None:
    """Top-level `routes:` attach to `gateway` (all its listeners) or `gateway/listener`."""
    for path, node, schema in root.items("routes"):
        sec = Section.open(ctx, node, path, schema, "attachedRoute")
        if sec is None:
            continue
        lowered = route(sec, named)
        for ref in _refs(sec):
            gw_name, _, listener = ref.partition("/")
            gw = gateways.get(gw_name)
            if gw is None:
                known = ", ".join(gateways) or "none defined"
                sec.error(
                    "gateways" if sec.has("gateways") else None, f'unknown gateway "{gw_name}" ({known})'
                )
                continue
            hits = [i for i, li in enumerate(gw.listeners) if not listener or li.name == listener]
            if not hits:
                sec.error("gateways", f'gateway "{gw_name}" has no listener "{listener}"')
            for i in hits:
                gw.routes[i].append(lowered)


def _place_llm(ctx: Ctx, root: Section, gateways: dict[str, _Gateway]) -> tuple[int, m.Bind] | None:
    llm = root.section("llm", "llm")
    if llm is None:
        return None
    port, llm_route = lower_llm(llm)
    default = gateways.get(_DEFAULT_GATEWAY)
    if not llm.has("port") and default is not None:
        # agentgateway: without a port, llm attaches to an existing gateway named `default`.
        for routes in default.routes:
            routes.append(llm_route)
        return None
    return root.line("llm"), m.Bind(port, (m.Listener("llm", routes=(llm_route,)),))


def lower(ctx: Ctx, tree: YNode | None, env: Mapping[str, str]) -> m.GatewayConfig:
    expand_shorthands(tree)  # the seed's spellings (README "Routing and failover")
    root = Section.open(ctx, tree if tree is not None else YMap([], 1), "", SchemaNode.root(), "root")
    if root is None:  # a top-level list or scalar; already reported
        return m.GatewayConfig(m.ProcessConfig(), m.FrontendPolicies(), (), ctx.source)
    process = _process(ctx, root, env)
    process = replace(process, telemetry=access_log_policy(root, process.telemetry))
    frontend = _frontend(root)
    named = named_backends(ctx, root)
    process = replace(process, telemetry=frontend_tracing(root, process.telemetry, named, env))
    binds = _binds(ctx, root, named)
    gateways = _gateways(ctx, root)
    _attach(ctx, root, gateways, named)
    llm_bind = _place_llm(ctx, root, gateways)
    for gw in gateways.values():
        bind = gw.bind()
        if bind is not None:
            binds.append((gw.line, bind))
    if llm_bind is not None:
        binds.append(llm_bind)
    return m.GatewayConfig(process, frontend, _unique_ports(ctx, binds), ctx.source)


def _unique_ports(ctx: Ctx, binds: list[tuple[int, m.Bind]]) -> tuple[m.Bind, ...]:
    seen: dict[int, int] = {}
    for line, bind in binds:
        if bind.port in seen:
            ctx.error(line, "", f"port {bind.port} is already used by the bind at line {seen[bind.port]}")
        else:
            seen[bind.port] = line
    return tuple(b for _, b in binds)
