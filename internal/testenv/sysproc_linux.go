package testenv

import "syscall"

// sysProcAttr puts the child in its own process group (so Stop can signal
// the whole group) and has the kernel kill it when this process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
