{{/* Target labels both monitors add, which the alert rules (files/rules.yaml) name targets by:
     app (the pod's app.kubernetes.io/name) and component (its app.kubernetes.io/component, e.g.
     contacts-api, contacts-relay). */}}
{{- define "careerloop.monitoringRelabelings" -}}
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]
  targetLabel: app
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
  targetLabel: component
{{- end -}}

{{/* The labels of every monitoring resource: the chart's, and those the Prometheus resource selects by. */}}
{{- define "careerloop.monitoringLabels" -}}
{{ include "careerloop.labels" . }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end -}}
