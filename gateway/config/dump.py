"""The effective config as JSON-safe data (admin /config_dump). Secrets always render "<redacted>"."""

from __future__ import annotations

import dataclasses
import enum
import re
from typing import Any

from . import model as m

REDACTED = "<redacted>"
# Backend targets are a union in the IR; the dump tags them like agentgateway's YAML does.
_TARGET_TAGS: dict[type, str] = {
    m.AIBackend: "ai",
    m.AIGroups: "aiGroups",
    m.HostBackend: "host",
    m.ModelRouter: "llmModels",
}
# Fields whose (key, value) pairs read best as a JSON object.
# (users/teams: config.budgets name -> limit.)
_PAIR_FIELDS = {"add", "set", "routes", "defaults", "overrides", "model_aliases", "extra", "users", "teams"}


# Where agentgateway's spelling is not plain camelCase of our field name.
_KEY_NAMES = {"backend_tls": "backendTLS"}


def _camel(name: str) -> str:
    if name in _KEY_NAMES:
        return _KEY_NAMES[name]
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _is_pair(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str)


def _value(value: Any, field: str = "") -> Any:
    if isinstance(value, m.Secret):
        return REDACTED
    if value is None or isinstance(value, (bool, int, float, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, m.HostPort):
        return f"[{value.host}]:{value.port}" if ":" in value.host else str(value)
    if isinstance(value, re.Pattern):
        return value.pattern
    if field in _PAIR_FIELDS and isinstance(value, tuple) and all(_is_pair(x) for x in value):
        return {k: _value(v) for k, v in value}
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _value(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass(value)
    return repr(value)  # unknown leaf: repr never leaks a Secret (its repr is redacted)


def _dataclass(obj: Any) -> dict[str, Any]:
    if isinstance(obj, m.RouteBackend):
        return {_TARGET_TAGS[type(obj.target)]: _dataclass(obj.target), "weight": obj.weight}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        out[_camel(f.name)] = _value(getattr(obj, f.name), f.name)
    return out


def dump_config(cfg: m.GatewayConfig) -> dict[str, Any]:
    """JSON-safe dict of the effective config, camelCase keys; None (unset / `off`) is null."""
    return _dataclass(cfg)
