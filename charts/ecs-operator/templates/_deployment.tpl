{{/*
The operator's Deployment: the main one (shard "") or one shard's. Called with a dict: root (the
chart's context) and shard (a name from sharding.shards, or ""). A shard's Deployment, pods and
selector carry ecs.operator.dev/shard=<name>, and the process gets ECS_OPERATOR_SHARD; beside shards
the main one gets ECS_OPERATOR_EXCLUDE_SHARDED (docs/operations.md, "Shards").
*/}}
{{- define "ecs-operator.deployment" -}}
{{- $root := .root }}
{{- $shard := .shard }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ecs-operator.fullname" $root }}{{ with $shard }}-shard-{{ . }}{{ end }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "ecs-operator.labels" $root | nindent 4 }}
    {{- with $shard }}
    ecs.operator.dev/shard: {{ . | quote }}
    {{- end }}
spec:
  replicas: {{ ternary $root.Values.sharding.replicas $root.Values.replicas (ne $shard "") | int }}
  {{- if not $root.Values.leaderElection.enabled }}
  # Without a Lease, old and new pods must never run together.
  strategy:
    type: Recreate
  {{- end }}
  selector:
    matchLabels:
      {{- include "ecs-operator.selectorLabels" $root | nindent 6 }}
      {{- with $shard }}
      ecs.operator.dev/shard: {{ . | quote }}
      {{- end }}
  template:
    metadata:
      labels:
        {{- include "ecs-operator.selectorLabels" $root | nindent 8 }}
        {{- with $shard }}
        ecs.operator.dev/shard: {{ . | quote }}
        {{- end }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "ecs-operator.serviceAccountName" $root }}
      automountServiceAccountToken: true
      {{- with $root.Values.image.pullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ int $root.Values.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: operator
          image: {{ include "ecs-operator.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args: [run]
          # Settings go through the environment (ECS_OPERATOR_*), the same names the flags read.
          env:
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            {{- with $root.Values.aws.region }}
            - name: ECS_OPERATOR_REGION
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.aws.endpointUrl }}
            - name: AWS_ENDPOINT_URL
              value: {{ . | quote }}
            {{- end }}
            - name: ECS_OPERATOR_AWS_MAX_ATTEMPTS
              value: {{ int $root.Values.aws.maxAttempts | quote }}
            - name: ECS_OPERATOR_AWS_PACING
              value: {{ $root.Values.aws.pacing | quote }}
            {{- with $root.Values.aws.rateLimits }}
            {{- $limits := list }}
            {{- range $category, $limit := . }}
            {{- $limits = append $limits (printf "%s=%s" $category $limit) }}
            {{- end }}
            - name: ECS_OPERATOR_AWS_RATE_LIMITS
              value: {{ join "," $limits | quote }}
            {{- end }}
            {{- with $root.Values.watchNamespace }}
            - name: ECS_OPERATOR_WATCH_NAMESPACE
              value: {{ . | quote }}
            {{- end }}
            - name: ECS_OPERATOR_RESYNC_SECONDS
              value: {{ int $root.Values.resyncSeconds | quote }}
            - name: ECS_OPERATOR_CONCURRENCY
              value: {{ int $root.Values.concurrency | quote }}
            - name: ECS_OPERATOR_DEFAULT_DELETION_POLICY
              value: {{ $root.Values.deletionPolicy | quote }}
            - name: ECS_OPERATOR_LOG_LEVEL
              value: {{ $root.Values.logLevel | quote }}
            - name: ECS_OPERATOR_LOG_FORMAT
              value: {{ $root.Values.logFormat | quote }}
            {{- with $root.Values.instanceId }}
            - name: ECS_OPERATOR_INSTANCE_ID
              value: {{ . | quote }}
            {{- end }}
            {{- with $root.Values.roleAllowList }}
            {{- $rules := list }}
            {{- range . }}
            {{- $rules = append $rules (printf "%s=%s" .namespaces .roles) }}
            {{- end }}
            - name: ECS_OPERATOR_ROLE_ALLOW
              value: {{ join "," $rules | quote }}
            {{- end }}
            {{- if $shard }}
            # This shard's objects only, and its own Lease (<lease>-<shard>).
            - name: ECS_OPERATOR_SHARD
              value: {{ $shard | quote }}
            {{- else if $root.Values.sharding.shards }}
            # The objects no shard claims: those without the ecs.operator.dev/shard label.
            - name: ECS_OPERATOR_EXCLUDE_SHARDED
              value: "true"
            {{- end }}
            - name: ECS_OPERATOR_METRICS_BIND_ADDRESS
              value: {{ printf "0.0.0.0:%d" (int $root.Values.metrics.port) | quote }}
            - name: ECS_OPERATOR_LEADER_ELECTION
              value: {{ $root.Values.leaderElection.enabled | quote }}
            {{- if $root.Values.leaderElection.enabled }}
            - name: ECS_OPERATOR_LEADER_ELECTION_NAMESPACE
              value: {{ $root.Release.Namespace | quote }}
            - name: ECS_OPERATOR_LEADER_ELECTION_LEASE_NAME
              value: {{ include "ecs-operator.leaseName" $root | quote }}
            - name: ECS_OPERATOR_LEADER_ELECTION_LEASE_SECONDS
              value: {{ int $root.Values.leaderElection.leaseSeconds | quote }}
            {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: {{ int $root.Values.metrics.port }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: metrics
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet:
              path: /readyz
              port: metrics
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml $root.Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
