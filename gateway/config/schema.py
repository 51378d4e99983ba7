"""agentgateway's JSON Schema, used to know every key agentgateway defines at each position.

`agentgateway-schema.json` is a verbatim copy of `schema/config.json` from agentgateway/agentgateway
(Apache-2.0, commit 75b4e6ce6e0e1ac7959d5548ebe8dbeaede4f180). It is parsed lazily, once, at the first
config load: nothing on the request path imports this module's data.

This is not a JSON Schema validator. A `SchemaNode` is the union of all alternatives (anyOf/oneOf/
allOf, $ref resolved) at one position, which is enough to answer "which keys exist here" (for unknown
vs. not-supported), "which JSON types are allowed" and to step to a child key, item or map value.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_SCHEMA_FILE = Path(__file__).with_name("agentgateway-schema.json")


@cache
def _root() -> dict[str, Any]:
    with _SCHEMA_FILE.open("rb") as f:
        data: dict[str, Any] = json.load(f)
    return data


def _flatten(schema: Any, out: list[dict[str, Any]], seen: frozenset[str] = frozenset()) -> None:
    if not isinstance(schema, dict):
        return  # `true`/`false` schemas carry no keys
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:  # recursive defs (e.g. CEL expressions) must terminate
            _flatten(_root()["$defs"][name], out, seen | {name})
    out.append(schema)
    for comb in ("anyOf", "oneOf", "allOf"):
        for alt in schema.get(comb, ()):
            _flatten(alt, out, seen)


class SchemaNode:
    __slots__ = ("_parts",)

    def __init__(self, parts: list[dict[str, Any]]) -> None:
        self._parts = parts

    @classmethod
    def of(cls, schema: Any) -> SchemaNode:
        parts: list[dict[str, Any]] = []
        _flatten(schema, parts)
        return cls(parts)

    @classmethod
    def root(cls) -> SchemaNode:
        return _root_node()

    @classmethod
    def definition(cls, name: str) -> SchemaNode:
        return _def_node(name)

    @property
    def empty(self) -> bool:
        return not self._parts

    def keys(self) -> set[str]:
        keys: set[str] = set()
        for p in self._parts:
            keys.update(p.get("properties", {}))
        return keys

    def open_map(self) -> bool:
        """True when arbitrary keys are allowed (a map like `gateways`, or untyped `object`)."""
        for p in self._parts:
            extra = p.get("additionalProperties")
            if extra is True or isinstance(extra, dict):
                return True
        return False

    def child(self, key: str) -> SchemaNode:
        parts: list[dict[str, Any]] = []
        for p in self._parts:
            if key in p.get("properties", {}):
                _flatten(p["properties"][key], parts)
        return SchemaNode(parts)

    def items(self) -> SchemaNode:
        parts: list[dict[str, Any]] = []
        for p in self._parts:
            if "items" in p:
                _flatten(p["items"], parts)
        return SchemaNode(parts)

    def values(self) -> SchemaNode:
        parts: list[dict[str, Any]] = []
        for p in self._parts:
            if isinstance(p.get("additionalProperties"), dict):
                _flatten(p["additionalProperties"], parts)
        return SchemaNode(parts)

    def types(self) -> set[str]:
        """JSON types allowed here; empty means unconstrained."""
        types: set[str] = set()
        for p in self._parts:
            t = p.get("type")
            if isinstance(t, str):
                types.add(t)
            elif isinstance(t, list):
                types.update(t)
            if "properties" in p:
                types.add("object")
            if "enum" in p or "const" in p:
                types.add("string")
        if "number" in types:
            types.add("integer")
        return types

    def enum(self) -> list[str]:
        vals: list[str] = []
        for p in self._parts:
            vals.extend(v for v in p.get("enum", ()) if isinstance(v, str))
            if isinstance(p.get("const"), str):
                vals.append(p["const"])
        return vals


@cache
def _root_node() -> SchemaNode:
    return SchemaNode.of({k: v for k, v in _root().items() if k != "$defs"})


@cache
def _def_node(name: str) -> SchemaNode:
    return SchemaNode.of({"$ref": f"#/$defs/{name}"})
