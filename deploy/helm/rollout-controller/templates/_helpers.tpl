{{/*
Names and labels. They match what `rollout install --name <fullname>` writes (objects.py),
so the Deployment's selector, which Kubernetes never lets change, is the same whichever way
the controller was installed: app.kubernetes.io/instance is the full name, not the release
name, as --name is in `rollout install`.
*/}}

{{- define "rollout-controller.name" -}}
{{- default .Chart.Name .Values.nameOverride -}}
{{- end -}}

{{/*
<release>-<name>, or the release name when it contains the name already; fullnameOverride wins.
Never truncated (a shortened name would no longer match `rollout install`): too long a name
fails here instead, at 55 characters, since "<fullname>-metrics" must be a 63-character
Service name and the label app.kubernetes.io/instance a 63-character label value.
*/}}
{{- define "rollout-controller.fullname" -}}
{{- $name := include "rollout-controller.name" . -}}
{{- $full := "" -}}
{{- if .Values.fullnameOverride -}}
{{- $full = .Values.fullnameOverride -}}
{{- else if contains $name .Release.Name -}}
{{- $full = .Release.Name -}}
{{- else -}}
{{- $full = printf "%s-%s" .Release.Name $name -}}
{{- end -}}
{{- if gt (len $full) 55 -}}
{{- fail (printf "the full name %q is longer than 55 characters: set fullnameOverride" $full) -}}
{{- end -}}
{{- $full -}}
{{- end -}}

{{- define "rollout-controller.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rollout-controller.name" . }}
app.kubernetes.io/instance: {{ include "rollout-controller.fullname" . }}
{{- end -}}

{{- define "rollout-controller.labels" -}}
{{ include "rollout-controller.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "rollout-controller.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The grants of rollout/manifests/rbac.py (files/rbac.yaml, generated): CORE, then each router
of .Values.routers in its order, as objects.py's grants() does. Unknown names fail, with the
same words as `rollout install --routers`. Returns YAML {grants: [...]} (include can only
return text).
*/}}
{{- define "rollout-controller.grants" -}}
{{- $table := .Files.Get "files/rbac.yaml" | fromYaml -}}
{{- if or (not $table) (hasKey $table "Error") -}}
{{- fail "files/rbac.yaml is missing or not YAML: regenerate it with `make deploy`" -}}
{{- end -}}
{{- $chosen := $table.core -}}
{{- range .Values.routers -}}
{{- if not (hasKey $table.routers .) -}}
{{- fail (printf "unknown router %q (known: %s)" . (keys $table.routers | sortAlpha | join ", ")) -}}
{{- end -}}
{{- $chosen = concat $chosen (get $table.routers .) -}}
{{- end -}}
{{- toYaml (dict "grants" $chosen) -}}
{{- end -}}

{{/* PolicyRules from a list of grants: only the three rule fields (clusterScoped and why stay out). */}}
{{- define "rollout-controller.rules" -}}
{{- $rules := list -}}
{{- range . -}}
{{- $rules = append $rules (dict "apiGroups" .apiGroups "resources" .resources "verbs" .verbs) -}}
{{- end -}}
{{- toYaml $rules -}}
{{- end -}}

{{- define "rollout-controller.subjects" -}}
- kind: ServiceAccount
  name: {{ include "rollout-controller.fullname" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
