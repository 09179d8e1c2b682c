package manifests

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"text/template"
)

// Names of the templates. An overrides file system passed to Load replaces
// a default by holding a file of the same name at its root.
const (
	ConfigTemplate     = "config.yaml.tmpl"
	RegistriesTemplate = "registries.yaml.tmpl"
	UnitTemplate       = "k3s.service.tmpl"
	EnvTemplate        = "service.env.tmpl"
	OpenRCTemplate     = "openrc.tmpl"
	KillallTemplate    = "k3s-killall.sh.tmpl"
	UninstallTemplate  = "uninstall.sh.tmpl"
)

// TemplateNames lists every template Load knows, in a fixed order.
func TemplateNames() []string {
	return []string{ConfigTemplate, RegistriesTemplate, UnitTemplate, EnvTemplate, OpenRCTemplate, KillallTemplate, UninstallTemplate}
}

//go:embed templates/*.tmpl
var defaultTemplates embed.FS

// Templates holds the parsed templates of every generated host file. It is
// safe for concurrent use once loaded.
type Templates struct {
	byName map[string]*template.Template
}

// Load parses the embedded default templates. Files in overrides whose names
// match a template name (see TemplateNames) replace the defaults; any other
// file at the root of overrides is an error, so that a misspelt override is
// not silently ignored. A nil overrides means defaults only.
func Load(overrides fs.FS) (*Templates, error) {
	t := &Templates{byName: make(map[string]*template.Template)}
	names := TemplateNames()
	if overrides != nil {
		entries, err := fs.ReadDir(overrides, ".")
		if err != nil {
			return nil, fmt.Errorf("read template overrides: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() && !slices.Contains(names, e.Name()) {
				return nil, fmt.Errorf("template override %q is not a known template: rename it to one of %s", e.Name(), strings.Join(names, ", "))
			}
		}
	}
	for _, name := range names {
		text, err := fs.ReadFile(defaultTemplates, "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("read embedded template %s: %w", name, err)
		}
		source := "embedded"
		if overrides != nil {
			b, err := fs.ReadFile(overrides, name)
			switch {
			case err == nil:
				text, source = b, "override"
			case !errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("read template override %s: %w", name, err)
			}
		}
		tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("parse %s template %s: %w", source, name, err)
		}
		t.byName[name] = tmpl
	}
	return t, nil
}

// render executes the named template with data.
func (t *Templates) render(name string, data any) ([]byte, error) {
	tmpl, ok := t.byName[name]
	if !ok {
		return nil, fmt.Errorf("template %s is not loaded: create Templates with Load", name)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// view is what the templates see: the node plus derived names and paths.
type view struct {
	Node
	IsServer    bool
	Service     string // k3s or k3s-agent
	Command     string // server or agent
	DataDirPath string // Node.DataDir, defaulted
	UnitFile    string
	EnvFile     string
	OpenRCFile  string
	BinDir      string
	Killall     string
	Mirrors     []string     // mirror endpoint URLs, without credentials
	MirrorAuths []MirrorAuth // credentials the mirror URLs carried
	Files       []string     // files the uninstall script removes
}

func newView(n Node) (view, error) {
	v := view{
		Node:        n,
		IsServer:    n.Role == RoleServer,
		Service:     n.ServiceName(),
		Command:     string(n.Role),
		DataDirPath: n.dataDir(),
		UnitFile:    n.UnitPath(),
		EnvFile:     n.EnvPath(),
		OpenRCFile:  n.OpenRCPath(),
		BinDir:      BinDir,
		Killall:     KillallPath,
	}
	for _, m := range n.RegistryMirrors {
		u, auth, err := mirrorEndpoint(m)
		if err != nil {
			return view{}, err
		}
		v.Mirrors = append(v.Mirrors, u)
		if auth != nil {
			v.MirrorAuths = append(v.MirrorAuths, *auth)
		}
	}
	return v, nil
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	// json writes v as JSON, which is also valid YAML: safe quoting for
	// any string or list in config.yaml and registries.yaml.
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// shq quotes s for a POSIX shell.
	"shq": shellQuote,
	// envq quotes s for a file read both by systemd's EnvironmentFile= and
	// by a POSIX shell (double quotes, with " \ ` $ escaped).
	"envq": envQuote,
}

// shellQuote wraps s in single quotes for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// envQuote wraps s in double quotes, escaping the characters that both
// systemd's env-file parser and a POSIX shell treat specially there.
func envQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}
