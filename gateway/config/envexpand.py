"""Environment-variable expansion on the raw config text, before YAML parsing.

Mirrors agentgateway (Rust `shellexpand::full` over the whole file): `$VAR`, `${VAR}`,
`${VAR:-default}` (default used when VAR is unset or empty, and itself expanded), `$$` for a literal
`$`. A `$` not followed by a name character or `{` stays literal (so regex anchors like `^/v1$` work).
The editor hint prefix `# yaml-language-server: $schema` is special-cased upstream and never expanded.
Every unset variable is reported (not just the first) with its line number.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigError, ConfigErrors

_SCHEMA_HINT = "# yaml-language-server: $schema"
_HINT_DOLLAR = _SCHEMA_HINT.index("$")


def _is_name_char(c: str) -> bool:
    return c.isascii() and (c.isalnum() or c == "_")


class _Expander:
    def __init__(self, text: str, env: Mapping[str, str], source: str) -> None:
        self.text = text
        self.env = env
        self.source = source
        self.errors: list[ConfigError] = []

    def line_of(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def missing(self, name: str, pos: int) -> None:
        self.errors.append(
            ConfigError(
                self.source,
                self.line_of(pos),
                "",
                f'environment variable "{name}" is not set (use ${{{name}:-default}}, or $$ for a literal $)',
            )
        )

    def expand(self, start: int, end: int) -> str:
        """Expand text[start:end]; positions are kept absolute so errors get the right line."""
        text, out, i = self.text, [], start
        while i < end:
            j = text.find("$", i, end)
            if j < 0:
                out.append(text[i:end])
                break
            out.append(text[i:j])
            i = self._one(j, end, out)
        return "".join(out)

    def _one(self, j: int, end: int, out: list[str]) -> int:
        """Handle the `$` at j; append its expansion and return the position after it."""
        text = self.text
        hint_at = j - _HINT_DOLLAR
        if hint_at >= 0 and text.startswith(_SCHEMA_HINT, hint_at):
            out.append("$")
            return j + 1
        nxt = text[j + 1] if j + 1 < end else ""
        if nxt == "$":
            out.append("$")
            return j + 2
        if nxt == "{":
            return self._braced(j, end, out)
        k = j + 1
        while k < end and _is_name_char(text[k]):
            k += 1
        if k == j + 1:  # lone `$`: literal, as in shellexpand
            out.append("$")
            return k
        out.append(self._lookup(text[j + 1 : k], None, j))
        return k

    def _braced(self, j: int, end: int, out: list[str]) -> int:
        text = self.text
        close = self._find_close(j + 2, end)
        if close < 0:
            self.errors.append(ConfigError(self.source, self.line_of(j), "", "unterminated ${...}"))
            out.append(text[j:end])
            return end
        body_start = j + 2
        sep = text.find(":-", body_start, close)
        name_end = sep if sep >= 0 else close
        name = text[body_start:name_end]
        if not name or not all(_is_name_char(c) for c in name):
            self.errors.append(
                ConfigError(self.source, self.line_of(j), "", f'invalid variable name "{name}" in ${{...}}')
            )
            return close + 1
        default = (sep + 2, close) if sep >= 0 else None
        out.append(self._lookup(name, default, j))
        return close + 1

    def _find_close(self, pos: int, end: int) -> int:
        """Matching `}` honouring nested `${` in defaults."""
        depth = 1
        while pos < end:
            c = self.text[pos]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return pos
            pos += 1
        return -1

    def _lookup(self, name: str, default: tuple[int, int] | None, pos: int) -> str:
        value = self.env.get(name)
        if default is not None and not value:
            return self.expand(*default)
        if value is None:
            self.missing(name, pos)
            return ""
        return value


def expand_env(text: str, env: Mapping[str, str], source_name: str = "config.yaml") -> str:
    """Expand environment references in raw config text; raises ConfigErrors listing every unset one."""
    if "$" not in text:
        return text
    exp = _Expander(text, env, source_name)
    result = exp.expand(0, len(text))
    if exp.errors:
        raise ConfigErrors(exp.errors)
    return result
