package charts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// maxListDepth bounds nested "kind: List" objects.
const maxListDepth = 4

// Images returns every container image that the rendered manifests run:
// the image of every container, initContainer and ephemeralContainer of
// every object with a pod spec (Pod, and anything with spec.template.spec
// or spec.jobTemplate.spec.template.spec: Deployment, StatefulSet,
// DaemonSet, ReplicaSet, Job, CronJob, ReplicationController, custom
// kinds), plus image-like words in container args, command and env values
// and in ConfigMap data, where charts such as Longhorn pass the images
// their operators start later.
//
// The result is sorted, without duplicates, in full form
// (docker.io/longhornio/longhorn-engine:v1.7.2). A container image field
// that is not a valid reference is an error naming the object.
func Images(manifests []byte) ([]string, error) {
	found := map[string]struct{}{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read manifest document %d: %w", n, err)
		}
		var v any
		if err := yaml.Unmarshal(doc, &v); err != nil {
			return nil, fmt.Errorf("parse manifest document %d: %w", n, err)
		}
		if err := objectImages(v, found, 0); err != nil {
			return nil, fmt.Errorf("manifest document %d: %w", n, err)
		}
	}
	out := make([]string, 0, len(found))
	for ref := range found {
		out = append(out, ref)
	}
	slices.Sort(out)
	return out, nil
}

// objectImages adds the images of one Kubernetes object to found.
func objectImages(v any, found map[string]struct{}, depth int) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	kind, _ := obj["kind"].(string)
	id := kind + "/" + str(path(obj, "metadata", "name"))
	if kind == "List" && depth < maxListDepth {
		items, _ := obj["items"].([]any)
		for _, item := range items {
			if err := objectImages(item, found, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if kind == "ConfigMap" {
		data, _ := obj["data"].(map[string]any)
		for _, val := range data {
			addText(found, str(val))
		}
		return nil
	}
	specs := []any{
		path(obj, "spec", "template", "spec"),
		path(obj, "spec", "jobTemplate", "spec", "template", "spec"),
	}
	if kind == "Pod" {
		specs = append(specs, obj["spec"])
	}
	for _, spec := range specs {
		if err := podSpecImages(spec, id, found); err != nil {
			return err
		}
	}
	return nil
}

// podSpecImages adds the images of a pod spec's containers to found.
func podSpecImages(v any, id string, found map[string]struct{}) error {
	spec, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			c, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if img, ok := c["image"].(string); ok {
				ref, err := normalizeImage(img)
				if err != nil {
					return fmt.Errorf("%s %s %q: %w: fix the chart values that set it", id, key, str(c["name"]), err)
				}
				found[ref] = struct{}{}
			}
			for _, field := range []string{"command", "args"} {
				words, _ := c[field].([]any)
				for _, w := range words {
					addText(found, str(w))
				}
			}
			env, _ := c["env"].([]any)
			for _, e := range env {
				if e, ok := e.(map[string]any); ok {
					addText(found, str(e["value"]))
				}
			}
		}
	}
	return nil
}

func addText(found map[string]struct{}, text string) {
	for _, ref := range imagesInText(text) {
		found[ref] = struct{}{}
	}
}

// path walks nested maps by key and returns nil when any step is missing.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// str returns v when it is a string, and "" otherwise.
func str(v any) string {
	s, _ := v.(string)
	return s
}
