"""The request pipeline: route, policies, backend, upstream, response.

The order of the steps lives in `_serve` and nowhere else:
1. route selection (404 `route not found`);
2. CORS, first, so preflights short-circuit and every later error still carries CORS headers;
3. the request timeout around everything after it;
4. backend selection, then the LLM or plain-HTTP path. Plain routes run the route's policy chain
   (policies/chain.py) just before the upstream call; LLM routes run its early policies (auth,
   identity, authorization, rate limits) before choosing a provider and the rest (guardrails,
   budget) after the model rules. Every policy reached settles in `handle`'s `finally`.
"""

from __future__ import annotations

import asyncio
import copy
import random
import time
from collections.abc import Iterable
from typing import Any

import orjson

from gateway.config.model import (
    AIBackend,
    AIGroups,
    Bind,
    GatewayConfig,
    HostBackend,
    ModelRouter,
    Policies,
    Route,
    RouteBackend,
    RouteType,
)
from gateway.errors import (
    GatewayError,
    RequestTimeout,
    RouteNotFound,
    UpstreamFailed,
    UpstreamTimeout,
    render,
)
from gateway.fastpath import FORMAT_ANTHROPIC, FORMAT_OPENAI, SseParser, UsageAccumulator
from gateway.policies import cors as cors_policy
from gateway.policies.base import REACHED, BodyFilter, Exchange, Policy, Services
from gateway.policies.chain import build_chain
from gateway.policies.headers import apply_header_modifier
from gateway.providers.base import ProviderSpec
from gateway.proxy import llm
from gateway.proxy.failover import Candidate, Failover
from gateway.proxy.forward import (
    CREDENTIAL_HEADERS,
    Upstream,
    downstream_response_headers,
    relay_stream,
    upstream_request_headers,
)
from gateway.proxy.local_answers import estimate_input_tokens, listed_models
from gateway.routing.router import BindRouter
from gateway.server.types import Handler, Headers, Request, Responder
from gateway.telemetry.metrics import Metrics
from gateway.telemetry.recorder import Telemetry
from gateway.upstream.pool import UpstreamPool, peer_key

# A non-streaming LLM response is read whole (usage lives at its end); bound it.
MAX_LLM_RESPONSE = 64 * 1024 * 1024
_NO_CREDENTIALS: frozenset[bytes] = frozenset()
_ACCEPT_IDENTITY = (b"accept-encoding", b"identity")
# What the LLM path drops from the client's headers (besides hop-by-hop), precomputed per case.
_LLM_DROP = frozenset({b"accept-encoding"})
_LLM_DROP_CREDENTIALS = CREDENTIAL_HEADERS | _LLM_DROP
RETRIED = "failover.retried"  # policy_state: (backend, status) of each failed attempt that was retried


