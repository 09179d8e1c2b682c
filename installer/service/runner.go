package service

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs one command and returns its combined stdout and stderr. A
// command that ran and exited non-zero returns an error wrapping
// *ExitError, so that callers can tell "inactive" from "could not run".
type Runner interface {
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExitError reports a command that ran and exited with a non-zero status.
type ExitError struct {
	Command string
	Code    int
	Output  string
}

func (e *ExitError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("%s: exit status %d", e.Command, e.Code)
	}
	return fmt.Sprintf("%s: exit status %d: %s", e.Command, e.Code, out)
}

// LocalRunner runs commands on this host with os/exec.
type LocalRunner struct {
	// Env, when not nil, is the environment of every command (default: the
	// current process's).
	Env []string
}

// Run implements Runner.
func (r LocalRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = r.Env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return out, &ExitError{Command: commandLine(name, args), Code: ee.ExitCode(), Output: string(out)}
	}
	if err != nil {
		return out, fmt.Errorf("run %s: %w", commandLine(name, args), err)
	}
	return out, nil
}

func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}
