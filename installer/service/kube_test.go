package service

import (
	"strings"
	"testing"
)

func TestNodeReady(t *testing.T) {
	tests := []struct {
		name, json, node string
		want             bool
		why              string
		wantErr          bool
	}{
		{name: "ready", node: "n1", want: true,
			json: `{"items":[{"metadata":{"name":"n1"},"status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}]}}]}`},
		{name: "not ready", node: "n1", why: "KubeletNotReady",
			json: `{"items":[{"metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"KubeletNotReady"}]}}]}`},
		{name: "other node ready", node: "n1", why: "not registered",
			json: `{"items":[{"metadata":{"name":"n2"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}`},
		{name: "no condition", node: "n1", why: "no Ready condition", json: `{"items":[{"metadata":{"name":"n1"}}]}`},
		{name: "garbage", node: "n1", json: `No resources found`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why, err := nodeReady([]byte(tt.json), tt.node)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want || !strings.Contains(why, tt.why) {
				t.Errorf("nodeReady = %v %q, want %v %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestPodsRunning(t *testing.T) {
	pod := func(name, phase, job string) string {
		owner := ""
		if job != "" {
			owner = `,"ownerReferences":[{"kind":"Job","name":"` + job + `"}]`
		}
		return `{"metadata":{"name":"` + name + `"` + owner + `},"status":{"phase":"` + phase + `"}}`
	}
	list := func(pods ...string) string { return `{"items":[` + strings.Join(pods, ",") + `]}` }
	tests := []struct {
		name        string
		json        string
		done, total int
	}{
		{name: "all running", json: list(pod("coredns", "Running", ""), pod("helm-install-traefik", "Succeeded", "helm-install-traefik")), done: 2, total: 2},
		{name: "one pending", json: list(pod("coredns", "Running", ""), pod("metrics", "Pending", "")), done: 1, total: 2},
		{name: "failed job retry that later succeeded", json: list(pod("a", "Failed", "helm-install-x"), pod("b", "Succeeded", "helm-install-x")), done: 2, total: 2},
		{name: "failed job without success", json: list(pod("a", "Failed", "helm-install-x")), done: 0, total: 1},
		{name: "no pods", json: list(), done: 0, total: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, total, waiting, err := podsRunning([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			if done != tt.done || total != tt.total || len(waiting) != total-done {
				t.Errorf("podsRunning = %d/%d waiting %v, want %d/%d", done, total, waiting, tt.done, tt.total)
			}
		})
	}
}
