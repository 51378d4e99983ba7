"""`make demo`: start the mock provider and the gateway, walk through the features, stop both.

With ANTHROPIC_API_KEY set, the gateway fronts the real Anthropic API instead of the mock (the
OpenAI part is then skipped unless OPENAI_API_KEY is set too). Every number printed comes from a
real HTTP call made here.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import anthropic
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.otlp_receiver import GrpcReceiver  # noqa: E402 - a real OTLP collector for the trace demo

MODEL = "claude-haiku-4-5-20251001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=0.5):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    sys.exit(f"{url} did not come up within {timeout}s")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"process on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} did not open")


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, body
        self.text = body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    """One plain HTTP request with the standard library, as any client would send it."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return Reply(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return call("POST", url, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def section(title: str) -> None:
    print(f"\n{'=' * 70}\n  {title}\n{'=' * 70}")


class Demo:
    def __init__(self) -> None:
        self.real = bool(os.environ.get("ANTHROPIC_API_KEY"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = free_port()
        self.ports = {"ADMIN_ADDR": free_port(), "STATS_ADDR": free_port(), "READINESS_ADDR": free_port()}
        self.env = dict(os.environ, GATEWAY_PORT=str(self.port),
                        **{k: f"127.0.0.1:{v}" for k, v in self.ports.items()})
        self.anthropic_key = os.environ.get("ANTHROPIC_API_KEY", "sk-ant-demo-server-side-key")
        self.openai_key = os.environ.get("OPENAI_API_KEY", "sk-demo-openai-server-side-key")
        self.url = f"http://127.0.0.1:{self.port}"
        self.failover_trace = (os.urandom(16).hex(), os.urandom(8).hex())  # (trace id, caller span id)
        # A fresh spend ledger per run, so today's budgets start empty.
        self.ledger_dir = tempfile.mkdtemp(prefix="agentgateway-demo-")
        self.env.setdefault("SPEND_LEDGER", os.path.join(self.ledger_dir, "spend.db"))
        # Traces go to a local OTLP receiver; with only the env endpoint set, a request is traced when
        # its caller sends a sampled traceparent (clientSampling), as in agentgateway.
        self.otlp = GrpcReceiver()
        self.env.update(OTEL_EXPORTER_OTLP_ENDPOINT=self.otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
        self.gateway_log = os.path.join(self.ledger_dir, "gateway.log")

    def start(self) -> None:
        config = ROOT / ("examples/demo-anthropic.yaml" if self.real else "config.yaml")
        if not self.real:
            mock_port = free_port()
            self.env["MOCK_ADDR"] = f"127.0.0.1:{mock_port}"
            mock = subprocess.Popen([sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1",
                                     "--port", str(mock_port), "--latency-ms", "20"], cwd=ROOT,
                                    stdout=subprocess.DEVNULL)
            self.procs.append(mock)
            wait_port(mock_port, mock)
            print(f"mock provider  : http://127.0.0.1:{mock_port} (speaks OpenAI and Anthropic)")
            self._start_primary_mock()
        with open(self.gateway_log, "wb") as log:  # access-log lines, shown by observability()
            gw = subprocess.Popen([sys.executable, "-m", "gateway", "-f", str(config)], cwd=ROOT, env=self.env,
                                  stderr=log)
        self.procs.append(gw)
        wait_http(f"http://127.0.0.1:{self.ports['READINESS_ADDR']}/healthz/ready", gw)
        print(f"gateway        : {self.url} (config {config.relative_to(ROOT)})")
        print(f"upstream       : {'api.anthropic.com (real)' if self.real else 'the mock provider'}")

    def stop(self) -> None:
        self.otlp.stop()
        for p in reversed(self.procs):
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    # -- features ---------------------------------------------------------------------------

    def key_protection(self) -> None:
        section("Feature 1: API key protection")
        print("Client code (the seed's snippet): a plain POST with NO API key.")
        r = post_json(f"{self.url}/v1/messages",
                      {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "Hello!"}]})
        print(f"   status {r.status_code}")
        data = r.json()
        print(f"   reply : {data['content'][0]['text'][:70]!r}")
        print(f"   usage : {data['usage']['input_tokens']} input / {data['usage']['output_tokens']} output tokens")
        if not self.real:
            seen = r.headers.get("x-mock-auth-key-sha256")
            print(f"   the provider received header {r.headers.get('x-mock-auth-header')} "
                  f"with key sha256 {seen}; the gateway's key hashes to {digest(self.anthropic_key)}: "
                  f"{'MATCH' if seen == digest(self.anthropic_key) else 'MISMATCH'}")
            leaked = "sk-ant-LEAKED-client-key"
            r = post_json(f"{self.url}/v1/messages", {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]},
                          headers={"x-api-key": leaked})
            seen = r.headers.get("x-mock-auth-key-sha256")
            print(f"   a client that sends its own key ({leaked}) is ignored: provider saw "
                  f"{'the server key' if seen == digest(self.anthropic_key) else 'THE CLIENT KEY'}")
        dump = call("GET", f"http://127.0.0.1:{self.ports['ADMIN_ADDR']}/config_dump").text
        print(f"   admin /config_dump shows the key as <redacted>: {'<redacted>' in dump} "
              f"(key text present: {self.anthropic_key in dump})")

    def streaming(self) -> None:
        section("Streaming passthrough (Anthropic SDK, no buffering)")
        client = anthropic.Anthropic(base_url=self.url, api_key="not-a-real-key", max_retries=0)
        t0 = time.perf_counter()
        first = None
        print("   ", end="")
        with client.messages.stream(model=MODEL, max_tokens=120,
                                    messages=[{"role": "user", "content": "Say hello in five words"}]) as s:
            for text in s.text_stream:
                first = first or time.perf_counter()
                print(text, end="", flush=True)
            final = s.get_final_message()
        total = time.perf_counter() - t0
        print(f"\n   first token after {((first or t0) - t0) * 1000:.0f} ms, whole stream {total * 1000:.0f} ms, "
              f"{final.usage.output_tokens} output tokens")

    def openai_client(self) -> None:
        section("OpenAI SDK through the same gateway")
        if self.real and not os.environ.get("OPENAI_API_KEY"):
            print("   skipped: real-provider mode and no OPENAI_API_KEY set")
            return
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        c = client.chat.completions.create(model="any", messages=[{"role": "user", "content": "Hello!"}])
        usage = c.usage
        print(f"   model {c.model}: {c.choices[0].message.content[:60]!r}")
        if usage is not None:
            print(f"   usage: {usage.prompt_tokens} prompt / {usage.completion_tokens} completion tokens")

    def errors(self) -> None:
        section("Errors in the client's own API format")
        r = call("POST", f"{self.url}/v1/messages", b"{not json", {"content-type": "application/json"})
        print(f"   Anthropic route, bad JSON -> {r.status_code} {r.text[:110]}")
        r = call("POST", f"{self.url}/v1/chat/completions", b"[", {"content-type": "application/json"})
        print(f"   OpenAI route, bad JSON    -> {r.status_code} {r.text[:110]}")

    def rate_limits(self) -> None:
        section("Rate limiting (localRateLimit: 10 requests a minute on /ratelimited)")
        if self.real:
            print("   skipped: examples/demo-anthropic.yaml has no rate-limited route (12 real calls would cost money)")
            return
        print("   Sending 12 rapid requests (the seed's test) with the Anthropic SDK...")
        client = anthropic.Anthropic(base_url=f"{self.url}/ratelimited", api_key="unused", max_retries=0)
        ok = limited = 0
        for i in range(1, 13):
            try:
                raw = client.messages.with_raw_response.create(
                    model=MODEL, max_tokens=16, messages=[{"role": "user", "content": f"request {i}"}])
                ok += 1
                print(f"   Request {i:2}/12: 200 success      x-ratelimit-remaining "
                      f"{raw.headers.get('x-ratelimit-remaining')}")
            except anthropic.RateLimitError as e:
                limited += 1
                print(f"   Request {i:2}/12: 429 {e.body['error']['message'] if isinstance(e.body, dict) else e}"
                      f"  (refill in {e.response.headers.get('x-ratelimit-reset')} s)")
        print(f"   Results: {ok} successful, {limited} rate limited (the bucket holds 10; the seed's "
              f"write-up printed 9/3)")
        metrics = call("GET", f"http://127.0.0.1:{self.ports['STATS_ADDR']}/metrics").text
        for line in metrics.splitlines():
            if line.startswith("agentgateway_rate_limit_rejections_total{"):
                print("   " + line)

    def access(self) -> None:
        section("Access control: gateway API keys (apiKey) on /team, spend billed to the key's user")
        alice = os.environ.get("ALICE_GATEWAY_KEY", "gw-demo-alice-key")
        body = {"model": MODEL, "max_tokens": 32, "messages": [{"role": "user", "content": "Hello from the team"}]}
        r = post_json(f"{self.url}/team/v1/messages", body)
        print(f"   no gateway key      -> {r.status_code} {r.json()['error']['type']}: {r.json()['error']['message']}")
        r = post_json(f"{self.url}/team/v1/messages", body, headers={"authorization": "Bearer gw-guessed-key"})
        print(f"   a wrong key         -> {r.status_code} {r.json()['error']['type']}: {r.json()['error']['message']}")
        r = post_json(f"{self.url}/team/v1/messages", body, headers={"authorization": f"Bearer {alice}"})
        print(f"   alice's key         -> {r.status_code} {r.json()['content'][0]['text'][:60]!r}")
        if not self.real:
            seen = r.headers.get("x-mock-auth-key-sha256")
            print(f"   the provider saw key sha256 {seen}: "
                  f"{'the gateway server key' if seen == digest(self.anthropic_key) else 'NOT the server key'}"
                  f" (alice's gateway key hashes to {digest(alice)}, never forwarded)")
        admin = f"http://127.0.0.1:{self.ports['ADMIN_ADDR']}"
        for _ in range(30):  # the ledger flushes in the background
            spend = call("GET", f"{admin}/api/spend?group_by=user,team")
            users = spend.json().get("groups", {}).get("user", {}).get("rows", []) if spend.status_code == 200 else []
            if spend.status_code != 200 or users:
                break
            time.sleep(0.2)
        if spend.status_code == 200:
            for row in users:
                print(f"   billed: user {row['key']}: {row['requests']} request(s), ${row['costUsd']}")
        else:
            print(f"   the key's metadata makes the request user=alice team=research; the per-user spend report "
                  f"needs config.ledger (admin /api/spend answered {spend.status_code})")

    def _spend_client(self, user: str) -> anthropic.Anthropic:
        """The Anthropic SDK with `user`'s gateway key (config.yaml route `spend`): the key says who pays."""
        return anthropic.Anthropic(base_url=f"{self.url}/spend", max_retries=0,
                                   api_key=f"gw-demo-{user}-spend-key")

    def budgets(self) -> None:
        section("Budgets: per-user USD limits, enforced before the provider is called")
        if self.real:
            print("   skipped: examples/demo-anthropic.yaml has no budget route (real calls cost money)")
            return
        print("   config.yaml: alice $0.05/day, bob $0.10/day, charlie $0.0003/day (claude-haiku-4-5 list prices)")
        for user, count in (("alice", 2), ("bob", 2), ("charlie", 6)):
            client = self._spend_client(user)
            for i in range(1, count + 1):
                try:
                    msg = client.messages.create(model=MODEL, max_tokens=20, messages=[
                        {"role": "user", "content": f"{user} asks question {i}"}])
                    print(f"   {user:8} request {i}: 200  {msg.usage.input_tokens} in / "
                          f"{msg.usage.output_tokens} out tokens")
                except anthropic.RateLimitError as e:
                    err = e.body.get("error", {}) if isinstance(e.body, dict) else {}
                    print(f"   {user:8} request {i}: 429 {err.get('type')}: {err.get('message')}")
        rows = self._spend("user")
        for row in rows:
            if row["key"] in ("alice", "bob", "charlie"):
                print(f"   spent today: {row['key']:8} ${row['costUsd']} over {row['requests']} request(s)")

    def _spend(self, group: str) -> list[dict[str, Any]]:
        """Rows of admin /api/spend once the ledger's background writer has flushed (1 s)."""
        admin = f"http://127.0.0.1:{self.ports['ADMIN_ADDR']}"
        time.sleep(1.2)
        r = call("GET", f"{admin}/api/spend?group_by={group}")
        rows: list[dict[str, Any]] = r.json()["groups"][group]["rows"] if r.status_code == 200 else []
        return rows

    def chargeback(self) -> None:
        section("Chargeback: spend per user, team, model and day from the ledger")
        if self.real:
            print("   skipped in real-provider mode")
            return
        people = ("alice", "bob", "charlie", "diana", "eve", "frank", "grace", "henry")
        sent = 0
        for n, user in enumerate(people):
            client = self._spend_client(user)
            for i in range(n % 3 + 1):
                try:
                    client.messages.create(model=MODEL, max_tokens=40, messages=[
                        {"role": "user", "content": f"Quarterly summary {i} for {user} " * (n + 1)}])
                    sent += 1
                except anthropic.RateLimitError:
                    pass  # charlie is out of budget: refused, recorded at $0
        print(f"   {sent} requests from {len(people)} users in 6 teams; report (`agentgateway report`, reading "
              "the ledger file; it needs no running gateway):")
        time.sleep(1.2)  # the ledger flush interval
        # `-f config.yaml`: the ledger path and the team budgets (for the forecast) come from the config.
        out = subprocess.run([sys.executable, "-m", "gateway", "report", "-f", "config.yaml",
                              "--by", "user,team,model,day"], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             timeout=60)
        print("\n".join("   " + line for line in (out.stdout or out.stderr).splitlines()))

    def pii(self) -> None:
        section("Privacy: PII masked in the gateway (promptGuard on /private)")
        if self.real:
            print("   skipped: examples/demo-anthropic.yaml has no /private route")
            return
        client = anthropic.Anthropic(base_url=f"{self.url}/private", api_key="unused", max_retries=0)
        prompts = ["My SSN is 123-45-6789, file my taxes", "Charge card 4111-1111-1111-1111 for $20",
                   "Mail jane.doe@example.com or +1 415-555-0134"]
        for prompt in prompts:
            reply = client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": prompt}])
            block = reply.content[0]
            received = block.text.split("You said: ", 1)[-1] if block.type == "text" else ""
            print(f"   client sent       : {prompt!r}")
            print(f"   provider received : {received!r}  (the mock echoes what it got)")
        text = call("GET", f"http://127.0.0.1:{self.ports['STATS_ADDR']}/metrics").text
        for line in text.splitlines():
            if line.startswith("agentgateway_guardrail_detections_total{"):
                print("   " + line)

    def observability(self) -> None:
        section("Metrics (Prometheus, agentgateway names)")
        text = call("GET", f"http://127.0.0.1:{self.ports['STATS_ADDR']}/metrics").text
        families = sorted({line.split("{")[0].split(" ")[0] for line in text.splitlines()
                           if line.startswith("agentgateway_gen_ai")})
        print("   GenAI series: " + ", ".join(families))
        for line in text.splitlines():
            if line.startswith("agentgateway_requests_total{") or (
                    line.startswith("agentgateway_gen_ai_client_token_usage_sum{")):
                print("   " + line)
        self._trace()
        section("Access log (stderr, agentgateway's fields; the last 3 lines)")
        lines = [ln for ln in Path(self.gateway_log).read_text(errors="replace").splitlines() if "\trequest " in ln]
        for line in lines[-3:]:
            print("   " + line)

    def _trace(self) -> None:
        section("Trace of the failover request (OTLP to a local receiver; the caller's traceparent is followed)")
        trace_id, parent = self.failover_trace
        print(f"   request 3 of the live failover: caller trace {trace_id}, caller span {parent}")
        # One SERVER span and a CLIENT span per upstream attempt: the dead primary, then the fallback.
        spans = [s for s in self.otlp.collected.wait_for(3, timeout=10) if s["trace_id"] == trace_id]
        by_parent: dict[str, list[dict[str, Any]]] = {}
        for s in spans:
            by_parent.setdefault(s["parent_span_id"], []).append(s)

        def show(span_id: str, depth: int) -> None:
            for s in by_parent.get(span_id, []):
                a = s["attributes"]
                detail = ", ".join(f"{k}={a[k]}" for k in ("gen_ai.provider.name", "gen_ai.request.model", "error",
                                                            "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                                                            "http.status", "http.response.status_code") if k in a)
                print(f"   {'   ' * depth}└─ {s['kind']} {s['name']}  [{detail}]")
                show(s["span_id"], depth + 1)

        print(f"   caller span {parent}")
        show(parent, 1)

    def _start_primary_mock(self) -> None:
        """A second mock: the `failover` route's primary, killed mid-demo by multi_provider()."""
        port = free_port()
        self.env["PRIMARY_MOCK_ADDR"] = f"127.0.0.1:{port}"
        self.primary_mock = subprocess.Popen([sys.executable, "-m", "gateway.mock", "--host", "127.0.0.1",
                                              "--port", str(port), "--latency-ms", "20"], cwd=ROOT,
                                             stdout=subprocess.DEVNULL)
        self.procs.append(self.primary_mock)
        wait_port(port, self.primary_mock)
        print(f"primary mock   : http://127.0.0.1:{port} (the failover route's primary; killed mid-demo)")

    def multi_provider(self) -> None:
        section("Feature 6: multi-provider - one request, two provider formats, live failover")
        if self.real:
            print("   skipped: examples/demo-anthropic.yaml has one provider")
            return
        ask = [{"role": "user", "content": "Summarize the benefits of an LLM gateway in one sentence."}]
        print("   The same OpenAI-SDK request to routes /compare/anthropic and /compare/openai:")
        for name in ("anthropic", "openai"):
            client = openai.OpenAI(base_url=f"{self.url}/compare/{name}/v1", api_key="unused", max_retries=0)
            raw = client.chat.completions.with_raw_response.create(model="any", max_tokens=60, messages=ask)
            wire = "Anthropic Messages" if raw.headers.get("x-mock-auth-header") == "x-api-key" else "OpenAI Chat"
            c = raw.parse()
            print(f"   {name:9} -> {wire:18} API, model {c.model}: {(c.choices[0].message.content or '')[:60]!r}")
        rows = {r["key"]: r for r in self._spend("route")}
        print(f"\n   {'Provider':10} {'Model':28} {'In tok':>7} {'Out tok':>8} {'Cost (USD, ledger)':>19}")
        for route, provider, model in (("compare-anthropic", "Anthropic", "claude-haiku-4-5-20251001"),
                                       ("compare-openai", "OpenAI", "gpt-4o-mini")):
            r = rows.get(route)
            if r is not None:
                print(f"   {provider:10} {model:28} {r['inputTokens']:>7} {r['outputTokens']:>8} {r['costUsd']:>19}")
        self._live_failover()

    def _live_failover(self) -> None:
        print("\n   Route /failover: anthropic-primary (its own mock), then openai-fallback. No health policy.")
        client = openai.OpenAI(base_url=f"{self.url}/failover/v1", api_key="unused", max_retries=0)
        for i in range(1, 7):
            if i == 3:
                self.primary_mock.kill()
                self.primary_mock.wait(5)
                print("   -- killed the primary mock provider --")
            start = time.monotonic()
            # The request that fails over carries a sampled traceparent: observability() prints its trace.
            headers = {"traceparent": f"00-{self.failover_trace[0]}-{self.failover_trace[1]}-01"} if i == 3 else {}
            try:
                c = client.chat.completions.create(model="any", max_tokens=30, extra_headers=headers, messages=[
                    {"role": "user", "content": f"request {i}"}])
                served = "primary (Anthropic)" if c.model.startswith("claude") else "fallback (OpenAI)"
                print(f"   request {i}: 200 from {served:20} {1000 * (time.monotonic() - start):6.1f} ms")
            except openai.APIError as e:
                print(f"   request {i}: FAILED {e}")
        stats = f"http://127.0.0.1:{self.ports['STATS_ADDR']}/metrics"
        lines = call("GET", stats).text.splitlines()
        retried = sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith("agentgateway_retries_total{"))
        print(f"   agentgateway_retries_total = {retried:g}: one failed attempt, then the primary was ejected "
              "(later requests skip it until its cool-down ends)")

    def not_yet(self) -> None:
        pending: tuple[str, ...] = ()  # multi-provider failover and translation: multi_provider()
        if not pending:
            return
        section("Not built yet (tracked as issues)")
        for name in pending:
            print(f"   - {name}")


def main() -> int:
    demo = Demo()
    try:
        demo.start()
        demo.key_protection()
        demo.streaming()
        demo.openai_client()
        demo.errors()
        demo.rate_limits()
        demo.access()
        demo.pii()
        demo.budgets()
        demo.chargeback()
        demo.multi_provider()
        demo.observability()
        demo.not_yet()
    finally:
        demo.stop()
    print("\nstopped the gateway and the mock provider.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
