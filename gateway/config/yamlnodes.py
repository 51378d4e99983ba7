"""YAML -> a small node tree that remembers the line of every key and item.

Scalars are resolved with YAML 1.2 core rules (like the serde_yaml agentgateway uses), not PyYAML's
YAML 1.1 rules: `off`/`yes`/`on` stay strings (so `adminAddr: off` works) and `1:30` is not an int.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ConfigError, ConfigErrors


@dataclass
class YScalar:
    value: Any  # str | int | float | bool | None
    line: int


@dataclass
class YSeq:
    items: list[YNode]
    line: int


@dataclass
class YMap:
    # (key, key line, value) in file order; keys are strings (agentgateway keys always are).
    items: list[tuple[str, int, YNode]]
    line: int
    index: dict[str, int] = field(default_factory=dict)

    def get(self, key: str) -> YNode | None:
        i = self.index.get(key)
        return None if i is None else self.items[i][2]

    def key_line(self, key: str) -> int:
        i = self.index.get(key)
        return self.line if i is None else self.items[i][1]


YNode = YScalar | YSeq | YMap


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.2 core schema implicit tags."""


_Resolver.yaml_implicit_resolvers = {}
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    _Resolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _Resolver.__init__(self)


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:int":
        v = node.value
        return int(v, 8) if v.startswith("0o") else int(v, 0) if v.startswith("0x") else int(v)
    if tag == "tag:yaml.org,2002:float":
        v = node.value.lower().lstrip("+")
        return float(v.replace(".inf", "inf").replace(".nan", "nan"))
    if tag == "tag:yaml.org,2002:bool":
        return node.value.lower() == "true"
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:str":
        return node.value
    return loader.construct_object(node, deep=True)


class _Converter:
    def __init__(self, loader: _Loader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.errors: list[ConfigError] = []

    def convert(self, node: yaml.Node) -> YNode:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # YAML merge keys (<<)
            return self._mapping(node, line)
        if isinstance(node, yaml.SequenceNode):
            return YSeq([self.convert(n) for n in node.value], line)
        assert isinstance(node, yaml.ScalarNode)  # composer yields only these three kinds
        return YScalar(_scalar(self.loader, node), line)

    def _mapping(self, node: yaml.MappingNode, line: int) -> YMap:
        out = YMap([], line)
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            key = _scalar(self.loader, knode) if isinstance(knode, yaml.ScalarNode) else None
            if key is None or isinstance(key, (bool, float)):
                self.errors.append(ConfigError(self.source, kline, "", "mapping keys must be strings"))
                continue
            key = str(key)
            if key in out.index:
                self.errors.append(ConfigError(self.source, kline, "", f'duplicate key "{key}"'))
                continue
            out.index[key] = len(out.items)
            out.items.append((key, kline, self.convert(vnode)))
        return out


def parse_yaml(text: str, source_name: str) -> YNode | None:
    """Parse one YAML document; None for an empty file. Syntax errors raise ConfigErrors."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        msg = " ".join(p for p in (e.context, e.problem) if p)
        raise ConfigErrors([ConfigError(source_name, line, "", f"invalid YAML: {msg}")]) from None
    except yaml.YAMLError as e:
        raise ConfigErrors([ConfigError(source_name, 0, "", f"invalid YAML: {e}")]) from None
    finally:
        loader.dispose()
    if root is None:
        return None
    conv = _Converter(loader, source_name)
    tree = conv.convert(root)
    if conv.errors:
        raise ConfigErrors(conv.errors)
    return tree


def plain(node: YNode) -> Any:
    """Drop line info (for values we keep opaque, e.g. ai.defaults or config.tracing)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(n) for n in node.items]
    return {k: plain(v) for k, _, v in node.items}
