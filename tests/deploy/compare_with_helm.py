"""Check tests/deploy/helm_render.py against real Helm, for whoever changes the chart (not run by CI).

Real Helm is reachable here only as a Go library inside the helm-sdkpy wheel (Helm v4.3.0), which
declares Python >= 3.12 and exposes `lint`, not `template`. So, per values variant, this copies the
chart with those values, adds a template that includes each real template and compares it byte for
byte with helm_render's output, and lints: a difference is a lint error in that template.

    python3 -m venv /tmp/helm-venv
    /tmp/helm-venv/bin/pip install --ignore-requires-python helm-sdkpy==0.1.32 pyyaml
    /tmp/helm-venv/bin/python tests/deploy/compare_with_helm.py     # from the repository root

Helm's lint logs a template's `fail` message (as `INFO funcMap fail message=...`) instead of
failing, so the variants the chart refuses print Helm's message next to ours.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.deploy.helm_render import TemplateFail, merge_values, render_chart  # noqa: E402

CHART = ROOT / "deploy" / "helm" / "agentgateway-py"
LIMITED = {"binds": [{"port": 3000, "listeners": [{"routes": [{"policies": {"localRateLimit": [{"maxTokens": 1}]}}]}]}]}
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "full": {
        "redis": {"enabled": True, "url": "redis://:pw@redis:6379/0", "keyPrefix": "agw:", "timeout": "250ms",
                  "budgetFailureMode": "failClosed", "reservationTtl": "2m"},
        "postgres": {"enabled": True, "url": "postgresql://u:p@pg:5432/ledger", "flushInterval": "2s"},
        "autoscaling": {"enabled": True, "targetMemoryUtilizationPercentage": 80},
        "workers": "auto", "providerKeys": {"OPENAI_API_KEY": "sk-test-openai"},
        "podAnnotations": {"a": "b"}, "extraEnv": [{"name": "LOG_LEVEL", "value": "debug"}],
        "nodeSelector": {"k": "v"}, "imagePullSecrets": [{"name": "reg"}], "serviceAccountName": "sa",
        "service": {"annotations": {"x": "why"}}, "drain": {"preStopSleepSeconds": 0},
    },
    "existing": {
        "existingSecret": "mykeys", "replicaCount": 3,
        "redis": {"enabled": True, "existingSecret": "r", "existingSecretKey": "url"},
        "postgres": {"enabled": True, "existingSecret": "p"},
        "config": {"config": {"ledger": {"flushInterval": "1s"},
                              "budgets": {"users": {"a": {"limit": "1", "period": "daily"}}}}},
    },
    "fullname": {"existingSecret": "mykeys", "fullnameOverride": "agw"},
    "refuse-scale": {"replicaCount": 2, "config": LIMITED},
    "own-redis": {"replicaCount": 2, "config": {**LIMITED, "config": {"stateBackend": {"type": "redis", "url": "$R"}}}},
    "refuse-memory": {"replicaCount": 2, "config": {**LIMITED, "config": {"stateBackend": {"type": "memory"}}}},
    "refuse-redis": {"redis": {"enabled": True}},
    "refuse-deadline": {"config": {"config": {"connectionTerminationDeadline": "5s"}}},
}
# `helm lint` renders as release "test-release" in namespace "".
RELEASE, NAMESPACE = "test-release", ""


def _lint_errors(chart: Path) -> list[str]:
    from helm_sdkpy import Configuration
    from helm_sdkpy.chart import Lint

    result = asyncio.run(Lint(Configuration(namespace="default", kubeconfig="/dev/null")).run(str(chart)))
    return [m["Path"] for m in result["Messages"] if m["Severity"] > 1]


def _compare(name: str, overrides: dict[str, Any], work: Path) -> bool:
    chart = work / name
    shutil.copytree(CHART, chart)
    values = merge_values(yaml.safe_load((CHART / "values.yaml").read_text()), overrides)
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    try:
        rendered = render_chart(CHART, overrides, release=RELEASE, namespace=NAMESPACE)
    except TemplateFail as e:
        print(f"{name}: ours refuses: {e}", flush=True)
        _lint_errors(chart)  # Helm logs its own fail message
        return True
    errors = _lint_errors(chart)
    ok = not errors
    print(f"{name}: plain lint {'clean' if ok else errors}", flush=True)
    outputs = {**rendered.manifests, "NOTES.txt": rendered.notes}
    for template, want in outputs.items():
        assert "`" not in want
        (chart / "templates" / "zz_compare.yaml").write_text(
            '{{- $got := include (print $.Template.BasePath "/' + template + '") $ -}}\n'
            "{{- if ne $got `" + want + "` }}differs: [{{ end }}\n")
        same = not _lint_errors(chart)
        ok &= same
        print(f"  {template}: {'identical' if same else 'DIFFERS'}", flush=True)
    return ok


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        results = [_compare(name, overrides, Path(tmp)) for name, overrides in VARIANTS.items()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
