{{/* The chart's name and labels. */}}
{{- define "careerloop.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{- define "careerloop.labels" -}}
app.kubernetes.io/name: {{ include "careerloop.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one process: (dict "root" $ "process" "contacts-api") */}}
{{- define "careerloop.selector" -}}
app.kubernetes.io/name: {{ include "careerloop.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .process }}
{{- end -}}

{{- define "careerloop.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .process | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The image, required: by digest when image.digest is set (what runs is exactly the image that was
     reviewed, whatever the tag points to later; the tag, if any, stays readable beside it), else by tag. */}}
{{- define "careerloop.image" -}}
{{- $repository := required "set image.repository: the image built from careerloop's Dockerfile" .Values.image.repository -}}
{{- $digest := .Values.image.digest | default "" -}}
{{- if and $digest (not (regexMatch "^sha256:[0-9a-f]{64}$" $digest)) -}}
{{- fail (printf "set image.digest to sha256:<64 hex digits>, not %q" $digest) -}}
{{- end -}}
{{- if $digest -}}
{{- printf "%s%s@%s" $repository (ternary (printf ":%s" .Values.image.tag) "" (not (empty .Values.image.tag))) $digest -}}
{{- else -}}
{{- $tag := required "set image.tag or image.digest: the careerloop image's tag (never 'latest' in production) or, better, its digest" .Values.image.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Every process's environment: plain settings, then each secret from the Secret the values name. */}}
{{- define "careerloop.env" -}}
{{- $secret := required "set secretName: the Kubernetes Secret holding CAREERLOOP_JWT_SECRET, CALENDAR_FEED_SECRET, WEBHOOK_SECRET_KEY, ANALYTICS_PSEUDONYM_KEY, ERASURE_MASTER_KEY, EVENT_STORE_URL, READ_STORE_URL and KEY_STORE_URL (the chart has no default secrets)" .Values.secretName -}}
- name: BUS_URL
  value: {{ printf "kafka://%s" (required "set kafka.bootstrapServers: the Strimzi cluster's bootstrap service, host:port" .Values.kafka.bootstrapServers) | quote }}
- name: TOPIC_PARTITIONS
  value: {{ .Values.kafka.topicPartitions | quote }}
- name: BUS_NAMESPACE
  value: {{ .Values.kafka.busNamespace | quote }}
- name: CAREERLOOP_JWKS_URL
  value: {{ .Values.oidc.jwksUrl | quote }}
- name: CAREERLOOP_JWT_ISSUER
  value: {{ .Values.oidc.issuer | quote }}
- name: CAREERLOOP_JWT_AUDIENCE
  value: {{ .Values.oidc.audience | quote }}
- name: METRICS_PORT
  value: {{ .Values.metricsPort | quote }}
- name: METRICS_HOST
  value: "0.0.0.0"
- name: HOST
  value: "0.0.0.0"
- name: HOME
  value: /tmp  # the root file system is read-only; gunicorn keeps its control socket under $HOME
- name: EXPORT_SOURCES
  value: {{ include "careerloop.exportSources" . | quote }}
{{- include "careerloop.tracingEnv" . }}
{{- range $name, $value := .Values.config }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- /* secrets as files of the `secrets` volume, never as values in the environment (<NAME>_FILE: README, Configuration) */}}
{{- range concat .Values.secretKeys.required .Values.secretKeys.optional }}
- name: {{ printf "%s_FILE" . }}
  value: {{ printf "/var/run/careerloop/secrets/%s" . | quote }}
{{- end }}
{{- end -}}

{{/* The Secret the values name, as read-only files: every required key (the pod does not start without
     one) and the optional keys it holds (an absent one is no file, which leaves its variable off). */}}
{{- define "careerloop.secretsVolume" -}}
- name: secrets
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ .Values.secretName | quote }}
          items:
            {{- range .Values.secretKeys.required }}
            - {key: {{ . | quote }}, path: {{ . | quote }}}
            {{- end }}
      {{- with .Values.secretKeys.optional }}
      - secret:
          name: {{ $.Values.secretName | quote }}
          optional: true
          items:
            {{- range . }}
            - {key: {{ . | quote }}, path: {{ . | quote }}}
            {{- end }}
      {{- end }}
{{- end -}}

{{/* The pod-level parts every process shares. */}}
{{- define "careerloop.podSpec" -}}
serviceAccountName: {{ .root.Release.Name }}-careerloop
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {sizeLimit: 64Mi}
  {{- include "careerloop.secretsVolume" .root | nindent 2 }}
  {{- include "careerloop.kafkaVolumes" . | nindent 2 }}
{{- end -}}

{{- define "careerloop.containerCommon" -}}
image: {{ include "careerloop.image" .root }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
env:
  {{- include "careerloop.env" .root | nindent 2 }}
  {{- include "careerloop.kafkaEnv" . | nindent 2 }}
  {{- if eq .process "web" }}
  {{- include "careerloop.webEnv" .root | nindent 2 }}
  {{- end }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
  - {name: secrets, mountPath: /var/run/careerloop/secrets, readOnly: true}
  {{- include "careerloop.kafkaMounts" . | nindent 2 }}
{{- end -}}


{{/* The process an entry of `apis` runs: `<service>-api`, and `web` for the web front end (the Procfile's names). */}}
{{- define "careerloop.apiProcess" -}}
{{- ternary "web" (printf "%s-api" .) (eq . "web") -}}
{{- end -}}

{{/* `name=http://<Service>:<port>` for every service API but those in `except`, comma-separated:
     (dict "root" $ "except" (list "privacy" "web")) */}}
{{- define "careerloop.apiUrls" -}}
{{- $root := .root -}}
{{- $urls := list -}}
{{- range $service, $api := $root.Values.apis -}}
{{- if not (has $service $.except) -}}
{{- $urls = append $urls (printf "%s=http://%s:%v" $service (include "careerloop.fullname" (dict "root" $root "process" (include "careerloop.apiProcess" $service))) $api.port) -}}
{{- end -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{/* Where the privacy API fetches each service's part of the data-subject export: every other API's Service
     (the web front end holds no data). */}}
{{- define "careerloop.exportSources" -}}
{{- include "careerloop.apiUrls" (dict "root" . "except" (list "privacy" "web")) -}}
{{- end -}}

{{/* The web front end's own settings (web.*): where students open it, the APIs it calls, its OIDC client. */}}
{{- define "careerloop.webEnv" -}}
{{- $public := .Values.web.publicUrl | default (ternary (printf "https://%s" .Values.ingress.domain) "" (and .Values.ingress.enabled (not (empty .Values.ingress.domain)))) -}}
- name: WEB_PUBLIC_URL
  value: {{ required "set web.publicUrl (or ingress.domain): the https address students open for the web front end" $public | quote }}
- name: WEB_API_URLS
  value: {{ include "careerloop.apiUrls" (dict "root" . "except" (list "web")) | quote }}
- name: OIDC_ISSUER
  value: {{ required "set oidc.issuer: the web front end signs users in at the university's identity provider" .Values.oidc.issuer | quote }}
- name: OIDC_CLIENT_ID
  value: {{ required "set web.oidcClientId: the web front end's client id at the identity provider" .Values.web.oidcClientId | quote }}
- name: OIDC_SCOPES
  value: {{ .Values.web.oidcScopes | quote }}
{{- end -}}

{{/* Strimzi: how the processes authenticate (strimzi.authentication), checked. */}}
{{- define "careerloop.kafkaAuthentication" -}}
{{- $type := .Values.strimzi.authentication -}}
{{- if not (has $type (list "scram-sha-512" "tls")) -}}
{{- fail (printf "set strimzi.authentication to scram-sha-512 or tls, not %q" $type) -}}
{{- end -}}
{{- $type -}}
{{- end -}}

{{/* "true" when the process has a KafkaUser (strimzi.enabled and it uses Kafka): (dict "root" $ "process" "contacts-relay") */}}
{{- define "careerloop.hasKafkaUser" -}}
{{- if .root.Values.strimzi.enabled -}}
{{- $access := .root.Files.Get "files/kafka-access.yaml" | fromYaml -}}
{{- if hasKey $access.users .process }}true{{ end -}}
{{- end -}}
{{- end -}}

{{/* The process's Kafka credentials as KAFKA_* variables (the adapter's TLS and SASL settings). */}}
{{- define "careerloop.kafkaEnv" -}}
{{- if include "careerloop.hasKafkaUser" . }}
- name: KAFKA_SSL_CAFILE
  value: /var/run/careerloop/kafka-ca/ca.crt
{{- if eq (include "careerloop.kafkaAuthentication" .root) "tls" }}
- name: KAFKA_SECURITY_PROTOCOL
  value: SSL
- name: KAFKA_SSL_CERTFILE
  value: /var/run/careerloop/kafka-user/user.crt
- name: KAFKA_SSL_KEYFILE
  value: /var/run/careerloop/kafka-user/user.key
{{- else }}
- name: KAFKA_SECURITY_PROTOCOL
  value: SASL_SSL
- name: KAFKA_SASL_MECHANISM
  value: SCRAM-SHA-512
- name: KAFKA_SASL_USERNAME
  value: {{ include "careerloop.fullname" . | quote }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /var/run/careerloop/kafka-user/password
{{- end }}
{{- end }}
{{- end -}}

{{/* The cluster CA and the user's credentials (with tls its certificate and key, with scram its
     password), read-only files from the Secrets Strimzi writes. */}}
{{- define "careerloop.kafkaVolumes" -}}
{{- if include "careerloop.hasKafkaUser" . }}
- name: kafka-ca
  secret:
    secretName: {{ .root.Values.strimzi.clusterCaSecret | default (printf "%s-cluster-ca-cert" .root.Values.strimzi.clusterName) | quote }}
    items: [{key: ca.crt, path: ca.crt}]
    defaultMode: 0440
- name: kafka-user
  secret:
    secretName: {{ include "careerloop.fullname" . | quote }}
    {{- if eq (include "careerloop.kafkaAuthentication" .root) "tls" }}
    items: [{key: user.crt, path: user.crt}, {key: user.key, path: user.key}]
    {{- else }}
    items: [{key: password, path: password}]
    {{- end }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "careerloop.kafkaMounts" -}}
{{- if include "careerloop.hasKafkaUser" . }}
- {name: kafka-ca, mountPath: /var/run/careerloop/kafka-ca, readOnly: true}
- {name: kafka-user, mountPath: /var/run/careerloop/kafka-user, readOnly: true}
{{- end }}
{{- end -}}


{{/* OpenTelemetry (tracing.*): the OTLP endpoint when set, and the sampler, checked. No OTEL_SERVICE_NAME:
     each process names itself. */}}
{{- define "careerloop.tracingEnv" -}}
{{- $ratio := .Values.tracing.samplerRatio | float64 -}}
{{- if or (lt $ratio 0.0) (gt $ratio 1.0) -}}
{{- fail (printf "set tracing.samplerRatio between 0 and 1, not %v" .Values.tracing.samplerRatio) -}}
{{- end -}}
{{- with .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .Values.tracing.samplerRatio | quote }}
{{- end -}}
