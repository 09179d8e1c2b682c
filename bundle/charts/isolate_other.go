//go:build !linux

package charts

import "syscall"

// workerSysProcAttr has nothing to add where the kernel cannot kill a
// child with its parent; the worker is still killed when the build stops.
func workerSysProcAttr() *syscall.SysProcAttr { return nil }
