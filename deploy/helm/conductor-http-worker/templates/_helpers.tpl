{{/*
Names and labels.
*/}}
{{- define "chw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's object names: the release name alone when it already contains the chart's name. */}}
{{- define "chw.fullname" -}}
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

{{- define "chw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "chw.labels" -}}
{{ include "chw.selectorLabels" . }}
app.kubernetes.io/component: worker
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "chw.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Secret holding the Orkes key, or "" when there is none. */}}
{{- define "chw.authSecretName" -}}
{{- if .Values.auth.existingSecret }}
{{- .Values.auth.existingSecret }}
{{- else if .Values.auth.keyId }}
{{- printf "%s-auth" (include "chw.fullname" .) }}
{{- end }}
{{- end }}

{{/* A number from values (a float64 to Helm) as text, whole numbers without exponent or decimals. */}}
{{- define "chw.number" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- end }}

{{/* Where a target profile's Secret is mounted. */}}
{{- define "chw.targetDir" -}}
{{- printf "/run/secrets/%s" . }}
{{- end }}

{{/* The Secret of a target profile: (dict "root" $ "name" profileName "profile" profileValues) -> name or "". */}}
{{- define "chw.targetSecretName" -}}
{{- $secret := .profile.secret | default dict }}
{{- if $secret.name }}
{{- $secret.name }}
{{- else if $secret.data }}
{{- printf "%s-target-%s" (include "chw.fullname" .root) .name }}
{{- end }}
{{- end }}

{{/*
TOML rendering. Helm reads every number in values as a float64, so whole numbers are written as TOML integers (the
worker wants integers for counts, milliseconds and bytes, and takes integers for its few float settings too).
Context of the value renderer: (dict "v" value "key" itsKey "where" valuesPathOfItsTable "ctx" state), where the
state (shared, so that the caller sees what was appended) carries
  owner: the values path of the profile (for messages)
  base:  the directory relative file references resolve to ("" = none allowed)
  files: list of the relative references seen, envs: list of the environment variables named.
*/}}
{{- define "chw.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{- define "chw.toml.value" -}}
{{- $v := .v }}{{ $ctx := .ctx }}{{ $key := toString .key }}{{ $where := .where }}
{{- if kindIs "string" $v }}
{{- if and (or (eq $key "file") (hasSuffix "_file" $key)) $v (not (hasPrefix "/" $v)) }}
{{- if eq $ctx.owner "config" }}
{{- fail (printf "config.%s.%s = %q: give an absolute path (mount the file with extraVolumes and extraVolumeMounts)" $where $key $v) }}
{{- else if not $ctx.base }}
{{- fail (printf "%s.%s = %q is a relative file reference, which names a key of the profile's Secret: set %s.secret (name or data), or give an absolute path" $where $key $v $ctx.owner) }}
{{- end }}
{{- if or (contains "/" $v) (eq $v "..") (eq $v ".") }}
{{- fail (printf "%s.%s = %q: a relative file reference is a key of the Secret, without \"/\"" $where $key $v) }}
{{- end }}
{{- $_ := set $ctx "files" (append $ctx.files $v) }}
{{- toJson (printf "%s/%s" $ctx.base $v) }}
{{- else }}
{{- if and (or (eq $key "env") (hasSuffix "_env" $key)) $v }}
{{- $_ := set $ctx "envs" (append $ctx.envs $v) }}
{{- end }}
{{- toJson $v }}
{{- end }}
{{- else if kindIs "bool" $v }}{{ $v }}
{{- else if or (kindIs "int" $v) (kindIs "int64" $v) }}{{ $v }}
{{- else if kindIs "float64" $v }}{{ include "chw.number" $v }}
{{- else if kindIs "slice" $v }}[
{{- range $i, $e := $v }}{{ if $i }}, {{ end }}{{ include "chw.toml.value" (dict "v" $e "key" $key "where" $where "ctx" $ctx) }}{{ end -}}
]
{{- else if kindIs "map" $v }}{
{{- range $i, $k := keys $v | sortAlpha }}{{ if $i }},{{ end }} {{ include "chw.toml.key" $k }} = {{ include "chw.toml.value" (dict "v" (get $v $k) "key" $k "where" (printf "%s.%s" $where $key) "ctx" $ctx) }}{{ end }} }
{{- else }}
{{- fail (printf "%s.%s: cannot write %v (%s) as TOML" $where $key $v (kindOf $v)) }}
{{- end }}
{{- end }}

{{/* A table: (dict "path" listOfKeys "table" map "ctx" state). Tables up to two levels deep get a [header]
([limits.hosts], [task_types.X], [targets.X]); deeper ones are written inline. */}}
{{- define "chw.toml.table" -}}
{{- $path := .path }}{{ $t := .table }}{{ $ctx := .ctx }}
{{- $subtables := list }}
{{- range $k := keys $t | sortAlpha }}
{{- $v := get $t $k }}
{{- if and (kindIs "map" $v) (lt (len $path) 2) }}
{{- $subtables = append $subtables $k }}
{{- else if not (kindIs "invalid" $v) }}
{{ include "chw.toml.key" $k }} = {{ include "chw.toml.value" (dict "v" $v "key" $k "where" (join "." $path) "ctx" $ctx) }}
{{- end }}
{{- end }}
{{- range $k := $subtables }}
{{- $sub := append $path $k }}
{{- $header := list }}
{{- range $sub }}{{ $header = append $header (include "chw.toml.key" .) }}{{ end }}

[{{ join "." $header }}]
{{- include "chw.toml.table" (dict "path" $sub "table" (get $t $k) "ctx" $ctx) }}
{{- end }}
{{- end }}

{{/* worker.toml: config (sections in config/worker.toml's order, then any others), admin.addr, the profiles. */}}
{{- define "chw.workerToml" -}}
{{- $config := deepCopy .Values.config }}
{{- if hasKey $config "targets" }}
{{- fail "config.targets: declare credential profiles under targets (the chart mounts their Secrets)" }}
{{- end }}
{{- $server := $config.server | default dict }}
{{- range $k := list "url" "auth_key" "auth_secret" }}
{{- if hasKey $server $k }}
{{- fail (printf "config.server.%s: set it with %s, not in the ConfigMap" $k (ternary "server.url" "auth (an existing Secret or auth.keyId/keySecret)" (eq $k "url"))) }}
{{- end }}
{{- end }}
{{- $admin := $config.admin | default dict }}
{{- if and (hasKey $admin "addr") (ne (toString $admin.addr) "0.0.0.0:9191") }}
{{- fail "config.admin.addr: the chart serves the admin endpoints on 0.0.0.0:9191 (probes, Service and ServiceMonitor use it); leave it unset" }}
{{- end }}
{{- $_ := set $admin "addr" "0.0.0.0:9191" }}
{{- $_ := set $config "admin" $admin }}
{{- $ctx := dict "owner" "config" "base" "" "files" list "envs" list }}
{{- $order := list "server" "admin" "log" "limits" "http" "polling" "conditions" "updates" "security" "shutdown" "defaults" "task_types" }}
{{- $rest := list }}
{{- range $k := keys $config | sortAlpha }}{{ if not (has $k $order) }}{{ $rest = append $rest $k }}{{ end }}{{ end }}
{{- $top := dict }}
{{- range $k := keys $config }}{{ if not (kindIs "map" (get $config $k)) }}{{ $_ := set $top $k (get $config $k) }}{{ end }}{{ end }}
{{- if $top }}
{{- fail (printf "config: %s must be sections (tables), e.g. config.limits.max_concurrent_tasks" (keys $top | sortAlpha | join ", ")) }}
{{- end }}
{{- range $k := concat $order $rest }}
{{- if hasKey $config $k }}
{{- $table := get $config $k }}
{{- $onlyTables := true }}
{{- range $table }}{{ if not (kindIs "map" .) }}{{ $onlyTables = false }}{{ end }}{{ end }}
{{- if or (not $table) (not $onlyTables) }}

[{{ include "chw.toml.key" $k }}]
{{- end }}
{{- include "chw.toml.table" (dict "path" (list $k) "table" $table "ctx" $ctx) }}
{{- end }}
{{- end }}
{{- include "chw.targetsToml" . }}
{{- end }}

{{/* The [targets.<name>] tables, with relative file references resolved under /run/secrets/<name>/. */}}
{{- define "chw.targetsToml" -}}
{{- range $name := keys .Values.targets | sortAlpha }}
{{- $profile := omit (get $.Values.targets $name) "secret" }}
{{- $ctx := include "chw.targetCtx" (dict "root" $ "name" $name) | fromJson }}

[targets.{{ include "chw.toml.key" $name }}]
{{- include "chw.toml.table" (dict "path" (list "targets" $name) "table" $profile "ctx" $ctx) }}
{{- end }}
{{- end }}

{{- define "chw.targetCtx" -}}
{{- $profile := get .root.Values.targets .name }}
{{- $base := "" }}
{{- if include "chw.targetSecretName" (dict "root" .root "name" .name "profile" $profile) }}
{{- $base = include "chw.targetDir" .name }}
{{- end }}
{{- dict "owner" (printf "targets.%s" .name) "base" $base "files" list "envs" list | toJson }}
{{- end }}

{{/*
Checks across values, run by every template that depends on them (Helm stops at the first fail). Returns "".
*/}}
{{- define "chw.validate" -}}
{{- $v := .Values }}
{{- if and $v.autoscaling.keda.enabled $v.autoscaling.hpa.enabled }}
{{- fail "autoscaling.keda.enabled and autoscaling.hpa.enabled: enable at most one (KEDA creates and owns an HPA of its own)" }}
{{- end }}
{{- if and $v.auth.existingSecret (or $v.auth.keyId $v.auth.keySecret) }}
{{- fail "auth: set either existingSecret or keyId/keySecret, not both" }}
{{- end }}
{{- if ne (not $v.auth.keyId) (not $v.auth.keySecret) }}
{{- fail "auth: set both keyId and keySecret, or neither (one alone is a configuration error of the worker)" }}
{{- end }}
{{- $grace := 30 }}
{{- with $v.config.shutdown }}{{ if hasKey . "grace_secs" }}{{ $grace = int64 .grace_secs }}{{ end }}{{ end }}
{{- range $v.extraEnv }}
{{- if and (eq .name "CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS") .value }}{{ $grace = atoi .value }}{{ end }}
{{- end }}
{{- if lt (int64 $v.terminationGracePeriodSeconds) (add $grace 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be at least the worker's shutdown grace (%d s, config.shutdown.grace_secs) + 5: the kubelet would SIGKILL it mid-drain" (int64 $v.terminationGracePeriodSeconds) $grace) }}
{{- end }}
{{- $envNames := list }}
{{- range $v.extraEnv }}{{ $envNames = append $envNames .name }}{{ end }}
{{- $mounts := list }}
{{- range $name, $profile := $v.targets }}
{{- $secret := $profile.secret | default dict }}
{{- if and $secret.name $secret.data }}
{{- fail (printf "targets.%s.secret: set name (an existing Secret) or data (the chart creates one), not both" $name) }}
{{- end }}
{{- if and $profile.basic $profile.oauth2 }}
{{- fail (printf "targets.%s: basic and oauth2 both set Authorization; use one (the worker refuses both)" $name) }}
{{- end }}
{{- $ctx := include "chw.targetCtx" (dict "root" $ "name" $name) | fromJson }}
{{- $_ := include "chw.toml.table" (dict "path" (list "targets" $name) "table" (omit $profile "secret") "ctx" $ctx) }}
{{- range $ctx.envs }}
{{- if not (has . $envNames) }}
{{- fail (printf "targets.%s reads the environment variable %s: define it in extraEnv (e.g. valueFrom.secretKeyRef)" $name .) }}
{{- end }}
{{- end }}
{{- if $secret.data }}
{{- range $ctx.files }}
{{- if not (hasKey $secret.data .) }}
{{- fail (printf "targets.%s refers to the file %q, which targets.%s.secret.data does not define" $name . $name) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
