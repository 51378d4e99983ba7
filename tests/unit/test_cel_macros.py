"""agentgateway's CEL `default()` and string helpers, evaluated by the real CEL library."""

from __future__ import annotations

import pytest

import gateway.config  # noqa: F401 - gateway.cel imports the policy layer, which needs the config package first
from gateway.cel import compile_expression
from gateway.cel_macros import expand_macros

COST = ('default(llmRequest.metadata.cost_tier, "") == "economy" || '
        '(default(llmRequest.metadata.cost_tier, "") == "" && default(llmRequest.max_tokens, 1024) <= 1024)')


@pytest.mark.parametrize(("body", "expected"), [
    ({}, True),  # nothing set: max_tokens defaults to 1024
    ({"max_tokens": 4000}, False),
    ({"metadata": {"cost_tier": "economy"}, "max_tokens": 9000}, True),
    ({"metadata": {"cost_tier": "premium"}}, False),
    ({"metadata": {}}, True),
])
def test_default_over_missing_fields(body: dict[str, object], expected: bool) -> None:
    assert compile_expression(COST).evaluate_with({"llmRequest": body}) is expected


def test_strip_prefix_and_suffix() -> None:
    expr = compile_expression('llmRequest.model.stripPrefix("anthropic/").stripSuffix("-latest")')
    assert expr.evaluate_with({"llmRequest": {"model": "anthropic/haiku-latest"}}) == "haiku"
    assert expr.evaluate_with({"llmRequest": {"model": "haiku"}}) == "haiku"


def test_rewrite_leaves_strings_and_other_calls_alone() -> None:
    assert expand_macros('"default(a.b, 1)" == x') == '"default(a.b, 1)" == x'
    assert expand_macros("default(f(x), 1)") == "default(f(x), 1)"  # not a field path: no value at runtime
    assert expand_macros("mydefault(a.b, 1)") == "mydefault(a.b, 1)"
    assert expand_macros("default(a.b.c, [1, 2])") == "(has(a.b) && has(a.b.c) ? a.b.c : [1, 2])"
