"""A test-only renderer for the subset of Helm's Go templates that deploy/helm/agentgateway-py uses.

`helm` cannot be installed on these machines, so the chart tests render it here. Anything outside
the subset (an unknown function, action or syntax) raises RenderError instead of rendering
approximately, so a template change that needs more than this renders is caught, not mis-checked.
Semantics follow Go text/template and Sprig: whitespace trim markers, variable scoping, `with`/`range`
rebinding the dot, Go truthiness, nil printed as empty, maps ranged in key order, `toYaml` with
sorted keys and no trailing newline, and Helm's values merge (a null override deletes the key).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class RenderError(Exception):
    pass


class TemplateFail(RenderError):
    """The chart's own `fail`: a message meant for the user."""


# -- lexing ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<punct>[()|,])
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


@dataclass
class Tok:
    kind: str
    text: str
    start: int = 0
    end: int = 0


def _tokens(src: str, where: str) -> list[Tok]:
    out, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise RenderError(f"{where}: cannot lex {src[pos:]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append(Tok(m.lastgroup or "", m.group(), m.start(), m.end()))
    return out


def _split_actions(text: str, where: str) -> list[tuple[str, str]]:
    """-> [("text", s) | ("action", inner)], with trim markers applied to the neighbouring text."""
    parts: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    while True:
        start = text.find("{{", pos)
        chunk = text[pos:] if start < 0 else text[pos:start]
        if trim_next:
            chunk = chunk.lstrip(_SPACE)
        if start < 0:
            parts.append(("text", chunk))
            return parts
        inner_start = start + 2
        if text[inner_start] == "-" and text[inner_start + 1] in _SPACE:
            chunk = chunk.rstrip(_SPACE)
            inner_start += 2
        parts.append(("text", chunk))
        end = _find_close(text, inner_start, where)
        inner = text[inner_start:end]
        trim_next = len(inner) >= 2 and inner[-1] == "-" and inner[-2] in _SPACE
        if trim_next:
            inner = inner[:-2]
        parts.append(("action", inner.strip()))
        pos = end + 2


_SPACE = " \t\r\n"


def _find_close(text: str, i: int, where: str) -> int:
    """Index of the `}}` closing the action starting at i (not one inside a string or comment)."""
    while i < len(text) and text[i] in _SPACE:
        i += 1
    if text.startswith("/*", i):
        i = text.find("*/", i)
        if i < 0:
            raise RenderError(f"{where}: unclosed comment")
    quote = ""
    while i < len(text) - 1:
        c = text[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"`":
            quote = c
        elif text.startswith("}}", i):
            return i
        i += 1
    raise RenderError(f"{where}: unclosed action")


# -- parsing -----------------------------------------------------------------------------------------

@dataclass
class Pipeline:
    decl: list[str]          # variables declared (:=) or assigned (=)
    assign: bool
    cmds: list[list[Any]]    # each command: operands (Tok or nested Pipeline)
    chain: list[str] = field(default_factory=list)  # `(pipeline).a.b`


@dataclass
class Node:
    kind: str                # text | action | if | with | range
    text: str = ""
    pipe: Pipeline | None = None
    body: list[Node] = field(default_factory=list)
    alt: list[Node] = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, where: str, defines: dict[str, list[Node]]) -> None:
        self.parts = _split_actions(text, where)
        self.i = 0
        self.where = where
        self.defines = defines

    def parse(self) -> list[Node]:
        nodes, stop = self._list()
        if stop is not None:
            raise RenderError(f"{self.where}: unexpected {{{{{stop}}}}}")
        return nodes

    def _list(self) -> tuple[list[Node], str | None]:
        """Parse until an {{else...}} or {{end}}; returns the stopping action (None at EOF)."""
        nodes: list[Node] = []
        while self.i < len(self.parts):
            kind, s = self.parts[self.i]
            self.i += 1
            if kind == "text":
                if s:
                    nodes.append(Node("text", text=s))
                continue
            if s.startswith("/*"):
                if not s.endswith("*/"):
                    raise RenderError(f"{self.where}: bad comment {s!r}")
                continue
            word = s.split(None, 1)[0] if s else ""
            rest = s[len(word):].strip()
            if word in ("end", "else"):
                return nodes, s
            if word == "define":
                name = json.loads(rest)
                body, stop = self._list()
                if stop != "end":
                    raise RenderError(f"{self.where}: define {name} not closed by end")
                self.defines[name] = body
            elif word in ("if", "with", "range"):
                nodes.append(self._block(word, rest))
            elif word in ("template", "block", "break", "continue"):
                raise RenderError(f"{self.where}: {{{{{word}}}}} is outside the supported subset")
            else:
                nodes.append(Node("action", pipe=self._pipeline(s)))
        return nodes, None

    def _block(self, word: str, rest: str) -> Node:
        node = Node(word, pipe=self._pipeline(rest))
        node.body, stop = self._list()
        if stop is not None and stop.startswith("else"):
            after = stop[4:].strip()
            if after.startswith("if ") and word == "if":
                node.alt = [self._block("if", after[3:])]
                return node  # the chained if consumed the shared {{end}}
            if after:
                raise RenderError(f"{self.where}: {{{{else {after}}}}} is outside the supported subset")
            node.alt, stop = self._list()
        if stop != "end":
            raise RenderError(f"{self.where}: {word} not closed by end")
        return node

    def _pipeline(self, src: str) -> Pipeline:
        toks = _tokens(src, self.where)
        decl: list[str] = []
        assign = False
        for j, t in enumerate(toks):
            if t.kind in ("decl", "assign"):
                names = [x.text for x in toks[:j] if x.kind == "var"]
                if not names or any(x.kind not in ("var", "punct") for x in toks[:j]):
                    raise RenderError(f"{self.where}: bad declaration in {src!r}")
                decl, assign, toks = names, t.kind == "assign", toks[j + 1:]
                break
        cmds, pos = self._commands(toks, 0, src)
        if pos != len(toks):
            raise RenderError(f"{self.where}: unbalanced parentheses in {src!r}")
        return Pipeline(decl, assign, cmds)

    def _commands(self, toks: list[Tok], pos: int, src: str) -> tuple[list[list[Any]], int]:
        cmds: list[list[Any]] = [[]]
        while pos < len(toks):
            t = toks[pos]
            if t.text == ")":
                break
            pos += 1
            if t.text == "|":
                cmds.append([])
            elif t.text == "(":
                inner, pos = self._commands(toks, pos, src)
                if pos >= len(toks) or toks[pos].text != ")":
                    raise RenderError(f"{self.where}: unclosed ( in {src!r}")
                close = toks[pos]
                pos += 1
                sub = Pipeline([], False, inner)
                if pos < len(toks) and toks[pos].kind == "field" and toks[pos].start == close.end:
                    sub.chain = toks[pos].text[1:].split(".")
                    pos += 1
                cmds[-1].append(sub)
            else:
                cmds[-1].append(t)
        if any(not c for c in cmds):
            raise RenderError(f"{self.where}: empty command in {src!r}")
        return cmds, pos


# -- evaluation --------------------------------------------------------------------------------------

def truth(v: Any) -> bool:
    return not (v is None or v is False or v == 0 and not isinstance(v, bool) or
                (isinstance(v, (str, list, dict, tuple)) and len(v) == 0))


def _go_str(v: Any) -> str:
    """fmt.Sprint of a value as Helm's values hold it."""
    if v is None:
        return ""  # Helm replaces "<no value>" with ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        raise RenderError(f"printing a {type(v).__name__} directly is outside the supported subset")
    return str(v)


def _go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _printf(fmt: str, *args: Any) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        verb = m.group(1)
        if verb == "%":
            return "%"
        v = next(it)
        if verb == "d":
            return str(int(v))
        if verb == "q":
            return _go_quote(_go_str(v))
        return _go_str(v)

    return re.sub(r"%([sdvq%])", one, fmt)


def _print(*args: Any) -> str:
    # fmt.Sprint: a space between operands when neither is a string.
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _go_str(a)
    return out


class _GoStyleDumper(yaml.SafeDumper):
    """Quotes like sigs.k8s.io/yaml: a string that reads as another type plain gets double quotes,
    other strings plain won't do get single quotes, multi-line text is a `|` block."""

    def choose_scalar_style(self) -> str:
        event = self.event
        assert isinstance(event, yaml.ScalarEvent)
        if event.tag == "tag:yaml.org,2002:str" and "\n" not in event.value and (
                not event.implicit[0] or event.value in ("y", "Y", "n", "N")):
            return '"'
        style = super().choose_scalar_style()
        return "|" if style == "'" and "\n" in event.value else style


def to_yaml(v: Any) -> str:
    if v is None:
        return "null"
    text = yaml.dump(v, Dumper=_GoStyleDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 30)
    return text.removesuffix("\n").removesuffix("\n...")


def _indent(n: int, s: str) -> str:
    pad = " " * int(n)
    return pad + s.replace("\n", "\n" + pad)


def _default(d: Any, *given: Any) -> Any:
    return given[0] if given and truth(given[0]) else d


def _set(d: dict[str, Any], k: str, v: Any) -> dict[str, Any]:
    d[k] = v
    return d


def _dict(*kv: Any) -> dict[str, Any]:
    if len(kv) % 2:
        raise RenderError("dict needs key/value pairs")
    return {str(kv[i]): kv[i + 1] for i in range(0, len(kv), 2)}


def _index(v: Any, *keys: Any) -> Any:
    for k in keys:
        if isinstance(v, dict):
            v = v.get(k)
        elif isinstance(v, list):
            v = v[int(k)]
        else:
            raise RenderError(f"index of {type(v).__name__}")
    return v


def _fail(msg: str) -> Any:
    raise TemplateFail(msg)


def _num(v: Any) -> int:
    if isinstance(v, str):
        return int(float(v)) if v.strip() else 0
    return int(v or 0)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def f(a: Any, b: Any) -> bool:
        if isinstance(a, (int, float)) != isinstance(b, (int, float)) or isinstance(a, bool) != isinstance(b, bool):
            raise RenderError(f"incompatible types for comparison: {a!r}, {b!r}")
        return op(a, b)
    return f


_FUNCS: dict[str, Callable[..., Any]] = {
    "toYaml": to_yaml,
    "nindent": lambda n, s: "\n" + _indent(n, s),
    "indent": _indent,
    "quote": lambda *a: " ".join(_go_quote(_go_str(x)) for x in a if x is not None),
    "default": _default,
    "printf": _printf,
    "print": _print,
    "trunc": lambda n, s: s[:int(n)] if int(n) >= 0 else s[int(n):],
    "trimSuffix": lambda suf, s: s[:-len(suf)] if suf and s.endswith(suf) else s,
    "replace": lambda old, new, s: s.replace(old, new),
    "contains": lambda sub, s: sub in s,
    "toString": _go_str,
    "b64enc": lambda s: base64.b64encode(_go_str(s).encode()).decode(),
    "sha256sum": lambda s: hashlib.sha256(s.encode()).hexdigest(),
    "int": _num,
    "add": lambda *a: sum(_num(x) for x in a),
    "dict": _dict,
    "list": lambda *a: list(a),
    "set": _set,
    "hasKey": lambda d, k: k in d,
    "deepCopy": copy.deepcopy,
    "index": _index,
    "fail": _fail,
    "eq": lambda a, *bs: any(_cmp(lambda x, y: x == y)(a, b) for b in bs),
    "ne": _cmp(lambda a, b: a != b),
    "gt": _cmp(lambda a, b: a > b),
    "lt": _cmp(lambda a, b: a < b),
    "not": lambda a: not truth(a),
}


class _Scope:
    def __init__(self, root: Any) -> None:
        self.frames: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for f in reversed(self.frames):
            if name in f:
                return f[name]
        raise RenderError(f"undefined variable {name}")

    def assign(self, name: str, v: Any) -> None:
        for f in reversed(self.frames):
            if name in f:
                f[name] = v
                return
        raise RenderError(f"undefined variable {name}")


class Engine:
    def __init__(self) -> None:
        self.defines: dict[str, list[Node]] = {}
        self.files: dict[str, list[Node]] = {}

    def add_file(self, name: str, text: str) -> None:
        nodes = _Parser(text, name, self.defines).parse()
        self.files[name] = nodes
        self.defines[name] = nodes  # Helm makes every file a named template too

    def execute(self, name: str, data: Any) -> str:
        if name not in self.defines:
            raise RenderError(f'no template "{name}"')
        out: list[str] = []
        self._run(self.defines[name], data, _Scope(data), out)
        return "".join(out)

    def _run(self, nodes: list[Node], dot: Any, scope: _Scope, out: list[str]) -> None:
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
            elif n.kind == "action":
                assert n.pipe is not None
                v = self._pipe(n.pipe, dot, scope)
                if not n.pipe.decl:
                    out.append(_go_str(v))
            else:
                self._block(n, dot, scope, out)

    def _block(self, n: Node, dot: Any, scope: _Scope, out: list[str]) -> None:
        assert n.pipe is not None
        scope.frames.append({})
        try:
            if n.kind == "range":
                self._range(n, dot, scope, out)
                return
            v = self._pipe(n.pipe, dot, scope)
            if truth(v):
                self._run(n.body, v if n.kind == "with" else dot, scope, out)
            else:
                self._run(n.alt, dot, scope, out)
        finally:
            scope.frames.pop()

    def _range(self, n: Node, dot: Any, scope: _Scope, out: list[str]) -> None:
        assert n.pipe is not None
        pipe = Pipeline([], False, n.pipe.cmds)
        v = self._pipe(pipe, dot, scope)
        if isinstance(v, dict):
            items = [(k, v[k]) for k in sorted(v)]
        elif isinstance(v, list):
            items = list(enumerate(v))
        elif v is None:
            items = []
        else:
            raise RenderError(f"range over {type(v).__name__}")
        if not items:
            self._run(n.alt, dot, scope, out)
        for k, item in items:
            names = n.pipe.decl
            if len(names) == 1:
                scope.frames[-1][names[0]] = item
            elif len(names) == 2:
                scope.frames[-1][names[0]], scope.frames[-1][names[1]] = k, item
            self._run(n.body, item, scope, out)

    def _pipe(self, p: Pipeline, dot: Any, scope: _Scope) -> Any:
        v: Any = None
        for i, cmd in enumerate(p.cmds):
            v = self._cmd(cmd, dot, scope, piped=(v,) if i else ())
        if len(p.decl) == 1:
            if p.assign:
                scope.assign(p.decl[0], v)
            else:
                scope.frames[-1][p.decl[0]] = v
        elif p.decl:
            raise RenderError("two variables outside range")
        return v

    def _cmd(self, cmd: list[Any], dot: Any, scope: _Scope, piped: tuple[Any, ...]) -> Any:
        head = cmd[0]
        if isinstance(head, Tok) and head.kind == "ident" and head.text not in ("true", "false", "nil"):
            args = [self._arg(a, dot, scope) for a in cmd[1:]] + list(piped)
            return self._call(head.text, args, dot)
        if len(cmd) > 1 or piped:
            raise RenderError(f"cannot give arguments to a non-function {head}")
        return self._arg(head, dot, scope)

    def _call(self, name: str, args: list[Any], dot: Any) -> Any:
        if name == "include":
            return self.execute(args[0], args[1])
        if name == "and":
            return next((a for a in args if not truth(a)), args[-1])
        if name == "or":
            return next((a for a in args if truth(a)), args[-1])
        fn = _FUNCS.get(name)
        if fn is None:
            raise RenderError(f'function "{name}" is outside the supported subset')
        return fn(*args)

    def _arg(self, a: Any, dot: Any, scope: _Scope) -> Any:
        if isinstance(a, Pipeline):
            return _fields(self._pipe(a, dot, scope), a.chain)
        if a.kind == "str":
            return json.loads(a.text)
        if a.kind == "raw":
            return a.text[1:-1]
        if a.kind == "num":
            return float(a.text) if "." in a.text else int(a.text)
        if a.kind == "ident":
            return {"true": True, "false": False, "nil": None}[a.text]
        if a.kind == "field":
            return _fields(dot, a.text[1:].split(".") if a.text != "." else [])
        if a.kind == "var":
            name, *path = a.text.split(".")
            return _fields(scope.get(name), path)
        raise RenderError(f"unexpected {a.text!r}")


def _fields(v: Any, path: list[str]) -> Any:
    for i, key in enumerate(path):
        if v is None:
            raise RenderError(f"nil pointer evaluating .{'.'.join(path[:i + 1])}")
        if not isinstance(v, dict):
            raise RenderError(f"can't evaluate field {key} in {type(v).__name__}")
        v = v.get(key)
    return v


# -- Helm ------------------------------------------------------------------------------------------

def merge_values(base: Any, override: Any) -> Any:
    """Helm's coalescing: maps merge recursively, a null override deletes the key."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_values(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass
class Rendered:
    manifests: dict[str, str]   # template path -> rendered text (empty ones dropped)
    notes: str


def render_chart(chart_dir: Path, overrides: dict[str, Any] | None = None, *, release: str = "gw",
                 namespace: str = "default") -> Rendered:
    """Like `helm template RELEASE CHART -f overrides.yaml`: every manifest and the NOTES text."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    values = merge_values(yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}, overrides or {})
    chart = {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta.get("appVersion", "")}
    engine = Engine()
    base = f"{meta['name']}/templates"
    paths = sorted((chart_dir / "templates").iterdir())
    for p in paths:
        engine.add_file(f"{base}/{p.name}", p.read_text())
    manifests, notes = {}, ""
    for p in paths:
        name = f"{base}/{p.name}"
        data = {"Values": values, "Chart": chart, "Capabilities": {},
                "Release": {"Name": release, "Namespace": namespace, "Service": "Helm",
                            "IsInstall": True, "IsUpgrade": False, "Revision": 1},
                "Template": {"Name": name, "BasePath": base}}
        if p.name.startswith("_"):
            continue
        text = engine.execute(name, data)
        if p.name == "NOTES.txt":
            notes = text
        elif text.strip():
            manifests[p.name] = text
    return Rendered(manifests, notes)
