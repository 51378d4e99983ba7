{{/* Names: the usual Helm conventions, cut to the 63 characters Kubernetes allows. */}}
{{- define "agentgateway-py.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentgateway-py.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "agentgateway-py.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "agentgateway-py.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentgateway-py.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "agentgateway-py.labels" -}}
helm.sh/chart: {{ include "agentgateway-py.chart" . }}
{{ include "agentgateway-py.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The Secret holding the provider keys: the user's, or the chart's. */}}
{{- define "agentgateway-py.providerSecretName" -}}
{{- default (include "agentgateway-py.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Whether the chart creates its own Secret: it does for whatever no existingSecret covers. */}}
{{- define "agentgateway-py.createSecret" -}}
{{- if or (not .Values.existingSecret) (and .Values.redis.enabled (not .Values.redis.existingSecret)) (and .Values.postgres.enabled (not .Values.postgres.existingSecret)) -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when limits and budgets live in Redis: the chart's redis values, or the user's own stateBackend. */}}
{{- define "agentgateway-py.sharedState" -}}
{{- $own := default (dict) (default (dict) .Values.config.config).stateBackend -}}
{{- if or .Values.redis.enabled (eq (default "" $own.type) "redis") -}}
true
{{- end -}}
{{- end -}}

{{/*
Fail at render time rather than deploy something that silently misbehaves. Rate limits and budgets
live in each process's memory unless redis is on, so N replicas would each admit the full limit.
*/}}
{{- define "agentgateway-py.validate" -}}
{{- $multi := or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
{{- $text := toYaml .Values.config -}}
{{- $limited := or (contains "localRateLimit" $text) (contains "budgets" $text) -}}
{{- if and $multi $limited (not (include "agentgateway-py.sharedState" .)) (not .Values.allowPerReplicaLimits) -}}
{{- fail "the config has localRateLimit or budgets and runs on more than one replica: set redis.enabled (shared limits) or allowPerReplicaLimits=true (each replica enforces its own)" -}}
{{- end -}}
{{- if and .Values.redis.enabled (not .Values.redis.existingSecret) (not .Values.redis.url) -}}
{{- fail "redis.enabled needs redis.url or redis.existingSecret" -}}
{{- end -}}
{{- if and .Values.postgres.enabled (not .Values.postgres.existingSecret) (not .Values.postgres.url) -}}
{{- fail "postgres.enabled needs postgres.url or postgres.existingSecret" -}}
{{- end -}}
{{- end -}}

{{/*
config.yaml: the user's config plus the keys the chart owns. URLs stay $NAME references that the
gateway expands from the environment, so no password lands in the ConfigMap.
*/}}
{{- define "agentgateway-py.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $proc := default (dict) $cfg.config -}}
{{- if hasKey $proc "connectionTerminationDeadline" -}}
{{- fail "set drain.deadlineSeconds instead of config.config.connectionTerminationDeadline: the chart derives terminationGracePeriodSeconds from it" -}}
{{- end -}}
{{- $_ := set $proc "connectionTerminationDeadline" (printf "%ds" (int .Values.drain.deadlineSeconds)) -}}
{{- if .Values.redis.enabled -}}
{{- if hasKey $proc "stateBackend" -}}
{{- fail "redis.enabled writes config.config.stateBackend: remove it from config (use the redis.* values)" -}}
{{- end -}}
{{- $backend := dict "type" "redis" "url" "$REDIS_URL" -}}
{{- range $key := list "keyPrefix" "timeout" "rateLimitFailureMode" "budgetFailureMode" "reservationTtl" -}}
{{- with index $.Values.redis $key -}}
{{- $_ := set $backend $key . -}}
{{- end -}}
{{- end -}}
{{- $_ := set $proc "stateBackend" $backend -}}
{{- end -}}
{{- if .Values.postgres.enabled -}}
{{- $ledger := default (dict) $proc.ledger -}}
{{- if or (hasKey $ledger "path") (hasKey $ledger "url") -}}
{{- fail "postgres.enabled writes config.config.ledger.url: remove ledger.path / ledger.url from config" -}}
{{- end -}}
{{- $_ := set $ledger "url" "$LEDGER_DATABASE_URL" -}}
{{- with .Values.postgres.flushInterval -}}
{{- $_ := set $ledger "flushInterval" . -}}
{{- end -}}
{{- $_ := set $proc "ledger" $ledger -}}
{{- end -}}
{{- $_ := set $cfg "config" $proc -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The container's environment: what config.yaml expands, and where the probes and metrics listen. */}}
{{- define "agentgateway-py.env" -}}
- name: GATEWAY_PORT
  value: {{ .Values.gatewayPort | quote }}
- name: READINESS_ADDR
  value: "0.0.0.0:15021"
- name: STATS_ADDR
  value: "0.0.0.0:15020"
{{- range $name, $_ := .Values.providerKeys }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "agentgateway-py.providerSecretName" $ }}
      key: {{ $name }}
{{- end }}
{{- if .Values.redis.enabled }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "agentgateway-py.fullname" . }}
      key: REDIS_URL
      {{- end }}
{{- end }}
{{- if .Values.postgres.enabled }}
- name: LEDGER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.postgres.existingSecret }}
      name: {{ .Values.postgres.existingSecret }}
      key: {{ .Values.postgres.existingSecretKey }}
      {{- else }}
      name: {{ include "agentgateway-py.fullname" . }}
      key: LEDGER_DATABASE_URL
      {{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}
