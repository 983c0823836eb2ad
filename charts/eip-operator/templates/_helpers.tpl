{{/* Chart name, truncated to 63 characters. */}}
{{- define "eip-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart>, or the release name when it already contains the chart name. */}}
{{- define "eip-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "eip-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "eip-operator.labels" -}}
helm.sh/chart: {{ include "eip-operator.chart" . }}
{{ include "eip-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: eip-operator
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels (immutable in a Deployment: never add to these). */}}
{{- define "eip-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eip-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "eip-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "eip-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "eip-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "eip-operator.leaseName" -}}
{{- default (include "eip-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* Namespaces where the operator may read credentials Secrets, one per line, unique, sorted. */}}
{{- define "eip-operator.secretNamespaces" -}}
{{- $namespaces := .Values.credentials.secretNamespaces | default (list .Release.Namespace) }}
{{- if .Values.defaultProviderConfig.enabled }}
{{- with .Values.defaultProviderConfig.credentialsSecretRef }}
{{- if .name }}
{{- $namespaces = append $namespaces (default $.Release.Namespace .namespace) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $namespaces | uniq | sortAlpha }}
{{ . }}
{{- end }}
{{- end }}
