"""Typed, path-aware access to the YAML tree; every problem is recorded (never raised) in `Ctx`.

`Section.open` checks the keys of one mapping against agentgateway's schema and our SUPPORTED table
(so lowering code only ever sees keys it implements), and the typed getters report
`expected <type>, got <type>` with the key's line. Callers get None back for a bad value and go on,
so one pass finds every error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .schema import SchemaNode
from .supported import SUPPORTED
from .yamlnodes import YMap, YNode, YScalar, YSeq, plain

NOT_SUPPORTED = "not supported by this gateway yet"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass
class Ctx:
    source: str
    errors: list[ConfigError] = field(default_factory=list)

    def error(self, line: int, path: str, message: str) -> None:
        self.errors.append(ConfigError(self.source, line, path, message))


def join(path: str, key: str) -> str:
    if not _IDENT.match(key):
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


def type_name(node: YNode) -> str:
    if isinstance(node, YMap):
        return "object"
    if isinstance(node, YSeq):
        return "array"
    v = node.value
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def is_trivially_empty(node: YNode) -> bool:
    """null, [] or false: an unsupported key set to these asks for nothing, so it is accepted."""
    if isinstance(node, YSeq):
        return not node.items
    return isinstance(node, YScalar) and node.value in (None, False)


def suggest(key: str, candidates: set[str]) -> str:
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    if close:
        return f'unknown field; did you mean "{by_lower[close[0]]}"?'
    if candidates and len(candidates) <= 12:
        return "unknown field; expected one of: " + ", ".join(sorted(candidates))
    return "unknown field"


class Section:
    """One YAML mapping whose keys were validated against the schema and SUPPORTED[name]."""

    def __init__(self, ctx: Ctx, node: YMap, path: str, schema: SchemaNode) -> None:
        self.ctx, self.node, self.path, self.schema = ctx, node, path, schema

    @classmethod
    def open(cls, ctx: Ctx, node: YNode | None, path: str, schema: SchemaNode, name: str) -> Section | None:
        if node is None:
            return None
        if not isinstance(node, YMap):
            if not (isinstance(node, YScalar) and node.value is None):
                ctx.error(node.line, path, f"expected object, got {type_name(node)}")
            return None
        sec = cls(ctx, node, path, schema)
        sec._check_keys(SUPPORTED[name])
        return sec

    def _check_keys(self, supported: frozenset[str]) -> None:
        # Our extension keys are not in agentgateway's schema; they count as known for suggestions.
        known = self.schema.keys() | supported
        drop = []
        for key, line, value in self.node.items:
            if key in supported:
                continue
            if key not in known:
                self.ctx.error(line, join(self.path, key), suggest(key, known))
            elif not is_trivially_empty(value):
                self.ctx.error(line, join(self.path, key), NOT_SUPPORTED)
            drop.append(key)
        for key in drop:  # lowering code must not see keys it does not implement
            del self.node.index[key]

    @property
    def pristine(self) -> bool:
        """No key was rejected. Shape errors ("missing field", "exactly one of") are only reported
        for pristine sections: after a typo like `kye` they would just repeat the same problem."""
        return len(self.node.index) == len(self.node.items)

    def require(self, *keys: str) -> None:
        for key in keys:
            if key not in self.node.index and self.pristine:
                self.error(None, f'missing field "{key}"')

    # -- navigation -------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return key in self.node.index

    def get(self, key: str) -> YNode | None:
        return self.node.get(key) if key in self.node.index else None

    def line(self, key: str | None = None) -> int:
        return self.node.line if key is None else self.node.key_line(key)

    def sub(self, key: str) -> str:
        return join(self.path, key)

    def error(self, key: str | None, message: str) -> None:
        self.ctx.error(self.line(key), self.sub(key) if key else self.path, message)

    def section(self, key: str, name: str) -> Section | None:
        return Section.open(self.ctx, self.get(key), self.sub(key), self.schema.child(key), name)

    def items(self, key: str) -> Iterator[tuple[str, YNode, SchemaNode]]:
        """(path, node, item schema) for each element of a list-valued key."""
        node = self.get(key)
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return
        if not isinstance(node, YSeq):
            self.error(key, f"expected array, got {type_name(node)}")
            return
        schema = self.schema.child(key).items()
        for i, item in enumerate(node.items):
            yield f"{self.sub(key)}[{i}]", item, schema

    def entries(self, key: str) -> Iterator[tuple[str, str, int, YNode]]:
        """(key, path, line, value) for each entry of a map-valued key (open maps like `add:`)."""
        node = self.get(key)
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return
        if not isinstance(node, YMap):
            self.error(key, f"expected object, got {type_name(node)}")
            return
        for k, line, v in node.items:
            yield k, join(self.sub(key), k), line, v

    # -- typed scalars ----------------------------------------------------------------------
    def _scalar(self, key: str, kinds: tuple[type, ...], tname: str) -> Any:
        node = self.get(key)
        if node is None or (isinstance(node, YScalar) and node.value is None):
            return None
        if isinstance(node, YScalar) and isinstance(node.value, kinds):
            if not (bool not in kinds and isinstance(node.value, bool)):
                return node.value
        self.error(key, f"expected {tname}, got {type_name(node)}")
        return None

    def string(self, key: str) -> str | None:
        value: str | None = self._scalar(key, (str,), "string")
        return value

    def integer(self, key: str, minimum: int = 0, maximum: int | None = None) -> int | None:
        value: int | None = self._scalar(key, (int,), "integer")
        if value is not None and (value < minimum or (maximum is not None and value > maximum)):
            upper = f" and {maximum}" if maximum is not None else ""
            self.error(key, f"expected an integer between {minimum}{upper}, got {value}")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        value: bool | None = self._scalar(key, (bool,), "boolean")
        return value

    def str_list(self, key: str) -> tuple[str, ...]:
        out = []
        for path, item, _ in self.items(key):
            if isinstance(item, YScalar) and isinstance(item.value, str):
                out.append(item.value)
            else:
                self.ctx.error(item.line, path, f"expected string, got {type_name(item)}")
        return tuple(out)

    def str_map(self, key: str) -> tuple[tuple[str, str], ...]:
        out = []
        for k, path, line, v in self.entries(key):
            if isinstance(v, YScalar) and isinstance(v.value, str):
                out.append((k, v.value))
            else:
                self.ctx.error(line, path, f"expected string, got {type_name(v)}")
        return tuple(out)

    def opaque(self, key: str) -> Any:
        """Accept a subtree kept as plain data (applied by a later issue); keys still checked."""
        node = self.get(key)
        if node is None:
            return None
        check_opaque(self.ctx, node, self.sub(key), self.schema.child(key))
        return plain(node)


def check_opaque(ctx: Ctx, node: YNode, path: str, schema: SchemaNode) -> None:
    """Schema-driven check of a subtree we keep as data: unknown keys and gross type mismatches."""
    if schema.empty:
        return
    types = schema.types()
    actual = type_name(node)
    if types and actual not in types and not (actual == "integer" and "number" in types):
        ctx.error(node.line, path, f"expected {' or '.join(sorted(types - {'null'}))}, got {actual}")
        return
    if isinstance(node, YSeq):
        for i, item in enumerate(node.items):
            check_opaque(ctx, item, f"{path}[{i}]", schema.items())
    elif isinstance(node, YMap):
        known = schema.keys()
        for k, line, v in node.items:
            if k in known:
                check_opaque(ctx, v, join(path, k), schema.child(k))
            elif schema.open_map():
                check_opaque(ctx, v, join(path, k), schema.values())
            else:
                ctx.error(line, join(path, k), suggest(k, known))
