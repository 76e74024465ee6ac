{{- define "verity.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "verity.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "verity.selectorLabels" -}}
app.kubernetes.io/name: {{ include "verity.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "verity.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "verity.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "verity.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "verity.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "verity.secretName" -}}
{{- default (include "verity.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "verity.headlessName" -}}
{{- printf "%s-peers" (include "verity.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
