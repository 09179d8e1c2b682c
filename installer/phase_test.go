package installer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// recorder is a phase that logs what happens to it.
type recorder struct {
	name    string
	log     *[]string
	fail    bool
	undoErr error
	skip    bool
}

func (r *recorder) Title() string { return r.name }
func (r *recorder) Run(context.Context) error {
	*r.log = append(*r.log, "run "+r.name)
	if r.fail {
		return errors.New(r.name + " broke")
	}
	return nil
}
func (r *recorder) DryRun(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, "would "+r.name+"\n")
	return err
}
func (r *recorder) Undo(context.Context) error {
	*r.log = append(*r.log, "undo "+r.name)
	return r.undoErr
}
func (r *recorder) ShouldRun() bool { return !r.skip }

func TestManager(t *testing.T) {
	tests := []struct {
		name       string
		phases     func(log *[]string) []Phase
		want       string
		rolledBack bool
		wantErr    bool
	}{
		{
			name: "all run",
			phases: func(l *[]string) []Phase {
				return []Phase{&recorder{name: "a", log: l}, &recorder{name: "b", log: l}}
			},
			want: "run a,run b",
		},
		{
			name: "failure undoes in reverse, including the failed phase",
			phases: func(l *[]string) []Phase {
				return []Phase{&recorder{name: "a", log: l}, &recorder{name: "s", log: l, skip: true}, &recorder{name: "b", log: l}, &recorder{name: "c", log: l, fail: true}, &recorder{name: "d", log: l}}
			},
			want: "run a,run b,run c,undo c,undo b,undo a", rolledBack: true, wantErr: true,
		},
		{
			name: "a failed undo is not a clean rollback",
			phases: func(l *[]string) []Phase {
				return []Phase{&recorder{name: "a", log: l, undoErr: errors.New("stuck")}, &recorder{name: "b", log: l, fail: true}}
			},
			want: "run a,run b,undo b,undo a", wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log []string
			err := (&Manager{Phases: tt.phases(&log)}).Run(context.Background())
			if got := strings.Join(log, ","); got != tt.want {
				t.Errorf("calls %s, want %s", got, tt.want)
			}
			if (err != nil) != tt.wantErr || errors.Is(err, ErrRolledBack) != tt.rolledBack {
				t.Errorf("error %v: want error %v, rolled back %v", err, tt.wantErr, tt.rolledBack)
			}
		})
	}
	var log []string
	var out bytes.Buffer
	m := &Manager{Phases: []Phase{&recorder{name: "a", log: &log}, &recorder{name: "s", log: &log, skip: true}}}
	if err := m.DryRun(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	if len(log) != 0 || !strings.Contains(out.String(), "would a") || strings.Contains(out.String(), "would s") {
		t.Errorf("dry run ran %v and printed %q", log, out.String())
	}
}

func TestJoinCommands(t *testing.T) {
	tests := []struct {
		name         string
		res          InstallResult
		addr         string
		server, agnt string
	}{
		{"cluster-init", InstallResult{Role: "server", Token: "T", Node: NodeRecord{ClusterInit: true}}, "10.0.0.1",
			"ferry-install server --join https://10.0.0.1:6443 --token T --bundle b --key k",
			"ferry-install agent --server https://10.0.0.1:6443 --token T --bundle b --key k"},
		{"sqlite server: agents only", InstallResult{Role: "server", Token: "T"}, AddressPlaceholder,
			"", "ferry-install agent --server 'https://<THIS-NODE-IP>:6443' --token T --bundle b --key k"},
		{"ipv6", InstallResult{Role: "server", Token: "T", Node: NodeRecord{Server: "https://x:6443"}}, "fd00::1",
			"ferry-install server --join 'https://[fd00::1]:6443' --token T --bundle b --key k",
			"ferry-install agent --server 'https://[fd00::1]:6443' --token T --bundle b --key k"},
		{"hostile values are quoted", InstallResult{Role: "server", Token: "T'; rm -rf / #", Node: NodeRecord{ClusterInit: true}}, "10.0.0.9 --token x",
			`ferry-install server --join 'https://10.0.0.9 --token x:6443' --token 'T'\''; rm -rf / #' --bundle b --key k`,
			`ferry-install agent --server 'https://10.0.0.9 --token x:6443' --token 'T'\''; rm -rf / #' --bundle b --key k`},
		{"agent", InstallResult{Role: "agent", Token: "T"}, "10.0.0.2", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, a := tt.res.JoinCommands(JoinOptions{Address: tt.addr, Bundle: "b", Key: "k"})
			if s != tt.server || a != tt.agnt {
				t.Errorf("got\n%q\n%q\nwant\n%q\n%q", s, a, tt.server, tt.agnt)
			}
		})
	}
	h, _ := NewLocalHost(t.TempDir())
	if got := NodeAddress(context.Background(), h, nil); got != AddressPlaceholder {
		t.Errorf("alternate root address %q, want the placeholder", got)
	}
	if got := NodeAddress(context.Background(), h, []string{"k3s.example"}); got != "k3s.example" {
		t.Errorf("address %q, want the first TLS SAN", got)
	}
}
