"""Config load errors: every problem carries file, line and the agentgateway-style key path.

The loader collects all errors in one pass (serde stops at the first; users fix configs faster when
they see every problem at once) and raises them together as `ConfigErrors`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigError:
    file: str
    line: int  # 1-based; 0 when unknown
    path: str  # e.g. "binds[0].listeners[0].routes[0].policies.backendAuth"; "" for file-level errors
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigErrors(Exception):
    """All errors found while loading one config file; str() is one line per error, sorted by line."""

    def __init__(self, errors: Iterable[ConfigError]) -> None:
        self.errors: list[ConfigError] = sorted(
            errors, key=lambda e: e.line
        )  # stable sort: walk order per line
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
