package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// kubectl answers the two queries the installer makes; anything else is an
// error so that a test notices a query the stand-in does not model.
func kubectl(e *standinEnv, args []string, out io.Writer) error {
	if !exists(e.path(kubeconfigPath)) {
		return errors.New("The connection to the server localhost:8080 was refused - did you specify the right host or port?")
	}
	ready := exists(e.readyFile())
	words := strings.Join(args, " ")
	switch {
	case len(args) >= 2 && args[0] == "get" && (args[1] == "nodes" || args[1] == "node") && slices.Contains(args, "json"):
		return json.NewEncoder(out).Encode(nodeList(e.nodeName, ready))
	case len(args) >= 2 && args[0] == "get" && (args[1] == "pods" || args[1] == "pod") && strings.Contains(words, "kube-system") && slices.Contains(args, "json"):
		return json.NewEncoder(out).Encode(podList(ready))
	}
	return fmt.Errorf("kubectl %s: not modelled by the stand-in (supported: get nodes -o json, get pods -n kube-system -o json)", words)
}

type object = map[string]any

func nodeList(name string, ready bool) object {
	status, reason := "False", "KubeletNotReady"
	if ready {
		status, reason = "True", "KubeletReady"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	node := object{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   object{"name": name, "labels": object{"kubernetes.io/hostname": name}},
		"status": object{
			"conditions": []object{{
				"type": "Ready", "status": status, "reason": reason,
				"lastHeartbeatTime": now, "lastTransitionTime": now,
			}},
			"nodeInfo": object{"kubeletVersion": version},
		},
	}
	return object{"apiVersion": "v1", "kind": "List", "items": []object{node}}
}

func podList(ready bool) object {
	phase := "Pending"
	if ready {
		phase = "Running"
	}
	var items []object
	for _, name := range []string{"coredns-6799fbcd5-standin", "local-path-provisioner-6c86858495-standin", "metrics-server-54fd9b65b-standin"} {
		items = append(items, object{
			"apiVersion": "v1",
			"kind":       "Pod",
			"metadata":   object{"name": name, "namespace": "kube-system"},
			"status":     object{"phase": phase},
		})
	}
	return object{"apiVersion": "v1", "kind": "List", "items": items}
}
