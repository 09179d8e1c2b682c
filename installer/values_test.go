package installer

import (
	"reflect"
	"strings"
	"testing"
)

func TestSiteValuesSet(t *testing.T) {
	tests := []struct {
		expr    string
		want    SiteValues
		wantErr string
	}{
		{"nfs.nfs.server=10.0.0.5", SiteValues{"nfs": {"nfs": map[string]any{"server": "10.0.0.5"}}}, ""},
		{"longhorn.defaultSettings.defaultReplicaCount=2", SiteValues{"longhorn": {"defaultSettings": map[string]any{"defaultReplicaCount": int64(2)}}}, ""},
		{"c.enabled=true", SiteValues{"c": {"enabled": true}}, ""},
		{"c.enabled=false", SiteValues{"c": {"enabled": false}}, ""},
		{"c.x=null", SiteValues{"c": {"x": nil}}, ""},
		{"c.mode=0755", SiteValues{"c": {"mode": "0755"}}, ""},
		{"c.v=1.5", SiteValues{"c": {"v": "1.5"}}, ""},
		{"c.list=a,b", SiteValues{"c": {"list": "a,b"}}, ""},
		{"c.eq=a=b", SiteValues{"c": {"eq": "a=b"}}, ""},
		{"c.empty=", SiteValues{"c": {"empty": ""}}, ""},
		{"novalue", nil, "CHART.KEY=VALUE"},
		{"chartonly=1", nil, "name a chart and a key"},
		{".key=1", nil, "name a chart and a key"},
		{"c.a..b=1", nil, "empty step"},
		{"c.a.=1", nil, "empty step"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			v := SiteValues{}
			err := v.Set(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Fatalf("got %#v, want %#v", v, tt.want)
			}
		})
	}
}

func TestSiteValuesLayering(t *testing.T) {
	v := SiteValues{}
	if err := v.AddYAML("nfs", []byte("nfs:\n  server: a\n  path: /x\nreplicas: 1\n")); err != nil {
		t.Fatal(err)
	}
	if err := v.AddYAML("nfs", []byte("nfs:\n  server: b\n")); err != nil {
		t.Fatal(err)
	}
	if err := v.Set("nfs.nfs.path=/y"); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"nfs": map[string]any{"server": "b", "path": "/y"}, "replicas": float64(1)}
	if !reflect.DeepEqual(v["nfs"], want) {
		t.Fatalf("got %#v, want %#v", v["nfs"], want)
	}
	if err := v.AddYAML("nfs", []byte("- a list\n")); err == nil {
		t.Fatal("a YAML list was accepted as values")
	}
	for _, bad := range []string{"nofile", "=f", "c="} {
		if _, _, err := ParseValuesFlag(bad); err == nil {
			t.Errorf("--values %q accepted", bad)
		}
	}
}

// FuzzSetValue checks that Set never panics and that a value it accepts
// can be read back at its path.
func FuzzSetValue(f *testing.F) {
	for _, s := range []string{"c.a=1", "c.a.b=true", "c.a=", "c..a=1", "c.a=x=y", "=", "c.a.b.c.d=null", "c.a=007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		v := SiteValues{}
		if err := v.Set(expr); err != nil {
			return
		}
		lhs, val, _ := strings.Cut(expr, "=")
		chart, key, _ := strings.Cut(lhs, ".")
		cur := any(v[chart])
		for _, step := range strings.Split(key, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("%q: %s is not a map in %#v", expr, step, v)
			}
			cur = m[step]
		}
		if got := typedValue(val); !reflect.DeepEqual(cur, got) {
			t.Fatalf("%q: read back %#v, want %#v", expr, cur, got)
		}
	})
}
