package charts

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// The render worker is the same executable as its parent (ferry, or a test
// binary), started with workerEnv set: this package's init then renders one
// chart and exits before main runs. Every binary that calls Render links
// this package, so every such binary can be its own worker; nothing has to
// be installed beside it.
const (
	workerEnv   = "FERRY_CHART_RENDER_WORKER"
	workerMagic = "render-v1"
	// exitRenderFailed: the chart does not render; stderr has the error.
	exitRenderFailed = 1
	// exitMemory: the render passed MaxMemory.
	exitMemory = 3
	// maxRequest bounds the request read from stdin (values included).
	maxRequest = 64 << 20
	// heapPoll is how often the worker checks its heap.
	heapPoll = 5 * time.Millisecond
)

func init() {
	if os.Getenv(workerEnv) == workerMagic {
		os.Exit(serveRender(os.Stdin, os.Stdout, os.Stderr))
	}
}

// renderRequest is what the parent sends the worker on stdin.
type renderRequest struct {
	Archive     string          `json:"archive"`
	ReleaseName string          `json:"releaseName,omitempty"`
	Namespace   string          `json:"namespace,omitempty"`
	KubeVersion string          `json:"kubeVersion,omitempty"`
	Values      json.RawMessage `json:"values,omitempty"`
	APIVersions []string        `json:"apiVersions,omitempty"`
	MaxMemory   int64           `json:"maxMemory"`
}

// serveRender is the worker: it reads one request, renders the chart to
// out and returns the process exit code. It stops the process itself, with
// exitMemory, as soon as its heap passes the request's MaxMemory.
func serveRender(in io.Reader, out, errw io.Writer) int {
	var req renderRequest
	if err := json.NewDecoder(io.LimitReader(in, maxRequest)).Decode(&req); err != nil {
		fmt.Fprintf(errw, "chart render worker: read request: %v\n", err)
		return exitRenderFailed
	}
	values, err := decodeValues(req.Values)
	if err != nil {
		fmt.Fprintf(errw, "chart render worker: %v\n", err)
		return exitRenderFailed
	}
	if req.MaxMemory > 0 {
		// The GC works harder as memory nears the limit, so that garbage
		// is collected before it is mistaken for a runaway render.
		debug.SetMemoryLimit(req.MaxMemory)
		go watchHeap(uint64(req.MaxMemory), func() {
			fmt.Fprintf(errw, "memory passed %d bytes\n", req.MaxMemory)
			os.Exit(exitMemory)
		})
	}
	manifest, err := renderInProcess(context.Background(), req.Archive, RenderOptions{
		ReleaseName: req.ReleaseName, Namespace: req.Namespace, KubeVersion: req.KubeVersion,
		Values: values, APIVersions: req.APIVersions,
	})
	if err != nil {
		fmt.Fprintln(errw, err)
		return exitRenderFailed
	}
	if _, err := out.Write(manifest); err != nil {
		fmt.Fprintf(errw, "chart render worker: write manifests: %v\n", err)
		return exitRenderFailed
	}
	return 0
}

// watchHeap calls over once the memory the Go runtime holds for the
// worker (heap, stacks and runtime structures, less what it has returned
// to the kernel; the measure GOMEMLIMIT uses) passes limit bytes. Large
// allocations count at once, so a template that asks for gigabytes in one
// call is stopped before it touches them.
func watchHeap(limit uint64, over func()) {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 && s[0].Value.Uint64()-s[1].Value.Uint64() > limit {
			over()
			return
		}
		time.Sleep(heapPoll)
	}
}

// decodeValues reads the values tree, keeping integers integers (as the
// spec parser gives them) instead of JSON's float64.
func decodeValues(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode values: %w", err)
	}
	m, _ := numbers(v).(map[string]any)
	return m, nil
}

// numbers replaces each json.Number in a values tree by an int64 when it is
// an integer, else a float64.
func numbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = numbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbers(e)
		}
	case json.Number:
		if !strings.ContainsAny(string(v), ".eE") {
			if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				return i
			}
		}
		f, _ := v.Float64()
		return f
	}
	return v
}
