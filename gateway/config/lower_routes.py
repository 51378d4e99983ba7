"""Lowering of routes and their matches (shared by the binds and gateways/routes dialects)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import model as m
from .lower_backends import route_backends
from .lower_failover import check_retry_targets
from .lower_policies import route_policies
from .reader import Section
from .schema import SchemaNode
from .yamlnodes import YNode

_DEFAULT_MATCHES = (m.RouteMatch(),)


def compile_regex(sec: Section, key: str) -> re.Pattern[str] | None:
    pattern = sec.string(key)
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as e:
        sec.error(key, f"invalid regex: {e}")
        return None


def _path_match(sec: Section | None) -> m.PathMatch | None:
    if sec is None:
        return None
    kinds = [k for k in ("exact", "pathPrefix", "regex") if sec.has(k)]
    if len(kinds) != 1:
        if sec.pristine:
            sec.error(None, "expected exactly one of: exact, pathPrefix, regex")
        return None
    if kinds[0] == "regex":
        rx = compile_regex(sec, "regex")
        return m.PathMatch(m.PathMatchKind.REGEX, rx.pattern, rx) if rx else None
    value = sec.string(kinds[0])
    return m.PathMatch(m.PathMatchKind(kinds[0]), value) if value is not None else None


def _value_match(
    sec: Section, key: str, path: str, node: YNode, schema: SchemaNode
) -> tuple[str, str | None, re.Pattern[str] | None] | None:
    """{name, value: {exact|regex}} -> (name, exact, regex)."""
    entry = Section.open(sec.ctx, node, path, schema, "nameValueMatch")
    if entry is None:
        return None
    name = entry.string("name")
    value = entry.section("value", "valueMatch")
    entry.require("name", "value")
    if value is None or name is None:
        return None
    kinds = [k for k in ("exact", "regex") if value.has(k)]
    if len(kinds) != 1:
        if value.pristine:
            value.error(None, "expected exactly one of: exact, regex")
        return None
    if kinds[0] == "regex":
        rx = compile_regex(value, "regex")
        return (name, None, rx) if rx else None
    exact = value.string("exact")
    return (name, exact, None) if exact is not None else None


def header_matches(sec: Section, key: str = "headers") -> tuple[m.HeaderMatch, ...]:
    out = []
    for path, node, schema in sec.items(key):
        vm = _value_match(sec, key, path, node, schema)
        if vm:
            out.append(m.HeaderMatch(vm[0].lower(), vm[1], vm[2]))
    return tuple(out)


def _query_matches(sec: Section) -> tuple[m.QueryMatch, ...]:
    out = []
    for path, node, schema in sec.items("query"):
        vm = _value_match(sec, "query", path, node, schema)
        if vm:
            out.append(m.QueryMatch(*vm))
    return tuple(out)


def _matches(sec: Section) -> tuple[m.RouteMatch, ...]:
    if not sec.has("matches"):
        return _DEFAULT_MATCHES
    out = []
    for path, node, schema in sec.items("matches"):
        msec = Section.open(sec.ctx, node, path, schema, "match")
        if msec is None:
            continue
        pm = _path_match(msec.section("path", "pathMatch")) if msec.has("path") else m.RouteMatch().path
        out.append(
            m.RouteMatch(
                path=pm or m.RouteMatch().path,
                method=msec.string("method"),
                headers=header_matches(msec),
                query=_query_matches(msec),
            )
        )
    return tuple(out)


def route(sec: Section, named: Mapping[str, m.BackendTarget]) -> m.Route:
    out = m.Route(
        name=sec.string("name"),
        hostnames=sec.str_list("hostnames"),
        matches=_matches(sec),
        policies=route_policies(sec.section("policies", "routePolicies")),
        backends=route_backends(sec, named),
    )
    check_retry_targets(sec, out)
    return out