class Gateway:
    def __init__(self, config: GatewayConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics(config.process.telemetry.metrics)
        self.services = Services(config, self.metrics)
        self.telemetry = Telemetry(config, self.metrics)
        self.pool = UpstreamPool(config.process, on_connect=self.metrics.observe_connect)
        self.failover = Failover()  # provider health and the retry budget, process-wide
        self.metrics.watch_pool(self.pool.occupancy)
        self.started_at = int(time.time())
        # Policy chains are built once per route; keyed by identity since routes are frozen values.
        self._chains: dict[int, tuple[Policy, ...]] = {}
        # The same chains split for LLM routes: (before backend selection, after model rules).
        self._llm_phases: dict[int, tuple[tuple[Policy, ...], tuple[Policy, ...]]] = {}
        # The policies whose response hooks do something: (response_filter, on_response_body).
        self._body_hooks: dict[int, tuple[tuple[Policy, ...], tuple[Policy, ...]]] = {}
        for bind in config.binds:
            for listener in bind.listeners:
                for route in listener.routes:
                    chain = self._chains[id(route)] = build_chain(route, self.services)
                    self._llm_phases[id(route)] = (tuple(p for p in chain if not p.after_model_rules),
                                                   tuple(p for p in chain if p.after_model_rules))
                    self._body_hooks[id(route)] = (
                        tuple(p for p in chain if type(p).response_filter is not Policy.response_filter),
                        tuple(p for p in chain if type(p).on_response_body is not Policy.on_response_body))

    async def start(self) -> None:
        await self.services.start()

    def handler_for(self, bind: Bind) -> Handler:
        router = BindRouter(bind)
        bind_name = str(bind.port)

        loop = asyncio.get_event_loop
        tracing = self.telemetry.tracing

        async def handle(req: Request, resp: Responder) -> None:
            ex = Exchange(req, loop().time())
            if tracing is not None:
                tracing.start_server(ex)  # the SERVER span, when this request is sampled
            try:
                await self._serve(router, req, resp, ex)
            except GatewayError as err:
                ex.reason, ex.error = err.reason, err.message
                self._send_error(resp, err, ex)
            finally:
                ex.disconnected = resp.disconnected and not resp.complete
                # Every policy whose on_request started settles, also when a later step raised
                # (upstream failure, a later policy's refusal), so reservations are never leaked.
                for policy in ex.policy_state.get(REACHED, ()):
                    policy.on_complete(ex)
                self._record(ex, bind_name)

        return handle

    async def close(self) -> None:
        await self.pool.close()
        await self.services.close()

    # -- pipeline ---------------------------------------------------------------------------

    async def _serve(self, router: BindRouter, req: Request, resp: Responder, ex: Exchange) -> None:
        matched = router.route(req)
        if matched is None:
            raise RouteNotFound("route not found")
        ex.listener, ex.route = matched
        policies = ex.route.policies
        if policies.cors is not None:
            preflight = cors_policy.preflight_response(policies.cors, req)
            if preflight is not None:
                ex.status, ex.reason = preflight[0], "DirectResponse"
                resp.send(preflight[0], preflight[1], b"")
                return
        chain = self._chains.get(id(ex.route), ())
        timeout = policies.timeout.request_timeout if policies.timeout else None
        try:
            if timeout:
                async with asyncio.timeout(timeout):
                    await self._to_backend(req, resp, ex, self._pick_backend(ex.route), chain)
            else:
                await self._to_backend(req, resp, ex, self._pick_backend(ex.route), chain)
        except TimeoutError:
            err = RequestTimeout("request timeout")
            ex.error = err.message  # the access log and span say why, also when the body was cut short
            if resp.started:
                resp.abort()
                return
            ex.reason = err.reason
            self._send_error(resp, err, ex)

    @staticmethod
    async def _run_request_policies(ex: Exchange, chain: Iterable[Policy]) -> None:
        reached: list[Policy] | None = ex.policy_state.get(REACHED)
        for policy in chain:
            if reached is None:
                reached = ex.policy_state[REACHED] = []
            reached.append(policy)
            await policy.on_request(ex)

    @staticmethod
    def _pick_backend(route: Route) -> RouteBackend:
        backends = route.backends
        if not backends:
            raise RouteNotFound("no backends configured for route")
        if len(backends) == 1:
            return backends[0]
        return random.choices(backends, weights=[b.weight for b in backends])[0]

    async def _to_backend(self, req: Request, resp: Responder, ex: Exchange, rb: RouteBackend,
                          chain: tuple[Policy, ...]) -> None:
        target = rb.target
        if isinstance(target, HostBackend):
            await self._forward_http(req, resp, ex, target, chain)
        elif isinstance(target, (AIBackend, AIGroups, ModelRouter)):
            await self._forward_llm(req, resp, ex, target, chain)
        else:  # pragma: no cover - the loader produces only the types above
            raise GatewayError("unsupported backend")

    # -- plain HTTP backends ------------------------------------------------------------------

    async def _forward_http(self, req: Request, resp: Responder, ex: Exchange, be: HostBackend,
                            chain: tuple[Policy, ...]) -> None:
        route_pol = ex.route.policies if ex.route else Policies()
        ex.backend_name = str(be.target)
        await self._run_request_policies(ex, chain)
        headers = upstream_request_headers(req.headers, _NO_CREDENTIALS)
        auth = route_pol.backend_auth or be.policies.backend_auth
        if auth is not None:
            headers = [h for h in headers if h[0] not in CREDENTIAL_HEADERS]
            headers.append(self._auth_header(auth.header, auth.prefix, b"authorization", b"Bearer ",
                                             auth.key.reveal()))
        headers = self._modify_request_headers(headers, route_pol, be.policies)
        key = peer_key(be.target.host, be.target.port, be.tls or route_pol.backend_tls,
                       tls_on=be.tls is not None or route_pol.backend_tls is not None)
        timeout = _attempt_timeout(be, route_pol)
        headers = self.telemetry.upstream_attempt(ex, headers, key)
        upstream = Upstream(self.pool.session(key), req.method, self.pool.url(key, req.target.decode("latin-1")),
                            headers, req.body, timeout)
        up = await upstream.open()
        ex.status = up.status
        out = downstream_response_headers(up.raw_headers, keep_length=True)
        out = self._modify_response_headers(out, route_pol, be.policies, ex)
        resp.start(up.status, out)
        await relay_stream(up, resp)

    # -- LLM backends ---------------------------------------------------------------------------

    async def _forward_llm(self, req: Request, resp: Responder, ex: Exchange, target: Any,
                           chain: tuple[Policy, ...]) -> None:
        route_pol = ex.route.policies if ex.route else Policies()
        ex.protocol = "llm"
        backend_ai = target.policies.ai if isinstance(target, AIBackend) else None
        ex.route_type = llm.route_type_for(req.path, (route_pol.ai, backend_ai))
        ex.fmt = llm.client_format(ex.route_type)
        early, late = self._llm_phases.get(id(ex.route), ((), ()))
        if ex.route_type is RouteType.MODELS:
            await self._run_request_policies(ex, early)  # listing models needs the same credentials
            self._answer_models(resp, ex, target)
            return
        if ex.route_type is not RouteType.PASSTHROUGH:
            ex.body = llm.parse_body(req)
            model = ex.body.get("model")
            ex.request_model = model if isinstance(model, str) else None
        await self._run_request_policies(ex, early)
        loop = asyncio.get_running_loop()
        plan = self.failover.plan(ex.route, target, ex, loop.time())
        if ex.route_type is RouteType.ANTHROPIC_TOKEN_COUNT and ex.body is not None:
            # Only Anthropic has the endpoint; without an Anthropic provider the gateway estimates.
            plan = [c for c in plan if llm.spec_for(c.backend).native_format is RouteType.MESSAGES]
            if not plan:
                self._answer_token_count(resp, ex)
                return
        # Each attempt re-applies the model rules for its provider to the client's own body.
        attempts = self.failover.attempts(plan, route_pol.retry)
        original = copy.deepcopy(ex.body) if len(attempts) > 1 and ex.body is not None else None
        self._prepare_candidate(ex, plan[0], route_pol)
        # Policies (auth, rate limits, budget reservation, prompt guard) run once, for the first
        # candidate; only body rewrites a policy marked `per_attempt` are redone on a failover.
        await self._run_request_policies(ex, late)
        for attempt, candidate in enumerate(attempts):
            if attempt:
                if route_pol.retry is not None and route_pol.retry.backoff:
                    await asyncio.sleep(route_pol.retry.backoff)  # inside the request timeout
                ex.body, ex.body_changed, ex.translation = copy.deepcopy(original), False, None
                self._prepare_candidate(ex, candidate, route_pol)
                for policy in late:
                    if policy.per_attempt:
                        await policy.on_request(ex)
            may_retry = self.failover.may_retry(attempt, len(attempts))
            if await self._attempt_llm(req, resp, ex, candidate.backend, route_pol, chain, may_retry):
                return
            self.failover.budget.spend()
            ex.policy_state.setdefault(RETRIED, []).append((ex.backend_name, ex.status))

    def _prepare_candidate(self, ex: Exchange, candidate: Candidate, route_pol: Policies) -> None:
        backend = ex.backend = candidate.backend
        ex.backend_name, ex.provider = backend.name, llm.spec_for(backend).name
        if ex.body is None:
            return
        if candidate.model is not None and ex.body.get("model") != candidate.model:
            ex.body["model"] = candidate.model  # a virtual model's target, before the model rules
            ex.body_changed = True
        if candidate.transformation:
            # Every field is computed from the same request, then set (CEL without a value: unchanged).
            values = [(field, expr.evaluate(ex)) for field, expr in candidate.transformation]
            for field, value in values:
                if value is not None:
                    ex.body[field] = value
                    ex.body_changed = True
        client_model = ex.request_model
        llm.prepare_body(ex, route_pol)
        ex.request_model = client_model  # metrics and the ledger keep what the client asked for

    async def _attempt_llm(self, req: Request, resp: Responder, ex: Exchange, backend: AIBackend,
                           route_pol: Policies, chain: tuple[Policy, ...], may_retry: bool) -> bool:
        """One upstream call. False: it failed before any byte reached the client and the caller
        may try the next candidate (only when `may_retry`); otherwise the outcome is delivered."""
        spec = llm.spec_for(backend)
        payload = llm.serialize_body(ex)
        assert ex.route_type is not None  # set by _forward_llm
        path = self._llm_path(req, backend, spec, ex.route_type, ex.translation is not None, ex.model, ex.stream)
        headers = self._llm_headers(req, backend, spec, route_pol)
        tls_on = backend.host_override is None or backend.tls is not None
        host = backend.host_override.host if backend.host_override else spec.default_host
        port = backend.host_override.port if backend.host_override else spec.default_port
        key = peer_key(host, port, backend.tls or route_pol.backend_tls, tls_on)
        timeout = _attempt_timeout(backend, route_pol)
        headers = self.telemetry.upstream_attempt(ex, headers, key)
        if type(spec).sign is not ProviderSpec.sign:  # only SigV4 providers need the URL as a string
            headers = spec.sign(headers, req.method, f"{'https' if tls_on else 'http'}://{host}:{port}{path}",
                                payload, backend.policies.backend_auth or route_pol.backend_auth)
        upstream = Upstream(self.pool.session(key), req.method, self.pool.url(key, path), headers, payload, timeout)
        try:
            up = await upstream.open()
        except (UpstreamFailed, UpstreamTimeout) as err:
            ex.status = err.status
            self._failed(backend, None)
            if may_retry:
                return False
            raise
        up = spec.wrap_response(up, ex.stream, ex.model)  # Bedrock: Converse -> Messages as it arrives
        ex.status = up.status
        unhealthy = self.failover.unhealthy(backend, up.status)
        if unhealthy:
            self._failed(backend, {k.lower(): v for k, v in up.headers.items()})
        elif up.status < 500:
            self.failover.succeeded(backend)
        if may_retry and self.failover.retries_status(up.status, route_pol.retry, unhealthy):
            up.close()
            return False
        fmt_code = FORMAT_ANTHROPIC if spec.native_format is RouteType.MESSAGES else FORMAT_OPENAI
        ex.usage = UsageAccumulator(fmt_code)
        ok = up.status < 300
        body_hooks = self._body_hooks.get(id(ex.route), ((), ())) if ok else ((), ())
        filters = [f for p in body_hooks[0] if (f := p.response_filter(ex)) is not None]
        translation = ex.translation
        if translation is not None and ok and ex.stream:
            filters.insert(0, translation.stream_filter())  # later filters see the client's format
        out = downstream_response_headers(up.raw_headers, keep_length=False)
        out = self._modify_response_headers(out, route_pol, backend.policies, ex)
        if ex.stream and ok and up.headers.get("content-type", "").startswith("text/event-stream"):
            # From the first byte on the client holds this provider's answer: no failover after it.
            await self._relay_sse(up, resp, out, ex, filters)
        else:
            try:
                body = await upstream.read_body(up, MAX_LLM_RESPONSE)
            except (UpstreamFailed, UpstreamTimeout) as err:
                ex.status = err.status
                self._failed(backend, None)
                if may_retry:
                    return False
                raise
            if ok:
                ex.usage.feed_body(body)
                if translation is not None:
                    body = translation.response_body(body)
                for f in filters:
                    body = f.feed(body) + f.flush()
                for p in body_hooks[1]:
                    body = await p.on_response_body(ex, body)
            elif translation is not None:
                body = translation.error_body(body, up.status)
            resp.send(up.status, out, body)
        ex.response_model = ex.usage.model
        return True

    def _failed(self, backend: AIBackend, headers: dict[str, str] | None) -> None:
        if self.failover.failed(backend, asyncio.get_running_loop().time(), headers) > 0:
            self.metrics.count_ejection(backend.name)

    @staticmethod
    async def _relay_sse(up: Any, resp: Responder, out: Headers, ex: Exchange, filters: list[BodyFilter]) -> None:
        parser = SseParser()
        usage = ex.usage
        resp.start(up.status, out)
        clock = asyncio.get_running_loop().time

        def account(chunk: bytes) -> None:
            if not ex.first_chunk_at:
                ex.first_chunk_at = clock()  # time to first token: this chunk goes to the client now
            try:
                for _event, data in parser.feed(chunk):
                    usage.feed_event(data)
            except ValueError:
                pass  # an oversized event: usage for it is lost, the client still gets the bytes

        if not await relay_stream(up, resp, account, filters):
            return
        for _event, data in parser.flush():
            usage.feed_event(data)

    def _answer_token_count(self, resp: Responder, ex: Exchange) -> None:
        assert ex.body is not None
        ex.status, ex.reason = 200, "DirectResponse"
        body = orjson.dumps({"input_tokens": estimate_input_tokens(ex.body)})
        resp.send(200, [(b"content-type", b"application/json"), (b"x-gateway-token-count", b"estimate")], body)

    def _answer_models(self, resp: Responder, ex: Exchange, target: Any) -> None:
        names = listed_models(ex.route, target)
        data = [{"id": n, "object": "model", "created": self.started_at, "owned_by": "openai"} for n in names]
        ex.status, ex.reason = 200, "DirectResponse"
        resp.send(200, [(b"content-type", b"application/json")], orjson.dumps({"object": "list", "data": data}))

    @staticmethod
    def _llm_path(req: Request, backend: AIBackend, spec: ProviderSpec, route_type: RouteType, translated: bool,
                  model: str | None = None, stream: bool = False) -> str:
        if translated:
            route_type = spec.native_format  # the request now speaks the provider's API
        if backend.path_override is not None:
            return backend.path_override
        if backend.path_prefix is not None:
            return spec.request_path(route_type, backend.path_prefix, model, stream)
        if backend.host_override is not None and not translated and spec.keeps_client_path:
            # agentgateway keeps the client's path when only the host is overridden.
            return req.target.decode("latin-1")
        return spec.request_path(route_type, None, model, stream)

    def _llm_headers(self, req: Request, backend: AIBackend, spec: Any, route_pol: Policies) -> Headers:
        auth = backend.policies.backend_auth or route_pol.backend_auth
        headers = upstream_request_headers(req.headers, _LLM_DROP_CREDENTIALS if auth is not None else _LLM_DROP)
        # Usage is read from the response, so ask for it uncompressed.
        headers.append(_ACCEPT_IDENTITY)
        if auth is not None and auth.aws is None:  # aws credentials sign the request instead (spec.sign)
            headers.append(self._auth_header(auth.header, auth.prefix, spec.auth_header, spec.auth_prefix,
                                             auth.key.reveal()))
        elif auth is None and spec.auth_header == b"x-api-key":
            headers = _bearer_to_x_api_key(headers)
        if spec.default_headers:
            present = {k for k, _ in headers}
            headers.extend(h for h in spec.default_headers if h[0] not in present)
        return self._modify_request_headers(headers, route_pol, backend.policies)

    @staticmethod
    def _auth_header(header: str | None, prefix: str | None, default_header: bytes, default_prefix: bytes,
                     key: str) -> tuple[bytes, bytes]:
        name = header.lower().encode() if header else default_header
        if prefix is not None:
            pre = prefix.encode()
        else:
            pre = default_prefix if header is None or name == b"authorization" else b""
        return name, pre + key.encode()

    @staticmethod
    def _modify_request_headers(headers: Headers, route_pol: Policies, be_pol: Policies) -> Headers:
        for mod in (route_pol.request_header_modifier, be_pol.request_header_modifier):
            if mod is not None:
                headers = apply_header_modifier(headers, mod)
        return headers

    @staticmethod
    def _modify_response_headers(headers: Headers, route_pol: Policies, be_pol: Policies, ex: Exchange) -> Headers:
        if ex.response_headers:
            # The gateway's own headers (e.g. x-ratelimit-*) replace same-named upstream ones.
            ours = {k for k, _ in ex.response_headers}
            headers = [h for h in headers if h[0] not in ours]
            headers.extend(ex.response_headers)
        for mod in (be_pol.response_header_modifier, route_pol.response_header_modifier):
            if mod is not None:
                headers = apply_header_modifier(headers, mod)
        if route_pol.cors is not None:
            headers.extend(cors_policy.response_headers(route_pol.cors, ex.req))
        return headers

    # -- errors and records -------------------------------------------------------------------

    def _send_error(self, resp: Responder, err: GatewayError, ex: Exchange) -> None:
        if resp.started:
            resp.abort()
            return
        status, headers, body = render(err, ex.fmt)
        ex.status = status
        headers.extend(ex.response_headers)
        if ex.route is not None and ex.route.policies.cors is not None:
            headers.extend(cors_policy.response_headers(ex.route.policies.cors, ex.req))
        resp.send(status, headers, body)

    def _record(self, ex: Exchange, bind_name: str) -> None:
        for backend, status, *_ in ex.policy_state.get(RETRIED, ()):
            self.telemetry.count_retry(ex, bind_name, backend, status)
        self.telemetry.record(ex, bind_name)


def _attempt_timeout(backend: AIBackend | HostBackend, route_pol: Policies) -> float | None:
    """One attempt's limit: the backend's own timeout, else the route's backendRequestTimeout."""
    for pol in (backend.policies, route_pol):
        if pol.timeout is not None and pol.timeout.backend_request_timeout is not None:
            return pol.timeout.backend_request_timeout
    return None


def _bearer_to_x_api_key(headers: Headers) -> Headers:
    """Anthropic takes keys in x-api-key; move a client's Bearer key there (not OAuth tokens)."""
    out: Headers = []
    for k, v in headers:
        if k == b"authorization" and v[:7].lower() == b"bearer " and not v[7:].startswith(b"sk-ant-oat"):
            out.append((b"x-api-key", v[7:]))
        else:
            out.append((k, v))
    return out

