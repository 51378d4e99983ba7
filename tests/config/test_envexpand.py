from __future__ import annotations

import pytest

from gateway.config.envexpand import expand_env
from gateway.config.errors import ConfigErrors

HINT = "# yaml-language-server: $schema=https://agentgateway.dev/schema/config"
ENV = {"A": "alpha", "EMPTY": "", "B_2": "bee"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("k: $A", "k: alpha"),
        ("k: ${A}x", "k: alphax"),
        ("k: $A.b", "k: alpha.b"),
        ("k: $B_2", "k: bee"),
        ("k: ${MISSING:-dflt}", "k: dflt"),
        ("k: ${EMPTY:-dflt}", "k: dflt"),
        ("k: ${A:-dflt}", "k: alpha"),
        ("k: ${MISSING:-$A}", "k: alpha"),
        ("k: ${MISSING:-}", "k: "),
        ("k: $$A", "k: $A"),
        ("k: '$${1}'", "k: '${1}'"),
        ("k: a$$$$b", "k: a$$b"),
        ("re: ^/v1$", "re: ^/v1$"),
        ("k: $ alone", "k: $ alone"),
        ("k: no dollars", "k: no dollars"),
        (
            "# yaml-language-server: $schema=https://x\nk: $A",
            "# yaml-language-server: $schema=https://x\nk: alpha",
        ),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand_env(text, ENV) == expected


def test_unset_names_variable_and_line() -> None:
    with pytest.raises(ConfigErrors) as info:
        expand_env("a: 1\nb: $NOPE\nc: ${ALSO_NOPE}\n", ENV, "cfg.yaml")
    hint = "or $$ for a literal $)"
    assert str(info.value) == (
        f'cfg.yaml:2: environment variable "NOPE" is not set (use ${{NOPE:-default}}, {hint}\n'
        f'cfg.yaml:3: environment variable "ALSO_NOPE" is not set (use ${{ALSO_NOPE:-default}}, {hint}'
    )


def test_empty_but_set_variable_is_not_an_error() -> None:
    assert expand_env("k: '$EMPTY'", ENV) == "k: ''"


def test_unterminated_brace() -> None:
    with pytest.raises(ConfigErrors, match="unterminated"):
        expand_env("a: 1\nb: ${A\n", ENV)


def test_line_count_preserved() -> None:
    text = "a: $A\nb: ${MISSING:-x}\nc: $$\n"
    assert expand_env(text, ENV).count("\n") == text.count("\n")
