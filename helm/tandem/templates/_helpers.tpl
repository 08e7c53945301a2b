{{/*
Expand the name of the chart.
*/}}
{{- define "tandem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "tandem.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "tandem.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "tandem.labels" -}}
helm.sh/chart: {{ include "tandem.chart" . }}
{{ include "tandem.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tandem
{{- end }}

{{/*
Selector labels
*/}}
{{- define "tandem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tandem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "tandem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tandem.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image, tag defaulting to the chart's appVersion.
*/}}
{{- define "tandem.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Replicas: always 1 on SQLite (one process owns the file); on PostgreSQL
replicaCount, 2 when unset.
*/}}
{{- define "tandem.replicas" -}}
{{- if eq .Values.mode "sqlite" }}1{{ else }}{{ .Values.replicaCount | default 2 }}{{ end }}
{{- end }}

{{/*
Where the pod keeps what it writes (the root filesystem is read-only).
*/}}
{{- define "tandem.dataDir" -}}/var/lib/tandem/data{{- end }}
{{- define "tandem.journalDir" -}}/var/lib/tandem/journal{{- end }}
{{- define "tandem.keysDir" -}}/etc/tandem/keys{{- end }}

{{/*
The database URL: a file on the data volume for SQLite, a Secret's key for
PostgreSQL (it carries a password, so it is never a value in the chart).
*/}}
{{/*
The schema owner's URL (README: Roles), for whatever migrates: the Job, or
the pods when there is no Job. Nothing when no owner Secret is named.
*/}}
{{- define "tandem.ownerEnv" -}}
{{- if and (eq .Values.mode "postgresql") .Values.postgresql.ownerSecret }}
- name: TANDEM_DATABASE_OWNER_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.ownerSecret | quote }}
      key: {{ .Values.postgresql.ownerSecretKey | quote }}
{{- end }}
{{- end }}

{{- define "tandem.databaseEnv" -}}
- name: TANDEM_DATABASE_URL
{{- if eq .Values.mode "sqlite" }}
  value: {{ printf "sqlite://%s/tandem.db?mode=rwc" (include "tandem.dataDir" .) | quote }}
{{- else }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.existingSecret | quote }}
      key: {{ .Values.postgresql.existingSecretKey | quote }}
{{- end }}
- name: TANDEM_DATABASE_MAX_CONNECTIONS
  value: {{ .Values.database.maxConnections | quote }}
- name: TANDEM_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- with .Values.logFilter }}
- name: TANDEM_LOG_FILTER
  value: {{ . | quote }}
{{- end }}
{{- end }}

{{/*
The pod-level settings every Tandem pod (the service and the migration Job)
shares: no service account token (Tandem never calls the Kubernetes API), and
no service links, which would put TANDEM_SERVICE_HOST and the like into the
environment, and Tandem refuses TANDEM_* variables it does not know.
*/}}
{{- define "tandem.podBasics" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
