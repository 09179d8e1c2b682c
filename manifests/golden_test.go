package manifests

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// Secrets used by the cases; none may appear outside the env file.
const (
	testToken = "K10-test-token::server:5ecret"
	testDSN   = `postgres://k3s:p4ss'w"$rd@db.example:5432/k3s`
)

// goldenCase is one node whose every generated file is compared with
// testdata/golden/<name>/.
type goldenCase struct {
	name string
	node Node
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"single-server", Node{Role: RoleServer, Token: testToken}},
		{"ha-first-server", Node{Role: RoleServer, ClusterInit: true, Token: testToken}},
		{"ha-join-server", Node{Role: RoleServer, Server: "https://192.0.2.10:6443", Token: testToken}},
		{"external-datastore", Node{Role: RoleServer, DatastoreEndpoint: testDSN, Token: testToken}},
		{"agent", Node{Role: RoleAgent, Server: "https://192.0.2.10:6443", Token: testToken}},
		{"agent-full", Node{
			Role:            RoleAgent,
			Server:          "https://192.0.2.10:6443",
			Token:           testToken,
			NodeLabels:      []string{"topology.kubernetes.io/zone=hall-b", "ferry.k3s.io/site=plant-7"},
			NodeTaints:      []string{"dedicated=gpu:NoSchedule"},
			SELinux:         true,
			RegistryMirrors: []string{"registry.plant-7.example:5000", "http://10.20.0.5:5000"},
			Extra:           map[string]any{"node-ip": "192.0.2.21", "kubelet-arg": []any{"max-pods=250"}},
			DataDir:         "/srv/k3s",
		}},
		{"server-full", Node{
			Role:            RoleServer,
			ClusterInit:     true,
			Token:           testToken,
			TLSSANs:         []string{"k3s.plant-7.example", "192.0.2.100"},
			NodeLabels:      []string{"ferry.k3s.io/site=plant-7"},
			NodeTaints:      []string{"CriticalAddonsOnly=true:NoExecute"},
			RegistryMirrors: []string{"registry.plant-7.example:5000"},
			Extra: map[string]any{
				"disable":            []any{"servicelb"},
				"cluster-cidr":       "10.52.0.0/16",
				"embedded-registry":  true,
				"secrets-encryption": true,
			},
		}},
	}
}

// generate renders every file of a node, keyed by its golden file name.
func generate(t *testing.T, tm *Templates, n Node) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	cfg, err := tm.Config(n)
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	files["config.yaml"] = cfg
	if reg, ok, err := tm.Registries(n); err != nil {
		t.Fatalf("Registries: %v", err)
	} else if ok {
		files["registries.yaml"] = reg
	}
	for _, f := range []func(Node) (string, []byte, error){tm.Unit, tm.Env} {
		name, body, err := f(n)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = body
	}
	name, body, err := tm.OpenRC(n)
	if err != nil {
		t.Fatalf("OpenRC: %v", err)
	}
	files["init.d/"+name] = body
	name, body, err = tm.Uninstall(n, placedFiles(n))
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	files[name] = body
	return files
}

// placedFiles is what an installer would have placed for n.
func placedFiles(n Node) []string {
	files := []string{BinDir + "/k3s", BinDir + "/kubectl", ConfigPath, n.UnitPath(), n.EnvPath(), KillallPath, n.UninstallPath()}
	if len(n.RegistryMirrors) > 0 {
		files = append(files, RegistriesPath)
	}
	return files
}

// compareGolden compares got with testdata/golden/<dir>/<name>, or writes it
// under -update.
func compareGolden(t *testing.T, dir, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", dir, filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read golden file (run go test ./manifests -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (run go test ./manifests -update after checking the change):\n--- got ---\n%s\n--- want ---\n%s", name, p, got, want)
	}
}

func TestGolden(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			files := generate(t, tm, c.node)
			for name, body := range files {
				compareGolden(t, c.name, name, body)
			}
			if !*update {
				// Every golden file of the case is still generated.
				var stale []string
				root := filepath.Join("testdata", "golden", c.name)
				err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					rel, _ := filepath.Rel(root, p)
					if _, ok := files[filepath.ToSlash(rel)]; !ok {
						stale = append(stale, rel)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(stale) > 0 {
					t.Errorf("golden files no longer generated: %v", stale)
				}
			}
		})
	}
	t.Run("killall", func(t *testing.T) {
		b, err := tm.Killall()
		if err != nil {
			t.Fatal(err)
		}
		compareGolden(t, "killall", "k3s-killall.sh", b)
	})
}

// TestSecretsOnlyInEnv asserts that the token and datastore endpoint appear
// in the env file and in no other generated file.
func TestSecretsOnlyInEnv(t *testing.T) {
	tm, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			files := generate(t, tm, c.node)
			for name, body := range files {
				for _, secret := range []string{c.node.Token, c.node.DatastoreEndpoint} {
					if secret == "" {
						continue
					}
					inEnv := strings.HasSuffix(name, ".service.env")
					// The env file quotes the value, so look for a part
					// that needs no escaping.
					probe := secret[:12]
					if got := bytes.Contains(body, []byte(probe)); got != inEnv {
						t.Errorf("%s: contains secret %q = %v, want %v", name, probe, got, inEnv)
					}
				}
			}
			for _, key := range []string{"token", "datastore-endpoint", "agent-token"} {
				if bytes.Contains(files["config.yaml"], []byte(key+":")) {
					t.Errorf("config.yaml has key %s", key)
				}
			}
		})
	}
}
