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

{{- define "aios.gatewayName" -}}
{{- printf "%s-gateway" (include "aios.fullname" .) -}}
{{- end -}}

{{- define "aios.gatewaySelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "aios.gatewayLabels" -}}
{{ include "aios.gatewaySelectorLabels" . }}
app.kubernetes.io/part-of: aios
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
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

{{/*
An image reference: [registry/]repository:tag, the tag defaulting to the chart's
appVersion and the registry to imageRegistry, then global.imageRegistry.
Call as: include "aios.image" (list . .Values.image)
*/}}
{{- define "aios.image" -}}
{{- $root := index . 0 -}}
{{- $img := index . 1 -}}
{{- $reg := $root.Values.imageRegistry | default (($root.Values.global | default dict).imageRegistry | default "") -}}
{{- $ref := printf "%s:%s" $img.repository ($img.tag | default $root.Chart.AppVersion) -}}
{{- if $reg -}}{{- printf "%s/%s" (trimSuffix "/" $reg) $ref -}}{{- else -}}{{- $ref -}}{{- end -}}
{{- end -}}
