"""Listener and route selection for one bind.

Precedence follows the Gateway API rules: a more specific hostname wins, then an exact path, then
a regex (longer pattern first; the spec leaves regex placement to implementations, and ranking it
above prefixes keeps it reachable next to a catch-all `/`), then the longer prefix, then a match
with a method, more header matches, more query matches; ties keep file order. The order is
computed once at startup; a request walks a flat, pre-sorted list.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from gateway.config.model import Bind, HeaderMatch, Listener, PathMatchKind, Route, RouteMatch
from gateway.server.types import Request


@dataclass(frozen=True)
class _Candidate:
    listener: Listener
    route: Route
    match: RouteMatch


def _hostname_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def _host_score(patterns: tuple[str, ...], host: str) -> int | None:
    """None when no pattern matches; otherwise a specificity (exact > longer wildcard)."""
    if not patterns:
        return 0
    best: int | None = None
    for p in patterns:
        if _hostname_matches(p, host):
            score = 100000 if not p.startswith("*") else len(p)
            best = score if best is None else max(best, score)
    return best


def _match_rank(m: RouteMatch) -> tuple[int, int, int, int, int]:
    kind = m.path.kind
    kind_rank = 0 if kind is PathMatchKind.EXACT else 1 if kind is PathMatchKind.REGEX else 2
    length = len(m.path.value)
    return (kind_rank, -length, 0 if m.method else 1, -len(m.headers), -len(m.query))


def _path_matches(m: RouteMatch, path: str) -> bool:
    p = m.path
    if p.kind is PathMatchKind.PREFIX:
        if p.value in ("", "/"):
            return True
        prefix = p.value.rstrip("/")
        return path == prefix or path.startswith(prefix + "/")
    if p.kind is PathMatchKind.EXACT:
        return path == p.value
    return p.regex is not None and p.regex.fullmatch(path) is not None


def headers_match(matches: tuple[HeaderMatch, ...], req: Request) -> bool:
    """All header conditions hold (pseudo-headers :method and :path included)."""
    for hm in matches:
        if hm.name == ":method":
            raw: bytes | None = req.method.encode()
        elif hm.name == ":path":
            raw = req.path.encode()
        else:
            raw = req.header(hm.name.encode())
        if raw is None:
            return False
        value = raw.decode("latin-1")
        if hm.exact is not None and value != hm.exact:
            return False
        if hm.regex is not None and hm.regex.fullmatch(value) is None:
            return False
    return True


def _query_matches(m: RouteMatch, query: str) -> bool:
    if not m.query:
        return True
    params = dict(parse_qsl(query, keep_blank_values=True))
    for qm in m.query:
        value = params.get(qm.name)
        if value is None:
            return False
        if qm.exact is not None and value != qm.exact:
            return False
        if qm.regex is not None and qm.regex.fullmatch(value) is None:
            return False
    return True


class BindRouter:
    """Selects (listener, route) for requests arriving on one bind."""

    def __init__(self, bind: Bind) -> None:
        self.bind = bind
        self._listeners = bind.listeners
        # Per listener, every (route, match) pair pre-sorted by precedence.
        self._candidates: dict[int, list[_Candidate]] = {}
        for i, listener in enumerate(bind.listeners):
            cands = [_Candidate(listener, r, m) for r in listener.routes for m in r.matches]
            cands.sort(key=lambda c: _match_rank(c.match))
            self._candidates[i] = cands
        # Without any hostname the first listener takes every request and the first matching
        # candidate wins, so the Host header need not even be read.
        self._no_hostnames = not any(lst.hostname or any(r.hostnames for r in lst.routes) for lst in self._listeners)

    def _listener_index(self, host: str) -> int | None:
        best, best_score = None, -1
        for i, listener in enumerate(self._listeners):
            score = _host_score((listener.hostname,) if listener.hostname else (), host)
            if score is not None and score > best_score:
                best, best_score = i, score
        return best

    def route(self, req: Request) -> tuple[Listener, Route] | None:
        if self._no_hostnames:
            for c in self._candidates.get(0, ()):
                if self._candidate_matches(c, req):
                    return c.listener, c.route
            return None
        host = (req.header(b"host") or b"").decode("latin-1").lower()
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        idx = self._listener_index(host)
        if idx is None:
            return None
        # Candidates are in path precedence order; a better hostname match overrides that.
        best: _Candidate | None = None
        best_host = -1
        for c in self._candidates[idx]:
            host_score = _host_score(c.route.hostnames, host)
            if host_score is None or host_score <= best_host:
                continue
            if self._candidate_matches(c, req):
                best, best_host = c, host_score
        if best is None:
            return None
        return best.listener, best.route

    @staticmethod
    def _candidate_matches(c: _Candidate, req: Request) -> bool:
        m = c.match
        if m.method and m.method != req.method:
            return False
        if not _path_matches(m, req.path):
            return False
        return headers_match(m.headers, req) and _query_matches(m, req.query)
