"""Lowering of `llm.virtualModels`: public names that route to `llm.models` entries.

Each target's `model` must be served by some llm.models entry (same wildcard rules as a client
request, internal models included), checked here so a typo fails at load, not per request.
"""

from __future__ import annotations

from . import model as m
from .reader import Section

KINDS = ("weighted", "failover", "conditional")


def virtual_models(llm: Section, models: tuple[m.LLMModel, ...]) -> tuple[m.VirtualModel, ...]:
    out: list[m.VirtualModel] = []
    names: set[str] = set()
    for path, node, schema in llm.items("virtualModels"):
        sec = Section.open(llm.ctx, node, path, schema, "llmVirtualModel")
        if sec is None:
            continue
        sec.require("name", "routing")
        name = sec.string("name")
        vm = _routing(sec.section("routing", "llmVirtualRouting"), name, models)
        if name is not None and name in names:
            sec.error("name", f'duplicate virtual model "{name}"')
        elif vm is not None:
            names.add(vm.name)
            out.append(vm)
    return tuple(out)


def _routing(sec: Section | None, name: str | None, models: tuple[m.LLMModel, ...]) -> m.VirtualModel | None:
    if sec is None:
        return None
    kinds = [k for k in KINDS if sec.has(k)]
    if len(kinds) != 1:
        if sec.pristine:
            sec.error(None, f"expected exactly one of: {', '.join(KINDS)}")
        return None
    kind = kinds[0]
    body = sec.section(kind, "llmVirtualTargets")
    if body is None:
        return None
    body.require("targets")
    entries = list(body.items("targets"))
    if not entries and body.has("targets"):
        body.error("targets", "at least one target is required")
    targets = [t for path, node, schema in entries
               if (t := _target(body, path, node, schema, kind, models)) is not None]
    if kind == "conditional" and targets and targets[-1].when is not None:
        body.error("targets", "the last conditional target must have no `when` (it is the fallback)")
        return None
    if len(targets) != len(entries) or not targets or name is None:
        return None  # each problem was reported where it is
    return m.VirtualModel(name, kind, tuple(targets))


def _target(parent: Section, path: str, node: object, schema: object, kind: str,
            models: tuple[m.LLMModel, ...]) -> m.VirtualTarget | None:
    sec = Section.open(parent.ctx, node, path, schema, f"llmVirtualTarget.{kind}")  # type: ignore[arg-type]
    if sec is None:
        return None
    sec.require("model", *(("priority",) if kind == "failover" else ()))
    target = sec.string("model")
    weight = sec.integer("weight")
    priority = sec.integer("priority")
    when = _when(sec) if kind == "conditional" else None
    if target is None:
        return None
    if not any(mdl.matches(target) for mdl in models):
        sec.error("model", f'"{target}" matches none of llm.models')
        return None
    return m.VirtualTarget(target, 1 if weight is None else weight, priority or 0, when)


def _when(sec: Section) -> object:
    from gateway.cel import CelError, compile_expression  # cel imports the policy layer; keep it lazy

    src = sec.string("when")
    if src is None:
        return None
    try:
        return compile_expression(src)
    except CelError as e:
        sec.error("when", f"invalid CEL expression: {e}")
        return None


def body_transformation(sec: Section) -> tuple[tuple[str, object], ...]:
    """llm.models[].transformation: {field: CEL over llmRequest}; the value replaces the body field."""
    from gateway.cel import CelError, compile_expression  # cel imports the policy layer; keep it lazy

    out: list[tuple[str, object]] = []
    for key, path, line, node in sec.entries("transformation"):
        src = getattr(node, "value", None)
        if not isinstance(src, str):
            sec.ctx.error(line, path, "expected a CEL expression (string)")
            continue
        try:
            out.append((key, compile_expression(src)))
        except CelError as e:
            sec.ctx.error(line, path, f"invalid CEL expression: {e}")
    return tuple(out)
