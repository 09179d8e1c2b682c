package service

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// nodeList and podList are the few fields of `kubectl get -o json` output
// that WaitReady reads; client-go is deliberately not linked.
type nodeList struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status struct {
			Conditions []struct {
				Type    string `json:"type"`
				Status  string `json:"status"`
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"conditions"`
		} `json:"status"`
	} `json:"items"`
}

type podList struct {
	Items []struct {
		Metadata struct {
			Name            string     `json:"name"`
			OwnerReferences []ownerRef `json:"ownerReferences"`
		} `json:"metadata"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	} `json:"items"`
}

type ownerRef struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// nodeReady reports whether node is listed with Ready=True, and a short
// reason when it is not.
func nodeReady(out []byte, node string) (bool, string, error) {
	var l nodeList
	if err := json.Unmarshal(out, &l); err != nil {
		return false, "", fmt.Errorf("parse kubectl get nodes output: %w", err)
	}
	var names []string
	for _, n := range l.Items {
		names = append(names, n.Metadata.Name)
		if n.Metadata.Name != node {
			continue
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" {
				if c.Status == "True" {
					return true, "", nil
				}
				return false, fmt.Sprintf("node %s is not Ready (%s %s)", node, c.Reason, c.Message), nil
			}
		}
		return false, fmt.Sprintf("node %s has no Ready condition yet", node), nil
	}
	return false, fmt.Sprintf("node %s is not registered yet (nodes: %s)", node, strings.Join(names, ", ")), nil
}

// podsRunning counts kube-system pods that are Running or Succeeded. A
// Failed pod of a Job that has a Succeeded pod is a retry that no longer
// matters (k3s's helm-install jobs often fail once) and counts as done.
// It reports all pods done only when there is at least one pod.
func podsRunning(out []byte) (done, total int, waiting []string, err error) {
	var l podList
	if err := json.Unmarshal(out, &l); err != nil {
		return 0, 0, nil, fmt.Errorf("parse kubectl get pods output: %w", err)
	}
	succeededJobs := map[string]bool{}
	for _, p := range l.Items {
		if p.Status.Phase == "Succeeded" {
			for _, o := range p.Metadata.OwnerReferences {
				if o.Kind == "Job" {
					succeededJobs[o.Name] = true
				}
			}
		}
	}
	for _, p := range l.Items {
		total++
		switch p.Status.Phase {
		case "Running", "Succeeded":
			done++
			continue
		case "Failed":
			if slices.ContainsFunc(p.Metadata.OwnerReferences, func(o ownerRef) bool {
				return o.Kind == "Job" && succeededJobs[o.Name]
			}) {
				done++
				continue
			}
		}
		waiting = append(waiting, p.Metadata.Name+" "+p.Status.Phase)
	}
	return done, total, waiting, nil
}
