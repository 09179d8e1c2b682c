{{- define "longhorn.image" -}}
{{ .repository }}:{{ .tag }}
{{- end -}}
