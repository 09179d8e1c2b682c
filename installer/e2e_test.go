package installer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
	"github.com/ferry-k3s/ferry/manifests"
)

// installInto installs the bundle at bundlePath into root with --no-start
// and the nfs chart's required value supplied; mut adjusts the options.
func installInto(t *testing.T, root, bundlePath string, mut func(*InstallOptions)) (*InstallResult, error) {
	t.Helper()
	_, verifier := keys(t)
	h, err := NewLocalHost(root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts := InstallOptions{RunOptions: RunOptions{Host: h}, Bundle: f, ReadOptions: []bundle.ReadOption{bundle.WithVerifier(verifier)}, Node: manifests.Node{Role: manifests.RoleServer}, SiteValues: SiteValues{"nfs": {"nfs": map[string]any{"server": "10.0.0.5"}}}, Arch: arch, Init: InitSystemd}
	if mut != nil {
		mut(&opts)
	}
	return Install(context.Background(), opts)
}

func files(snap map[string]string) []string {
	var out []string
	for k, v := range snap {
		if !strings.HasPrefix(v, "dir ") {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestInstallTree(t *testing.T) {
	tests := []struct {
		name  string
		node  manifests.Node
		files []string
	}{
		{
			name: "server",
			node: manifests.Node{Role: manifests.RoleServer},
			files: []string{
				"etc/ferry-extra.conf",
				"etc/rancher/k3s/config.yaml",
				"etc/systemd/system/k3s.service",
				"etc/systemd/system/k3s.service.env",
				"usr/local/bin/crictl",
				"usr/local/bin/ctr",
				"usr/local/bin/k3s",
				"usr/local/bin/k3s-killall.sh",
				"usr/local/bin/k3s-uninstall.sh",
				"usr/local/bin/kubectl",
				"var/lib/ferry/site-values.json",
				"var/lib/ferry/state.json",
				"var/lib/rancher/k3s/agent/images/.cache.json",
				"var/lib/rancher/k3s/agent/images/ferry-images-" + arch + ".tar",
				"var/lib/rancher/k3s/agent/images/k3s-airgap-images-" + arch + ".tar.zst",
				"var/lib/rancher/k3s/server/manifests/ferry-chart-nfs.yaml",
				"var/lib/rancher/k3s/server/manifests/ferry-traefik-config.yaml",
				"var/lib/rancher/k3s/server/static/charts/nfs-4.0.18.tgz",
			},
		},
		{
			name: "agent",
			node: manifests.Node{Role: manifests.RoleAgent, Server: "https://10.0.0.1:6443", Token: "sekrit", RegistryMirrors: []string{"registry.site:5000"}},
			files: []string{
				"etc/ferry-extra.conf",
				"etc/rancher/k3s/config.yaml",
				"etc/rancher/k3s/registries.yaml",
				"etc/systemd/system/k3s-agent.service",
				"etc/systemd/system/k3s-agent.service.env",
				"usr/local/bin/crictl",
				"usr/local/bin/ctr",
				"usr/local/bin/k3s",
				"usr/local/bin/k3s-agent-uninstall.sh",
				"usr/local/bin/k3s-killall.sh",
				"usr/local/bin/kubectl",
				"var/lib/ferry/state.json",
				"var/lib/rancher/k3s/agent/images/.cache.json",
				"var/lib/rancher/k3s/agent/images/ferry-images-" + arch + ".tar",
				"var/lib/rancher/k3s/agent/images/k3s-airgap-images-" + arch + ".tar.zst",
			},
		},
	}
	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			res, err := installInto(t, root, bp, func(o *InstallOptions) { o.Node = tt.node })
			if err != nil {
				t.Fatal(err)
			}
			snap := snapshot(t, root)
			if got := files(snap); strings.Join(got, "\n") != strings.Join(tt.files, "\n") {
				t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.files, "\n"))
			}
			mode := func(p string) os.FileMode {
				fi, err := os.Lstat(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				return fi.Mode()
			}
			read := func(p string) string {
				b, err := os.ReadFile(filepath.Join(root, p))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			svc := tt.node.ServiceName()
			for p, want := range map[string]os.FileMode{
				"usr/local/bin/k3s":                          0o755,
				"usr/local/bin/k3s-killall.sh":               0o755,
				"etc/systemd/system/" + svc + ".service.env": 0o600,
				"etc/rancher/k3s/config.yaml":                0o600,
				"etc/ferry-extra.conf":                       0o640,
				"var/lib/ferry/state.json":                   0o644,
			} {
				if got := mode(p); got != want {
					t.Errorf("%s: mode %v, want %v", p, got, want)
				}
			}
			if got := read("usr/local/bin/k3s"); got != "#!/bin/sh\necho k3s "+arch+"\n" {
				t.Errorf("k3s binary: %q", got)
			}
			if got := read("var/lib/rancher/k3s/agent/images/.cache.json"); got != "" {
				t.Errorf(".cache.json: %q, want empty", got)
			}
			for _, l := range []string{"kubectl", "crictl", "ctr"} {
				if target, err := os.Readlink(filepath.Join(root, "usr/local/bin", l)); err != nil || target != "k3s" {
					t.Errorf("%s: link %q, %v; want -> k3s", l, target, err)
				}
			}
			env := read("etc/systemd/system/" + svc + ".service.env")
			if !strings.Contains(env, res.Token) || res.Token == "" {
				t.Errorf("env file does not hold the token %q:\n%s", res.Token, env)
			}
			if strings.Contains(read("etc/rancher/k3s/config.yaml"), res.Token) {
				t.Error("config.yaml holds the token")
			}
			st := read("var/lib/ferry/state.json")
			if strings.Contains(st, res.Token) {
				t.Error("state.json holds the token")
			}
			if tt.node.Role == manifests.RoleServer {
				if !res.Generated || len(res.Token) != 64 {
					t.Errorf("token %q generated=%v, want 64 hex digits generated", res.Token, res.Generated)
				}
				hc := read("var/lib/rancher/k3s/server/manifests/ferry-chart-nfs.yaml")
				for _, want := range []string{"server: 10.0.0.5", "path: /export", "static/charts/nfs-4.0.18.tgz"} {
					if !strings.Contains(hc, want) {
						t.Errorf("HelmChart lacks %q:\n%s", want, hc)
					}
				}
			}
			h, _ := NewLocalHost(root)
			state, err := ReadState(context.Background(), h)
			if err != nil {
				t.Fatal(err)
			}
			if state.Bundle.Name != "factory-edge" || state.Role != tt.node.Role || len(state.Files) != res.Files {
				t.Errorf("state: %+v", state)
			}
		})
	}
}

func TestInstallRefusesBadInput(t *testing.T) {
	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server", "nfs.path2"}})
	tests := []struct {
		name string
		mut  func(*InstallOptions)
		want string
	}{
		{"missing required values", func(o *InstallOptions) { o.SiteValues = nil }, "nfs.server, nfs.path2"},
		{"join without token", func(o *InstallOptions) {
			o.Node.Server = "https://10.0.0.1:6443"
			o.SiteValues["nfs"]["nfs"].(map[string]any)["path2"] = "x"
		}, "token"},
		{"agent without server", func(o *InstallOptions) { o.Node = manifests.Node{Role: manifests.RoleAgent, Token: "t"} }, "--server"},
		{"server URL without port", func(o *InstallOptions) {
			o.Node = manifests.Node{Role: manifests.RoleAgent, Server: "https://10.0.0.1", Token: "t"}
		}, "https://HOST:PORT"},
		{"http server URL", func(o *InstallOptions) {
			o.Node = manifests.Node{Role: manifests.RoleAgent, Server: "http://10.0.0.1:6443", Token: "t"}
		}, "https://HOST:PORT"},
		{"values for an unknown chart", func(o *InstallOptions) { o.SiteValues["longhorn"] = map[string]any{"a": 1} }, "longhorn"},
		{"bad extra config", func(o *InstallOptions) {
			o.SiteValues["nfs"]["nfs"].(map[string]any)["path2"] = "x"
			o.Node.Extra = map[string]any{"no-such-flag": true}
		}, "no-such-flag"},
		{"other arch", func(o *InstallOptions) { o.Arch = "s390x" }, "s390x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			before := snapshot(t, root)
			_, err := installInto(t, root, bp, tt.mut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if d := diffSnapshots(before, snapshot(t, root)); d != "" {
				t.Fatalf("root changed:\n%s", d)
			}
		})
	}
}

func TestInstallTamperedBundleChangesNothing(t *testing.T) {
	bp := writeBundle(t, bundleOptions{tamper: "k3s/" + arch + "/k3s"})
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/rancher/k3s"), 0o755)
	before := snapshot(t, root)
	_, err := installInto(t, root, bp, nil)
	var de *bundle.DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrRolledBack) {
		t.Fatalf("error %v, want a rolled back *bundle.DigestError", err)
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("root changed:\n%s", d)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	bp := writeBundle(t, bundleOptions{})
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/local/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/local/bin/kubectl"), []byte("other kubectl"), 0o755)
	before := snapshot(t, root)
	var out bytes.Buffer
	res, err := installInto(t, root, bp, func(o *InstallOptions) { o.DryRun, o.DryRunOutput = true, &out })
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun {
		t.Error("result does not say dry run")
	}
	if d := diffSnapshots(before, snapshot(t, root)); d != "" {
		t.Fatalf("dry run changed the root:\n%s", d)
	}
	for _, want := range []string{
		"place /usr/local/bin/k3s 0755",
		"place /etc/rancher/k3s/config.yaml 0600",
		"link /usr/local/bin/crictl -> k3s",
		"write /var/lib/ferry/state.json",
		"/var/lib/rancher/k3s/server/manifests/ferry-chart-nfs.yaml",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "link /usr/local/bin/kubectl") {
		t.Error("dry run would replace an existing kubectl")
	}
}

// TestSignerRecorded: state.json and status name the key that verified the
// bundle; a bundle installed with the signature check skipped is recorded
// and shown as unsigned, never with the key id its manifest claims.
func TestSignerRecorded(t *testing.T) {
	_, verifier := keys(t)
	bp := writeBundle(t, bundleOptions{required: []string{"nfs.server"}})
	for _, skip := range []bool{false, true} {
		root := t.TempDir()
		_, err := installInto(t, root, bp, func(o *InstallOptions) {
			if skip {
				o.ReadOptions = []bundle.ReadOption{bundle.WithInsecureSkipSignature()}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := NewLocalHost(root)
		st, err := ReadState(context.Background(), h)
		if err != nil {
			t.Fatal(err)
		}
		want := verifier.KeyID()
		if skip {
			want = ""
		}
		if st.Bundle.KeyID != want || st.Bundle.Unsigned != skip {
			t.Errorf("skip=%v: recorded key id %q unsigned %v, want %q %v", skip, st.Bundle.KeyID, st.Bundle.Unsigned, want, skip)
		}
		s, err := ReadStatus(context.Background(), StatusOptions{Host: h})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		s.WriteText(&out)
		if got := strings.Contains(out.String(), "unsigned"); got != skip {
			t.Errorf("skip=%v: status says unsigned = %v:\n%s", skip, got, out.String())
		}
		if skip && strings.Contains(out.String(), verifier.KeyID()) {
			t.Errorf("status of an unchecked install shows the claimed key id:\n%s", out.String())
		}
	}
}
