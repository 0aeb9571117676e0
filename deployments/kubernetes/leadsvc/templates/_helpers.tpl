{{/* The release's name, with the chart's unless it already holds it. */}}
{{- define "leadsvc.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select this release's pods; never change them, a Deployment's selector is immutable. */}}
{{- define "leadsvc.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "leadsvc.labels" -}}
{{ include "leadsvc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "leadsvc.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The chart's own Secret: made only for what no existing Secret holds. */}}
{{- define "leadsvc.secretName" -}}
{{ include "leadsvc.fullname" . }}
{{- end -}}

{{- define "leadsvc.ownSecret" -}}
{{- if or (not .Values.secretKey.existingSecret) (not .Values.database.existingSecret) }}true{{ end -}}
{{- end -}}

{{/* A variable from an existing Secret's key, else from the chart's Secret under the variable's name. Call with (list $ "NAME" .Values.x) where x has existingSecret and key. */}}
{{- define "leadsvc.secretEnv" -}}
{{- $root := index . 0 -}}{{- $name := index . 1 -}}{{- $from := index . 2 -}}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      {{- if $from.existingSecret }}
      name: {{ $from.existingSecret }}
      key: {{ $from.key }}
      {{- else }}
      name: {{ include "leadsvc.secretName" $root }}
      key: {{ $name }}
      {{- end }}
{{- end -}}

{{/* Non-root, read-only, no privilege: the pod and container settings of every leadsvc pod. The image's user is distroless's nonroot (65532). */}}
{{- define "leadsvc.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "leadsvc.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
{{- end -}}
