{{/*
Object names are fixed, as in deploy/: the Service must be `meridian` (its DNS name is on the
serving certificate of port 15012), so one release per namespace.
*/}}

{{/* Labels on every object: deploy/'s part-of label, and Helm's own. */}}
{{- define "meridian.labels" -}}
app.kubernetes.io/part-of: meridian
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/*
What selects Meridian's pods. The same as deploy/'s, so a Deployment applied with kustomize
can be taken over by the chart (a Deployment's selector cannot change).
*/}}
{{- define "meridian.selectorLabels" -}}
app.kubernetes.io/name: meridian
{{- end }}

{{- define "meridian.primary" -}}
{{- if eq .Values.mode "primary" }}true{{ end }}
{{- end }}
