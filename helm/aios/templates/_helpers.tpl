{{/*
Names and labels shared by every template. Objects are named "<fullname>-operator"; with the
release named "aios" they are named exactly as operator/ names them (aios-operator, ...).
*/}}
{{- define "aios.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "aios.operatorName" -}}
{{- printf "%s-operator" (include "aios.fullname" .) -}}
{{- end -}}

{{- define "aios.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "aios.labels" -}}
{{ include "aios.selectorLabels" . }}
app.kubernetes.io/part-of: aios
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
