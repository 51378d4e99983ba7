"""Config loading: agentgateway YAML -> the immutable runtime IR in `model`.

Pipeline: env expansion on raw text (envexpand) -> YAML with line numbers (yamlnodes) -> strict,
schema-aware lowering that collects every error (reader, lower*) -> GatewayConfig. All problems are
raised together as one ConfigErrors whose str() is `file:line: path: message` per line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from .dump import dump_config
from .envexpand import expand_env
from .errors import ConfigError, ConfigErrors
from .lower import lower
from .model import GatewayConfig
from .reader import Ctx
from .values import parse_duration
from .yamlnodes import parse_yaml

__all__ = [
    "ConfigError",
    "ConfigErrors",
    "GatewayConfig",
    "dump_config",
    "load_config_file",
    "load_config_text",
    "parse_duration",
    "read_config_file",
]


def load_config_text(
    text: str, source_name: str = "config.yaml", env: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Expand env vars, parse and lower one config document. Raises ConfigErrors."""
    environ = os.environ if env is None else env
    tree = parse_yaml(expand_env(text, environ, source_name), source_name)
    ctx = Ctx(source_name)
    cfg = lower(ctx, tree, environ)
    if ctx.errors:
        raise ConfigErrors(ctx.errors)
    return cfg


def load_config_file(path: str, env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Load from a file path, or stdin when path is "-" (read once, like `agentgateway -f -`)."""
    text, source_name = read_config_file(path)
    return load_config_text(text, source_name, env)


def read_config_file(path: str) -> tuple[str, str]:
    """(raw text, name for messages) of a config file or stdin ("-"); `--workers` hands the text on."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except OSError as e:
        raise ConfigErrors([ConfigError(path, 0, "", f"cannot read config: {e.strerror}")]) from None
