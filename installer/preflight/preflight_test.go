package preflight

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-k3s/ferry/bundle"
)

func TestRunHealthyHost(t *testing.T) {
	for _, role := range []string{RoleServer, RoleAgent} {
		t.Run(role, func(t *testing.T) {
			r, err := Run(context.Background(), Options{Root: hostTree(t), Role: role, Manifest: testManifest(), EmbeddedEtcd: role == RoleServer})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Checks) != len(checks) {
				t.Fatalf("got %d checks, want %d", len(r.Checks), len(checks))
			}
			for _, c := range r.Checks {
				if c.Status != StatusPass || c.Fix != "" {
					t.Errorf("%s: %s %q (fix %q), want PASS without a fix", c.Name, c.Status, c.Detail, c.Fix)
				}
			}
			if r.Failed() || r.Err() != nil || r.SELinux {
				t.Errorf("healthy host: Failed=%v Err=%v SELinux=%v", r.Failed(), r.Err(), r.SELinux)
			}
		})
	}
}

// TestRunBrokenHost breaks one thing per case (testdata/<case> laid over
// testdata/healthy) and expects exactly that check to WARN or FAIL with the
// documented fix, every other check to PASS.
func TestRunBrokenHost(t *testing.T) {
	tests := []struct {
		tree     string
		role     string
		etcd     bool
		manifest *bundle.Manifest
		check    string // "" when every check must pass
		status   Status
		want     []string // substrings of Detail+Fix
	}{
		{tree: "os-unknown", check: "os-release", status: StatusWarn, want: []string{"Plan 9", "Ferry supports Ubuntu 20.04+, Debian 11+, RHEL/CentOS/Rocky/Alma 8+, SLES, openSUSE"}},
		{tree: "os-old", check: "os-release", status: StatusWarn, want: []string{"older than supported", "upgrade the OS"}},
		{tree: "cpu-single", check: "cpu", status: StatusWarn, want: []string{"1 CPU", "2 or more CPUs"}},
		{tree: "memory-low", check: "memory", status: StatusFail, want: []string{"390 MiB", "at least 512 MiB"}},
		{tree: "memory-agent-low", role: RoleAgent, check: "memory", status: StatusFail, want: []string{"195 MiB", "at least 256 MiB"}},
		{tree: "memory-low", role: RoleAgent, check: "memory", status: StatusWarn, want: []string{"2048 MiB or more"}},
		{tree: "memory-small", check: "memory", status: StatusWarn, want: []string{"976 MiB", "2048 MiB or more"}},
		{tree: "port-api", check: "ports", status: StatusFail, want: []string{"6443/tcp (the Kubernetes API)", "stop whatever listens on 6443/tcp"}},
		{tree: "port-api", role: RoleAgent},
		{tree: "port-vxlan", check: "ports", status: StatusFail, want: []string{"8472/udp", "stop whatever listens on 8472/udp"}},
		{tree: "port-etcd", etcd: true, check: "ports", status: StatusFail, want: []string{"2380/tcp (etcd peers)", "stop whatever listens on 2380/tcp"}},
		{tree: "port-etcd"},
		{tree: "swap", check: "swap", status: StatusWarn, want: []string{"/swap.img", "swapoff -a", "/etc/fstab"}},
		{tree: "firewalld", etcd: true, check: "firewall", status: StatusWarn, want: []string{"firewalld is enabled",
			"firewall-cmd --permanent --add-port=6443/tcp\n", "firewall-cmd --permanent --add-port=10250/tcp\n",
			"firewall-cmd --permanent --add-port=8472/udp\n", "firewall-cmd --permanent --add-port=2379-2380/tcp\n",
			"--zone=trusted --add-source=10.42.0.0/16", "--zone=trusted --add-source=10.43.0.0/16", "firewall-cmd --reload"}},
		{tree: "ufw", role: RoleAgent, check: "firewall", status: StatusWarn, want: []string{"ufw is enabled",
			"ufw allow 10250/tcp", "ufw allow 8472/udp", "ufw allow from 10.42.0.0/16 to any", "ufw allow from 10.43.0.0/16 to any"}},
		{tree: "no-timesync", check: "time-sync", status: StatusWarn, want: []string{"no time sync service", "chronyd"}},
		{tree: "hostname-localhost", check: "hostname", status: StatusFail, want: []string{`"localhost"`, "hostnamectl set-hostname"}},
		{tree: "hostname-invalid", check: "hostname", status: StatusFail, want: []string{`"edge_server" is not a valid node name`, "hostnamectl set-hostname"}},
		{tree: "hostname-empty", check: "hostname", status: StatusFail, want: []string{"empty", "hostnamectl set-hostname"}},
		{tree: "no-default-route", check: "default-route", status: StatusFail, want: []string{"no default route", "pick an unused address",
			"ip link add dummy0 type dummy; ip addr add 203.0.113.254/31 dev dummy0; ip route add default via 203.0.113.255 dev dummy0 metric 1000"}},
		{tree: "ipv6-route"},
		{tree: "no-nameserver", check: "nameservers", status: StatusWarn, want: []string{"k3s needs one", "nameserver 127.0.0.1"}},
		{tree: "modules-missing", check: "kernel-modules", status: StatusWarn, want: []string{"br_netfilter", "ExecStartPre", "modprobe overlay br_netfilter"}},
		{tree: "modules-builtin"},
		{tree: "cgroup-no-memory", check: "cgroups", status: StatusFail, want: []string{"cgroup v2", "memory", "cgroup_memory=1 cgroup_enable=memory", "Raspberry Pi"}},
		{tree: "cgroup-v1"},
		{tree: "cgroup-v1-no-memory", check: "cgroups", status: StatusFail, want: []string{"cgroup v1", "cgroup_memory=1 cgroup_enable=memory"}},
		{tree: "selinux-enforcing", check: "selinux", status: StatusFail, want: []string{"no k3s-selinux RPM", "k3s-selinux"}},
		{tree: "selinux-enforcing", manifest: selinuxManifest()},
		{tree: "existing-k3s", check: "existing-k3s", status: StatusFail, want: []string{"an existing k3s install was found", "/usr/local/bin/k3s, /etc/systemd/system/k3s.service",
			"use ferry-install upgrade, or uninstall it first"}},
		{tree: "existing-ferry", check: "existing-k3s", status: StatusFail, want: []string{StatePath, "ferry-install upgrade"}},
		{tree: "longhorn-missing", check: "longhorn", status: StatusWarn, want: []string{"iscsiadm", "mount.nfs",
			"open-iscsi nfs-common", "iscsi-initiator-utils nfs-utils"}},
		{tree: "longhorn-missing", manifest: &bundle.Manifest{Entries: testManifest().Entries}},
		{tree: "healthy", manifest: testManifest(bundle.Entry{Path: "zz/huge", Size: 1 << 60}), check: "disk", status: StatusFail,
			want: []string{"the bundle needs", "free at least"}},
	}
	for _, tt := range tests {
		role := tt.role
		if role == "" {
			role = RoleServer
		}
		name := tt.tree + "/" + role
		if tt.check == "" {
			name += "/pass"
		}
		t.Run(name, func(t *testing.T) {
			m := tt.manifest
			if m == nil {
				m = testManifest()
			}
			r, err := Run(context.Background(), Options{Root: hostTree(t, tt.tree), Role: role, EmbeddedEtcd: tt.etcd, Manifest: m})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range r.Checks {
				if c.Name != tt.check {
					if c.Status != StatusPass {
						t.Errorf("%s: %s %q, want PASS", c.Name, c.Status, c.Detail)
					}
					continue
				}
				if c.Status != tt.status {
					t.Errorf("%s: %s %q, want %s", c.Name, c.Status, c.Detail, tt.status)
				}
				if miss, ok := hasAll(c.Detail+"\n"+c.Fix+"\n", tt.want...); !ok {
					t.Errorf("%s: detail %q fix %q lack %q", c.Name, c.Detail, c.Fix, miss)
				}
				if c.Fix == "" {
					t.Errorf("%s: %s without a fix", c.Name, c.Status)
				}
			}
			if tt.check != "" {
				if _, ok := r.Check(tt.check); !ok {
					t.Fatalf("no %s check in the report", tt.check)
				}
			}
			if got, want := r.Failed(), tt.status == StatusFail; got != want {
				t.Errorf("Failed() = %v, want %v", got, want)
			}
		})
	}
}

