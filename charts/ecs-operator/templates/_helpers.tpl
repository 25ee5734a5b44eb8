{{/* Chart name, overridable. */}}
{{- define "ecs-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release name, plus the chart name unless the release already holds it. */}}
{{- define "ecs-operator.fullname" -}}
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

{{/* Cluster-scoped objects carry the namespace too: the same release name may exist in two namespaces. */}}
{{- define "ecs-operator.clusterName" -}}
{{- printf "%s-%s" (include "ecs-operator.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "ecs-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ecs-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ecs-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ecs-operator.labels" -}}
helm.sh/chart: {{ include "ecs-operator.chart" . }}
{{ include "ecs-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "ecs-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ecs-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ecs-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "ecs-operator.leaseName" -}}
{{- default (printf "%s-leader" (include "ecs-operator.fullname" .)) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Rules for the watched scope (a ClusterRole for all namespaces, a Role for one): the kinds, their
status and finalizers, and events. Nothing else: no secrets, no pods, no RBAC.
*/}}
{{- define "ecs-operator.watchRules" -}}
- apiGroups: [ecs.operator.dev]
  resources: [ecrrepositories, taskdefinitions, ecsclusters, ecsservices, ecstasks, ecsschedules, ecrregistries, ecsexpressservices, ecsgateways]
  verbs: [get, list, watch, patch, update]
- apiGroups: [ecs.operator.dev]
  resources: [ecrrepositories/status, taskdefinitions/status, ecsclusters/status, ecsservices/status, ecstasks/status, ecsschedules/status, ecrregistries/status, ecsexpressservices/status, ecsgateways/status]
  verbs: [get, patch, update]
- apiGroups: [ecs.operator.dev]
  resources: [ecrrepositories/finalizers, taskdefinitions/finalizers, ecsclusters/finalizers, ecsservices/finalizers, ecstasks/finalizers, ecsschedules/finalizers, ecrregistries/finalizers, ecsexpressservices/finalizers, ecsgateways/finalizers]
  verbs: [update]
# ttlSecondsAfterFinished: a finished EcsTask is deleted, as a Job's TTL does.
- apiGroups: [ecs.operator.dev]
  resources: [ecstasks]
  verbs: [delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* Reading the CRDs lets startup say "CRD not installed" precisely; the operator tolerates a 403. */}}
{{- define "ecs-operator.crdReadRule" -}}
- apiGroups: [apiextensions.k8s.io]
  resources: [customresourcedefinitions]
  resourceNames: [ecrrepositories.ecs.operator.dev, taskdefinitions.ecs.operator.dev, ecsclusters.ecs.operator.dev, ecsservices.ecs.operator.dev, ecstasks.ecs.operator.dev, ecsschedules.ecs.operator.dev, ecrregistries.ecs.operator.dev, ecsexpressservices.ecs.operator.dev, ecsgateways.ecs.operator.dev]
  verbs: [get]
{{- end }}
