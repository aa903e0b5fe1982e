{{/* Names, labels and the two generated rampart.yaml files. */}}

{{- define "rampart.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rampart.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "rampart.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "rampart.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rampart.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "rampart.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: rampart
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "server"). */}}
{{- define "rampart.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rampart.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rampart.secretName" -}}
{{- default (printf "%s-secrets" (include "rampart.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "rampart.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "rampart.serverUrl" -}}
{{- printf "http://%s-server.%s.svc:%d" (include "rampart.fullname" .) .Release.Namespace (int .Values.server.port) -}}
{{- end -}}

{{/* Where each Secret key is mounted: rampart.yaml reads them through ${file:…} references. */}}
{{- define "rampart.secretFile" -}}
{{- printf "/etc/rampart/secrets/%s" . -}}
{{- end -}}

{{/*
The server's rampart.yaml: the shared `config`, then `server.config`, then what the chart decides
(listeners, storage, hot state, ingest token, key locations), which always wins.
*/}}
{{- define "rampart.serverConfig" -}}
{{- $k := .Values.secrets.keys -}}
{{- $defaults := dict "secrets" (dict "root" (dict "provider" "env")) -}}
{{- $server := dict "host" "0.0.0.0" "port" (int .Values.server.port) -}}
{{- with .Values.server.publicUrl }}{{ $_ := set $server "publicUrl" . }}{{ end -}}
{{- $forced := dict
  "version" 1
  "environment" .Values.environment
  "server" $server
  "database" (dict "url" (printf "${file:%s}" (include "rampart.secretFile" $k.databaseUrl)) "dataDir" "/var/lib/rampart")
  "hotState" (dict "redisUrl" (printf "${file:%s}" (include "rampart.secretFile" $k.redisUrl)))
  "events" (dict "ingestTokens" (list (dict "name" "gateway" "token" (printf "${file:%s}" (include "rampart.secretFile" $k.ingestToken)))))
  "audit" (dict "keyFile" "/var/lib/rampart/keys/audit.json")
  "identity" (dict "tokens" (dict "secret" (printf "${file:%s}" (include "rampart.secretFile" $k.identitySecret))))
-}}
{{- $cfg := mustMergeOverwrite (dict) $defaults (deepCopy .Values.config) (deepCopy .Values.server.config) $forced -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
A gateway's rampart.yaml: the parts of `config` a gateway reads (environment, gateway, routes,
identity, rbac), then `gateway.config`, then the chart's listeners, control plane and hot state.
*/}}
{{- define "rampart.gatewayConfig" -}}
{{- $k := .Values.secrets.keys -}}
{{- $gw := dict
  "host" "0.0.0.0"
  "port" (int .Values.gateway.port)
  "metrics" (dict "host" "0.0.0.0" "port" (int .Values.gateway.metricsPort))
  "controlPlane" (dict
    "url" (include "rampart.serverUrl" .)
    "token" (printf "${file:%s}" (include "rampart.secretFile" $k.ingestToken))
    "spoolDir" "/var/lib/rampart/spool"
    "spoolMaxBytes" (int64 .Values.gateway.spool.maxBytes))
  "bots" (dict "cookieSecret" (printf "${file:%s}" (include "rampart.secretFile" $k.botCookieSecret)))
-}}
{{- $forced := dict
  "version" 1
  "environment" .Values.environment
  "gateway" $gw
  "hotState" (dict "redisUrl" (printf "${file:%s}" (include "rampart.secretFile" $k.redisUrl)))
  "identity" (dict "tokens" (dict "secret" (printf "${file:%s}" (include "rampart.secretFile" $k.identitySecret))))
-}}
{{- $shared := pick (deepCopy .Values.config) "gateway" "routes" "identity" "rbac" -}}
{{- $cfg := mustMergeOverwrite (dict) $shared (deepCopy .Values.gateway.config) $forced -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The pod-level security context both components share. */}}
{{- define "rampart.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ int .Values.securityContext.runAsUser }}
runAsGroup: {{ int .Values.securityContext.runAsGroup }}
fsGroup: {{ int .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rampart.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ int .Values.securityContext.runAsUser }}
runAsGroup: {{ int .Values.securityContext.runAsGroup }}
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
