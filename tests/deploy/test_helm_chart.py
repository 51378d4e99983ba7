"""The Helm chart in deploy/helm/agentgateway-py, rendered and checked for what a user relies on.

`helm` is not installable here, so tests/deploy/helm_render.py renders the chart (it refuses any
template construct outside the subset it implements). Its output was compared byte for byte with
real Helm's for the default, all-features and existing-Secret values while the chart was written.
The checks read the manifests as Kubernetes would, then run what the pod would run: the ConfigMap's
config.yaml through the gateway's own loader with the Deployment's environment, and a real gateway
process from it.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config import dump_config, load_config_text
from gateway.config.envexpand import expand_env
from gateway.config.model import GatewayConfig
from tests.deploy.helm_render import Engine, RenderError, TemplateFail, render_chart
from tests.e2e.harness import ROOT, GatewayProc, MockProc, http

CHART = ROOT / "deploy" / "helm" / "agentgateway-py"

OPENAI_KEY = "sk-proj-chart-test-0penai-KEY"
ANTHROPIC_KEY = "sk-ant-chart-test-anthropic-KEY"
REDIS_URL = "redis://:r3dis-Pa55word@redis-master.data.svc:6379/0"
PG_URL = "postgresql://ledger:pg-Pa55word@pg.data.svc:5432/ledger"

FULL = {
    "providerKeys": {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
    "workers": 2,
    "redis": {"enabled": True, "url": REDIS_URL, "keyPrefix": "agw:", "timeout": "250ms",
              "rateLimitFailureMode": "failOpen", "budgetFailureMode": "failClosed"},
    "postgres": {"enabled": True, "url": PG_URL, "flushInterval": "2s"},
    "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 7},
}
EXISTING = {
    "existingSecret": "team-llm-keys",
    "redis": {"enabled": True, "existingSecret": "redis-auth", "existingSecretKey": "url"},
    "postgres": {"enabled": True, "existingSecret": "pg-auth"},
    "replicaCount": 3,
}
# What the user's own Secrets would hold, for the variant that uses them.
EXTERNAL_SECRETS = {
    ("team-llm-keys", "OPENAI_API_KEY"): OPENAI_KEY, ("team-llm-keys", "ANTHROPIC_API_KEY"): ANTHROPIC_KEY,
    ("redis-auth", "url"): REDIS_URL, ("pg-auth", "LEDGER_DATABASE_URL"): PG_URL,
}
VARIANTS = {"default": {}, "full": FULL, "existing": EXISTING}


class Manifests:
    """One rendering, parsed the way kubectl would read it."""

    def __init__(self, overrides: dict[str, Any], variant: str = "") -> None:
        self.variant = variant
        self.rendered = render_chart(CHART, overrides, release="gw", namespace="llm")
        self.docs: list[dict[str, Any]] = []
        for name, text in self.rendered.manifests.items():
            for doc in yaml.safe_load_all(text):
                assert isinstance(doc, dict), f"{name}: not a mapping"
                for key in ("apiVersion", "kind", "metadata"):
                    assert key in doc, f"{name}: no {key}"
                self.docs.append(doc)
        names = [(d["kind"], d["metadata"]["name"]) for d in self.docs]
        assert len(names) == len(set(names)), f"duplicate objects: {names}"

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.docs}

    def one(self, kind: str) -> dict[str, Any]:
        found = [d for d in self.docs if d["kind"] == kind]
        assert len(found) == 1, f"{len(found)} {kind} objects"
        return found[0]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name), None)

    @property
    def container(self) -> dict[str, Any]:
        containers = self.one("Deployment")["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return dict(containers[0])

    def port_number(self, port: int | str) -> int:
        """A probe's or Service's port, by number or by the container port's name."""
        if isinstance(port, int):
            return port
        named = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        assert port in named, f"port name {port!r} is not a container port ({sorted(named)})"
        return int(named[port])

    def config_text(self) -> str:
        cm = self.one("ConfigMap")
        volumes = self.one("Deployment")["spec"]["template"]["spec"]["volumes"]
        assert {"name": "config", "configMap": {"name": cm["metadata"]["name"]}} in volumes
        return str(cm["data"]["config.yaml"])

    def secret_value(self, name: str, key: str) -> str:
        """What the kubelet would put in an env var from secretKeyRef; fails if the key is missing."""
        secret = self.find("Secret", name)
        if secret is None:
            assert (name, key) in EXTERNAL_SECRETS, f"Secret {name} is neither rendered nor the user's"
            return EXTERNAL_SECRETS[(name, key)]
        assert key in secret["data"], f"Secret {name} has no key {key} (has {sorted(secret['data'])})"
        return base64.b64decode(secret["data"][key]).decode()

    def pod_env(self) -> dict[str, str]:
        env = {}
        for e in self.container["env"]:
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = self.secret_value(ref["name"], ref["key"])
        return env

    def load_config(self) -> GatewayConfig:
        return load_config_text(self.config_text(), "config.yaml", env=self.pod_env())

    def expanded_config(self) -> dict[str, Any]:
        """config.yaml after the gateway's env expansion, as plain data."""
        data = yaml.safe_load(expand_env(self.config_text(), self.pod_env(), "config.yaml"))
        assert isinstance(data, dict)
        return data


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def chart(request: pytest.FixtureRequest) -> Manifests:
    return Manifests(VARIANTS[request.param], request.param)


