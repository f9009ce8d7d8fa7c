{{/* The operator's name: toolyard-operator, or <release>-toolyard-operator for other release names. */}}
{{- define "toolyard.operatorName" -}}
{{- if eq .Release.Name "toolyard" -}}
toolyard-operator
{{- else -}}
{{- printf "%s-toolyard-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "toolyard.serviceAccountName" -}}
{{- default (include "toolyard.operatorName" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "toolyard.selectorLabels" -}}
app.kubernetes.io/name: toolyard-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "toolyard.labels" -}}
{{ include "toolyard.selectorLabels" . }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: toolyard
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The RBAC rules of the operator on the objects it watches and writes. */}}
{{- define "toolyard.rules" -}}
- apiGroups: ["toolyard.dev"]
  resources: ["gateways", "gatewaytargets", "toolpolicies"]
  verbs: ["get", "list", "watch"]
# Gateways: patch only to add and remove the auth-delegator finalizer (metadata.finalizers).
- apiGroups: ["toolyard.dev"]
  resources: ["gateways"]
  verbs: ["patch"]
- apiGroups: ["toolyard.dev"]
  resources: ["gateways/status", "gatewaytargets/status", "toolpolicies/status"]
  verbs: ["get", "patch", "update"]
# Children of each Gateway (server-side apply = patch; create for the first apply).
- apiGroups: [""]
  resources: ["configmaps", "services", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
# Secrets: read the ones targets reference, write the gateways' credentials Secrets.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
# Gateway pods and their ReplicaSets: which replicas of the current Deployment are ready, for
# the Programmed condition (every ready replica serves the current config), and pod faults.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# The gateways' Roles: the operator holds every permission it grants (configmaps get/list/watch/
# patch, secrets get/list/watch), so no escalate/bind verbs are needed.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "update"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