func TestRunSELinuxWithPackage(t *testing.T) {
	r, err := Run(context.Background(), Options{Root: hostTree(t, "selinux-enforcing"), Role: RoleServer, Manifest: selinuxManifest()})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := r.Check("selinux")
	if c.Status != StatusPass || !strings.Contains(c.Detail, "selinux: true will be set") || !r.SELinux {
		t.Errorf("selinux: %s %q, SELinux=%v; want PASS noting selinux: true", c.Status, c.Detail, r.SELinux)
	}
}

func TestRunWithoutBundle(t *testing.T) {
	r, err := Run(context.Background(), Options{Root: hostTree(t, "selinux-enforcing"), Role: RoleServer})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Status{"disk": StatusWarn, "selinux": StatusWarn, "longhorn": StatusPass}
	for name, status := range want {
		if c, _ := r.Check(name); c.Status != status || !strings.Contains(c.Detail, "no bundle given") {
			t.Errorf("%s: %s %q, want %s saying no bundle given", name, c.Status, c.Detail, status)
		}
	}
	if r.Failed() {
		t.Errorf("no bundle: Failed() = true: %v", r.Err())
	}
}

// TestRunAlternateRoot checks that a disk image being prepared is not
// judged by the running host: runtime checks say "not checked", the rest
// read the tree.
func TestRunAlternateRoot(t *testing.T) {
	root := hostTree(t, "hostname-localhost")
	r, err := Run(context.Background(), Options{Root: root, Role: RoleServer, Manifest: testManifest(), AlternateRoot: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		got, _ := r.Check(c.name)
		switch {
		case c.runtime:
			if got.Status != StatusWarn || !strings.Contains(got.Detail, "not checked") {
				t.Errorf("%s: %s %q, want WARN not checked", c.name, got.Status, got.Detail)
			}
		case c.name == "hostname":
			if got.Status != StatusFail {
				t.Errorf("hostname: %s, want FAIL read from the alternate root", got.Status)
			}
		default:
			if got.Status != StatusPass {
				t.Errorf("%s: %s %q, want PASS", c.name, got.Status, got.Detail)
			}
		}
	}
}

func TestRunSkip(t *testing.T) {
	r, err := Run(context.Background(), Options{Root: hostTree(t, "existing-ferry"), Role: RoleServer, Manifest: testManifest(), Skip: []string{"existing-k3s"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Check("existing-k3s"); ok || r.Failed() {
		t.Errorf("skipped check still reported (failed=%v)", r.Failed())
	}
}

func TestRunBadOptions(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		opts Options
		want string
	}{
		{"no role", context.Background(), Options{Root: t.TempDir()}, `unknown role ""`},
		{"bad role", context.Background(), Options{Root: t.TempDir(), Role: "master"}, `unknown role "master": use "server" or "agent"`},
		{"agent with etcd", context.Background(), Options{Root: t.TempDir(), Role: RoleAgent, EmbeddedEtcd: true}, "embedded etcd is only for a server"},
		{"cancelled", cancelled, Options{Root: t.TempDir(), Role: RoleServer}, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Run(tt.ctx, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run = %v, %v; want error containing %q", r, err, tt.want)
			}
		})
	}
}

func TestReportErr(t *testing.T) {
	r := &Report{Checks: []Check{
		{Name: "memory", Status: StatusFail}, {Name: "swap", Status: StatusWarn}, {Name: "hostname", Status: StatusFail},
	}}
	err := r.Err()
	if !errors.Is(err, ErrPreflight) || !strings.Contains(err.Error(), "memory, hostname") {
		t.Errorf("Err() = %v, want ErrPreflight naming memory, hostname", err)
	}
	r.Checks[0].Status, r.Checks[2].Status = StatusPass, StatusWarn
	if err := r.Err(); err != nil || r.Failed() {
		t.Errorf("no FAIL: Err() = %v, Failed() = %v", err, r.Failed())
	}
}

// TestRunAlternateRootSymlinks checks that absolute symlinks in an
// alternate root are followed inside it, not out to the machine running
// the test.
func TestRunAlternateRootSymlinks(t *testing.T) {
	tests := []struct {
		name   string
		runDir bool // the link target exists under the root
		status Status
		want   string
	}{
		{"target in root", true, StatusPass, "nameservers 127.0.0.53"},
		{"target written at boot", false, StatusWarn, "not checked: /etc/resolv.conf points to /run/systemd/resolve/stub-resolv.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hostTree(t)
			conf := filepath.Join(root, "etc", "resolv.conf")
			if err := os.Remove(conf); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("/run/systemd/resolve/stub-resolv.conf", conf); err != nil {
				t.Fatal(err)
			}
			if tt.runDir {
				dir := filepath.Join(root, "run", "systemd", "resolve")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "stub-resolv.conf"), []byte("nameserver 127.0.0.53\noptions edns0\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			r, err := Run(context.Background(), Options{Root: root, Role: RoleServer, Manifest: testManifest(), AlternateRoot: true})
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := r.Check("nameservers"); c.Status != tt.status || !strings.Contains(c.Detail, tt.want) {
				t.Errorf("nameservers: %s %q, want %s %q", c.Status, c.Detail, tt.status, tt.want)
			}
		})
	}
}
