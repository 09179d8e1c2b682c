package charts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// errRenderTimeout is the cause of a render stopped by Limits.Timeout.
var errRenderTimeout = errors.New("render timeout")

// maxWorkerStderr bounds what is kept of the worker's stderr (a Go crash
// prints every goroutine's stack).
const maxWorkerStderr = 64 << 10

// renderIsolated runs renderInProcess in a worker process (see worker.go)
// and returns its manifests, killing the worker when it passes a limit or
// ctx is done. Reading stops one byte past MaxOutput, so a runaway render
// never costs this process more than that.
func renderIsolated(ctx context.Context, archivePath string, opts RenderOptions) ([]byte, error) {
	name := filepath.Base(archivePath)
	lim, err := opts.Limits.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", name, err)
	}
	req := renderRequest{
		Archive: archivePath, ReleaseName: opts.ReleaseName, Namespace: opts.Namespace,
		KubeVersion: opts.KubeVersion, APIVersions: opts.APIVersions, MaxMemory: lim.MaxMemory,
	}
	if opts.Values != nil {
		if req.Values, err = json.Marshal(opts.Values); err != nil {
			return nil, fmt.Errorf("render chart %s: encode values: %w", name, err)
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", name, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("render chart %s: find this program to run the render worker: %w", name, err)
	}

	ctx, cancel := context.WithTimeoutCause(ctx, lim.Timeout, errRenderTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+workerMagic)
	cmd.Stdin = bytes.NewReader(body)
	stderr := &cappedBuffer{max: maxWorkerStderr}
	cmd.Stderr = stderr
	cmd.SysProcAttr = workerSysProcAttr()
	cmd.WaitDelay = time.Second // a killed worker's pipes close at once; never wait longer
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(context.Cause(ctx), errRenderTimeout) {
			return nil, timeoutError(name, lim)
		}
		return nil, fmt.Errorf("render chart %s: start the render worker: %w", name, err)
	}
	out, readErr := io.ReadAll(io.LimitReader(stdout, lim.MaxOutput+1))
	tooLong := int64(len(out)) > lim.MaxOutput
	if tooLong {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case tooLong:
		return nil, fmt.Errorf("render chart %s: more than %s of manifests, the limit per chart: a template repeats without end, or the chart is far larger than usual; fix the chart or its values, or raise --render-max-output", name, mib(lim.MaxOutput))
	case errors.Is(context.Cause(ctx), errRenderTimeout):
		return nil, timeoutError(name, lim)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("render chart %s: %w", name, context.Cause(ctx))
	case errors.As(waitErr, &exit) && (exit.ExitCode() == exitMemory || strings.Contains(stderr.String(), "out of memory")):
		return nil, fmt.Errorf("render chart %s: needed more than %s of memory, the limit per chart: a template builds something huge; fix the chart or its values, or raise --render-max-memory", name, mib(lim.MaxMemory))
	case waitErr != nil:
		msg := oneLine(stderr.String())
		if msg == "" {
			msg = waitErr.Error()
		}
		if !strings.HasPrefix(msg, "render chart ") {
			msg = "render chart " + name + ": " + msg
		}
		return nil, errors.New(msg)
	case readErr != nil:
		return nil, fmt.Errorf("render chart %s: read the render worker's output: %w", name, readErr)
	}
	return out, nil
}

// timeoutError is the error of a render stopped by Limits.Timeout.
func timeoutError(name string, lim Limits) error {
	return fmt.Errorf("render chart %s: still rendering after %s, the limit per chart: a template loops, or the chart is far larger than usual; fix the chart or its values, or raise --render-timeout", name, lim.Timeout)
}

// oneLine joins the non-empty lines of s with "; ", and keeps only the
// first line of a Go crash (its goroutine dump follows).
func oneLine(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if strings.HasPrefix(l, "goroutine ") {
			break
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "; ")
}

// cappedBuffer keeps the first max bytes written to it and drops the rest.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return b.buf.String() }