def test_objects_rendered_for_each_setting() -> None:
    assert Manifests({}).kinds() == {"ConfigMap", "Deployment", "Secret", "Service"}
    assert Manifests(FULL).kinds() == {"ConfigMap", "Deployment", "Secret", "Service", "HorizontalPodAutoscaler"}
    # Every key in the user's own Secrets: the chart creates none.
    assert Manifests(EXISTING).kinds() == {"ConfigMap", "Deployment", "Service"}


def test_selectors_match_pods(chart: Manifests) -> None:
    dep = chart.one("Deployment")
    match = dep["spec"]["selector"]["matchLabels"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert match and match.items() <= pod_labels.items()
    assert chart.one("Service")["spec"]["selector"] == match
    for doc in chart.docs:  # the release's objects are findable by the same labels
        assert match.items() <= doc["metadata"]["labels"].items(), doc["kind"]


def test_hpa_scales_the_deployment() -> None:
    m = Manifests(FULL)
    hpa, dep = m.one("HorizontalPodAutoscaler"), m.one("Deployment")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": dep["apiVersion"], "kind": "Deployment",
                                             "name": dep["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 7)
    metric = hpa["spec"]["metrics"][0]["resource"]
    assert metric["name"] == "cpu" and metric["target"]["type"] == "Utilization"
    # Utilization is relative to the request, so the pod must request CPU.
    assert m.container["resources"]["requests"]["cpu"]
    # With an HPA the Deployment leaves the count alone, or each upgrade would reset it.
    assert "replicas" not in dep["spec"]
    assert Manifests({"replicaCount": 4}).one("Deployment")["spec"]["replicas"] == 4


def test_probes_on_the_readiness_port(chart: Manifests) -> None:
    c = chart.container
    ready = c["readinessProbe"]["httpGet"]
    assert ready["path"] == "/healthz/ready"
    assert chart.port_number(ready["port"]) == 15021
    live = c["livenessProbe"]
    # /healthz/ready answers 500 while the pod drains: as a liveness check it would kill the pod
    # before its in-flight requests finish.
    assert live.get("httpGet", {}).get("path") != "/healthz/ready"
    action = live.get("httpGet") or live.get("tcpSocket")
    assert action is not None
    assert chart.port_number(action["port"]) == 15021


def test_ports_service_and_scrape_annotations(chart: Manifests) -> None:
    ports = {p["name"]: p["containerPort"] for p in chart.container["ports"]}
    assert ports == {"http": 3000, "metrics": 15020, "readiness": 15021}
    svc = {p["name"]: p for p in chart.one("Service")["spec"]["ports"]}
    assert set(svc) == {"http", "metrics"}
    assert chart.port_number(svc["http"]["targetPort"]) == 3000
    assert chart.port_number(svc["metrics"]["targetPort"]) == 15020
    ann = chart.one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert int(ann["prometheus.io/port"]) == 15020 and ann["prometheus.io/path"] == "/metrics"


def test_config_loads_with_the_pod_environment(chart: Manifests) -> None:
    cfg = chart.load_config()
    proc = cfg.process
    # Probes and scrapes come from outside the pod: the listeners must not be loopback-only.
    assert proc.readiness_addr is not None and proc.stats_addr is not None
    assert (proc.readiness_addr.host, proc.readiness_addr.port) == ("0.0.0.0", 15021)
    assert (proc.stats_addr.host, proc.stats_addr.port) == ("0.0.0.0", 15020)
    assert [b.port for b in cfg.binds] == [chart.port_number("http")]
    # The kubelet kills the pod at terminationGracePeriodSeconds: it must cover the preStop sleep
    # plus the whole drain the gateway is configured for.
    spec = chart.one("Deployment")["spec"]["template"]["spec"]
    sleep = int(chart.container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert chart.container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] >= sleep + proc.connection_termination_deadline + 3


def test_secrets_reach_the_config_through_env(chart: Manifests) -> None:
    keys = [m["params"]["apiKey"] for m in chart.expanded_config()["llm"]["models"]]
    # Default values have no keys: the pod still starts, and the provider refuses the calls.
    assert keys == ([None, None] if chart.variant == "default" else [OPENAI_KEY, ANTHROPIC_KEY])


def test_redis_and_postgres_wired_when_enabled() -> None:
    full = Manifests(FULL).expanded_config()["config"]
    assert full["stateBackend"] == {"type": "redis", "url": REDIS_URL, "keyPrefix": "agw:", "timeout": "250ms",
                                    "rateLimitFailureMode": "failOpen", "budgetFailureMode": "failClosed"}
    assert full["ledger"] == {"url": PG_URL, "flushInterval": "2s"}
    existing = Manifests(EXISTING)
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in existing.container["env"] if "valueFrom" in e}
    assert refs["REDIS_URL"] == {"name": "redis-auth", "key": "url"}
    assert refs["LEDGER_DATABASE_URL"] == {"name": "pg-auth", "key": "LEDGER_DATABASE_URL"}
    assert refs["OPENAI_API_KEY"] == {"name": "team-llm-keys", "key": "OPENAI_API_KEY"}
    assert existing.expanded_config()["config"]["stateBackend"] == {"type": "redis", "url": REDIS_URL}
    default = Manifests({}).expanded_config()["config"]
    assert "stateBackend" not in default and "ledger" not in default


def test_gateway_reads_the_redis_and_postgres_settings() -> None:
    cfg = Manifests(FULL).load_config()
    backend = cfg.process.state_backend
    assert backend is not None and backend.type == "redis"
    assert backend.url is not None and backend.url.reveal() == REDIS_URL
    assert (backend.key_prefix, backend.timeout) == ("agw:", 0.25)
    ledger = cfg.process.cost.ledger
    assert ledger is not None and ledger.path is None and ledger.url is not None
    assert ledger.flush_interval == 2.0
    dump = json.dumps(dump_config(cfg), default=str)
    assert "r3dis-Pa55word" not in dump and "pg-Pa55word" not in dump


def test_no_plaintext_secret_outside_the_secret() -> None:
    m = Manifests(FULL)
    secrets = [OPENAI_KEY, ANTHROPIC_KEY, REDIS_URL, PG_URL, "r3dis-Pa55word", "pg-Pa55word"]
    for doc in m.docs:
        if doc["kind"] == "Secret":
            continue
        text = yaml.safe_dump(doc)
        for s in secrets:
            assert s not in text and base64.b64encode(s.encode()).decode() not in text, (doc["kind"], s)
    assert m.secret_value(m.one("Secret")["metadata"]["name"], "REDIS_URL") == REDIS_URL
    for s in secrets:
        assert s not in m.rendered.notes


def test_pod_runs_as_non_root(chart: Manifests) -> None:
    pod = chart.one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    sc = chart.container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    # A read-only root still needs somewhere to write: temp files and relative paths (a SQLite ledger).
    mounts = {v["mountPath"] for v in chart.container["volumeMounts"]}
    assert {"/tmp", chart.container["workingDir"]} <= mounts


def test_container_args_run_with_the_gateway_cli(chart: Manifests) -> None:
    """The image's entrypoint is `agentgateway`; the chart's args must parse and validate with it."""
    args = list(chart.container["args"])
    i = args.index("-f")
    mount = next(v["mountPath"] for v in chart.container["volumeMounts"] if v["name"] == "config")
    assert Path(args[i + 1]).parent == Path(mount) and Path(args[i + 1]).name in chart.one("ConfigMap")["data"]
    assert args[args.index("--workers") + 1] == ("2" if chart.variant == "full" else "1")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(chart.config_text())
        f.flush()
        args[i + 1] = f.name
        proc = subprocess.run([sys.executable, "-m", "gateway", *args, "--validate-only"], cwd=ROOT,
                              env=chart.pod_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "configuration is valid" in proc.stdout


def test_render_refuses_per_replica_limits_without_redis() -> None:
    limited = {"config": {"binds": [{"port": "$GATEWAY_PORT", "listeners": [{"routes": [{
        "policies": {"localRateLimit": [{"maxTokens": 10, "tokensPerFill": 10, "fillInterval": "60s"}]},
        "backends": [{"host": "127.0.0.1:1"}]}]}]}]}}
    Manifests(limited)  # one replica: the limit is exact
    for scale in ({"replicaCount": 2}, {"autoscaling": {"enabled": True}}):
        with pytest.raises(TemplateFail, match="redis.enabled"):
            render_chart(CHART, {**limited, **scale})
    Manifests({**limited, "replicaCount": 2, "redis": {"enabled": True, "url": REDIS_URL}})
    Manifests({**limited, "replicaCount": 2, "allowPerReplicaLimits": True})
    own_redis = {"stateBackend": {"type": "redis", "url": "$MY_REDIS"}}
    assert "NOTE: more than one replica" not in Manifests(
        {"config": {**limited["config"], "config": own_redis}, "replicaCount": 2}).rendered.notes
    assert "NOTE: more than one replica" in Manifests({"replicaCount": 2}).rendered.notes
    with pytest.raises(TemplateFail, match="redis.enabled"):
        render_chart(CHART, {"config": {**limited["config"], "config": {"stateBackend": {"type": "memory"}}},
                             "replicaCount": 2})
    with pytest.raises(TemplateFail, match="redis.url or redis.existingSecret"):
        render_chart(CHART, {"redis": {"enabled": True}})
    with pytest.raises(TemplateFail, match="drain.deadlineSeconds"):
        render_chart(CHART, {"config": {"config": {"connectionTerminationDeadline": "5s"}}})


def test_drain_values_flow_to_config_and_pod() -> None:
    m = Manifests({"drain": {"preStopSleepSeconds": 0, "deadlineSeconds": 90}})
    assert m.load_config().process.connection_termination_deadline == 90
    assert "lifecycle" not in m.container  # no sleep asked for, no preStop hook
    assert m.one("Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 100


def test_renderer_rejects_what_it_does_not_implement() -> None:
    engine = Engine()
    engine.add_file("t", '{{ .Values.x | upper }}')
    with pytest.raises(RenderError, match="upper"):
        engine.execute("t", {"Values": {"x": "a"}})
    with pytest.raises(RenderError, match="nil pointer"):
        engine.add_file("u", "{{ .Values.missing.key }}")
        engine.execute("u", {"Values": {}})


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProc]:
    m = MockProc()
    yield m
    m.stop()


def test_gateway_runs_from_the_rendered_chart(mock: MockProc) -> None:
    """Start the gateway exactly as the pod would (config.yaml + env), on free local ports."""
    m = Manifests({
        "providerKeys": {"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY},
        "config": {"llm": {"port": "$GATEWAY_PORT", "models": [{
            "name": "*", "provider": "openAI",
            "params": {"apiKey": "$OPENAI_API_KEY", "baseUrl": f"http://{mock.addr}/v1"}}]}},
    })
    env = {k: v for k, v in m.pod_env().items() if k not in ("GATEWAY_PORT", "READINESS_ADDR", "STATS_ADDR")}
    gw = GatewayProc(m.config_text(), env=env, ready_timeout=60)
    try:
        probe = m.container["readinessProbe"]["httpGet"]["path"]
        assert gw.get(gw.ready_port, probe) == (200, b"ready\n")
        scrape = m.one("Deployment")["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
        r = http("POST", f"{gw.url}/v1/chat/completions",
                 json_body={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 200, r.content
        assert http("GET", f"{gw.url}/v1/models").status_code == 200  # the NOTES' first try
        status, body = gw.get(gw.stats_port, scrape)
        assert status == 200 and b"agentgateway" in body
    finally:
        code, err = gw.stop()
    assert code == 0, err
    assert OPENAI_KEY not in err
