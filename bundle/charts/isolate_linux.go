package charts

import "syscall"

// workerSysProcAttr makes the kernel kill the render worker when ferry
// dies, so that no runaway render outlives the build.
func workerSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
