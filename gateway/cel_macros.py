"""agentgateway CEL extensions our CEL library lacks, provided without changing their meaning.

- `default(path, fallback)`: `path`'s value when every field on it is present, else `fallback`.
  The library evaluates call arguments first (a missing field is an error before any function
  could help), so a call whose first argument is a plain field path (`a.b.c`) is rewritten at
  compile time to `(has(a.b) && has(a.b.c) ? a.b.c : fallback)`. Other first arguments are
  left alone (the expression then has no value, as an unknown function would).
- String methods `stripPrefix(p)` / `stripSuffix(s)`: registered functions (FUNCTIONS).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_CALL = re.compile(r"(?<![A-Za-z0-9_.])default\(")
MAX_REWRITES = 64  # bounds the work on a hostile expression


def _strip_prefix(s: Any, prefix: Any) -> Any:
    return s[len(prefix):] if isinstance(s, str) and isinstance(prefix, str) and s.startswith(prefix) else s


def _strip_suffix(s: Any, suffix: Any) -> Any:
    ok = isinstance(s, str) and isinstance(suffix, str) and suffix and s.endswith(suffix)
    return s[: -len(suffix)] if ok else s


FUNCTIONS: dict[str, Callable[..., Any]] = {"stripPrefix": _strip_prefix, "stripSuffix": _strip_suffix}


def functions_used(source: str) -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in FUNCTIONS.items() if name + "(" in source}


def expand_macros(source: str) -> str:
    out = source
    for _ in range(MAX_REWRITES):
        rewritten = _rewrite_one(out)
        if rewritten is None:
            return out
        out = rewritten
    return out


def _rewrite_one(source: str) -> str | None:
    for m in _CALL.finditer(source):
        if _in_string(source, m.start()):
            continue
        args = _args(source, m.end())
        if args is None:
            return None
        (first, second), end = args
        path = first.strip()
        if not _PATH.fullmatch(path):
            continue
        parts = path.split(".")
        checks = " && ".join(f"has({'.'.join(parts[:i])})" for i in range(2, len(parts) + 1))
        return f"{source[:m.start()]}({checks} ? {path} : {second.strip()}){source[end:]}"
    return None


def _args(source: str, start: int) -> tuple[tuple[str, str], int] | None:
    """The two top-level arguments of the call whose `(` ends at `start`, and the index after `)`."""
    depth, quote, comma = 0, "", -1
    i = start
    while i < len(source):
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                if comma < 0:
                    return None
                return (source[start:comma], source[comma + 1:i]), i + 1
            depth -= 1
        elif c == "," and depth == 0:
            if comma >= 0:
                return None  # more than two arguments: not ours to rewrite
            comma = i
        i += 1
    return None


def _in_string(source: str, pos: int) -> bool:
    quote = ""
    i = 0
    while i < pos:
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        i += 1
    return bool(quote)
